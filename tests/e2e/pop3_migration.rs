//! After a migration from Dovecot, POP3 clients see the UIDLs they knew:
//! Dovecot's default form (`%08Xu%08Xv`) from the UIDs and UIDVALIDITY
//! the store takes over from `dovecot-uidlist`, and the UIDL Dovecot
//! recorded in a line's `P` field where there is one.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use crate::harness::{MAIL_GID, MAIL_UID, TestDir, pop3};

const PASS: &str = "pop3-migrated-4";

fn own(path: &std::path::Path) {
    if nix::unistd::Uid::effective().is_root() {
        nix::unistd::chown(
            path,
            Some(nix::unistd::Uid::from_raw(MAIL_UID)),
            Some(nix::unistd::Gid::from_raw(MAIL_GID)),
        )
        .expect("chown to the mail uid");
    }
}

#[test]
fn pop3_keeps_the_uidls_dovecot_gave() {
    let dir = TestDir::new();
    let (server, _) = pop3::start(&dir, "");
    server.add_user("alice", PASS);
    // A Maildir as Dovecot left it, before mailkeep ever opened it.
    let maildir = dir.maildir("alice");
    let home = dir.home("alice");
    for d in [home.clone(), maildir.clone()] {
        fs::create_dir_all(&d).expect("mkdir");
        fs::set_permissions(&d, fs::Permissions::from_mode(0o700)).expect("chmod");
        own(&d);
    }
    for sub in ["cur", "new", "tmp"] {
        let d = maildir.join(sub);
        fs::create_dir_all(&d).expect("mkdir");
        own(&d);
    }
    let files = ["1600000000.M1P1.old:2,S", "1600000001.M2P1.old:2,S"];
    for (i, name) in files.iter().enumerate() {
        let path = maildir.join("cur").join(name);
        fs::write(&path, format!("Subject: old {i}\r\n\r\nbody {i}\r\n")).expect("message");
        own(&path);
    }
    let uidlist = maildir.join("dovecot-uidlist");
    fs::write(
        &uidlist,
        "3 V1234567 N40 G0\n\
         17 :1600000000.M1P1.old\n\
         23 Pfrom-uw-imap-000042 :1600000001.M2P1.old\n",
    )
    .expect("uidlist");
    own(&uidlist);

    let mut c = pop3::login(&server, "alice", PASS);
    let (status, body) = c.multiline("UIDL").expect("UIDL");
    assert!(status.is_ok(), "{status:?}");
    assert_eq!(
        pop3::Plain::lines(&body),
        vec![
            format!("1 {:08X}{:08X}", 17, 1_234_567),
            "2 from-uw-imap-000042".to_owned(),
        ],
        "{}",
        server.logs()
    );
    assert!(c.command("QUIT").expect("QUIT").is_ok());
}
