//! Where an account's mail is and what it finds there at first login: a
//! users-file entry with Dovecot's `userdb_mail=maildir:~/...` is served
//! from that Maildir (a Dovecot users file and mail tree work unchanged),
//! and every account gets Drafts, Sent, Trash and Junk with their
//! special-use attributes, subscribed.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use mailkeep_testkit::{Reply, Status};

use crate::harness::{Server, TestDir, require_root};

/// Gives `user`'s users-file line the extra fields `extra` (the line's
/// eighth field), as an administrator editing a Dovecot users file would.
fn set_extra_fields(dir: &TestDir, user: &str, extra: &str) {
    let path = dir.users_file();
    let text = std::fs::read_to_string(&path).expect("reading the users file");
    let edited: Vec<String> = text
        .lines()
        .map(|line| {
            if !line.starts_with(&format!("{user}:")) {
                return line.to_owned();
            }
            let mut fields: Vec<&str> = line.splitn(8, ':').collect();
            fields.resize(8, "");
            fields[7] = extra;
            fields.join(":")
        })
        .collect();
    std::fs::write(&path, edited.join("\n") + "\n").expect("writing the users file");
}

/// Makes `dir` and its parents below `top` owned by the mail uid (as the
/// storage process runs as it), mode 0700.
fn give_to_mail_uid(top: &Path, dir: &Path) {
    for d in dir.ancestors().take_while(|a| a.starts_with(top)) {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        nix::unistd::chown(
            d,
            Some(nix::unistd::Uid::from_raw(5000)),
            Some(nix::unistd::Gid::from_raw(5000)),
        )
        .expect("chown");
    }
}

fn untagged_with(r: &Reply, start: &str) -> Vec<String> {
    r.responses
        .iter()
        .map(|u| u.text())
        .filter(|t| t.to_ascii_uppercase().starts_with(start))
        .collect()
}

#[test]
fn a_dovecot_userdb_mail_location_is_served_from_that_maildir() {
    if !require_root("a_dovecot_userdb_mail_location_is_served_from_that_maildir") {
        return;
    }
    let dir = TestDir::new();
    let server = Server::start(&dir);
    server.add_user("dove", "d-secret");
    set_extra_fields(&dir, "dove", "userdb_mail=maildir:~/Mail/box");

    // A message Dovecot (or procmail) left in that Maildir.
    let home = dir.home("dove");
    let maildir = home.join("Mail/box");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).expect("making the Maildir");
    }
    let message = b"From: old@example.org\r\nSubject: from dovecot\r\n\r\nkept as it was\r\n";
    let file = maildir.join("cur/1700000000.M1P1.oldhost:2,S");
    std::fs::write(&file, message).expect("placing a message");
    for sub in ["cur", "new", "tmp"] {
        give_to_mail_uid(&home, &maildir.join(sub));
    }
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    nix::unistd::chown(
        &file,
        Some(nix::unistd::Uid::from_raw(5000)),
        Some(nix::unistd::Gid::from_raw(5000)),
    )
    .expect("chown");

    let mut c = server.login("dove", "d-secret");
    let r = c.ok("SELECT INBOX");
    assert_eq!(r.exists(), Some(1), "{r:?}");
    let r = c.ok("FETCH 1 RFC822");
    let body = r
        .fetches()
        .first()
        .and_then(|f| f.bytes("RFC822"))
        .map(<[u8]>::to_vec);
    assert_eq!(body.as_deref(), Some(&message[..]), "{r:?}");
    let appended = c
        .append("INBOX", &[], b"Subject: new\r\n\r\nwritten by mailkeep\r\n")
        .expect("APPEND");
    assert!(appended.is_ok(), "{appended:?}");
    c.logout();

    // The index lives beside the messages, as Dovecot's does; nothing went
    // to the default <home>/Maildir.
    let index = maildir.join("mailkeep.index.sqlite");
    assert_eq!(std::fs::metadata(&index).expect("index").uid(), 5000);
    crate::harness::files_in(&maildir.join("cur"), 2);
    assert!(!home.join("Maildir").exists());
}

#[test]
fn a_mail_location_mailkeep_cannot_serve_is_refused_at_login() {
    let dir = TestDir::new();
    let server = Server::start(&dir);
    server.add_user("mboxer", "m-secret");
    set_extra_fields(
        &dir,
        "mboxer",
        "userdb_mail=mbox:~/mail:INBOX=/var/mail/mboxer",
    );
    let mut c = server.connect();
    let r = c.login("mboxer", "m-secret").expect("LOGIN");
    let r = if r.is_ok() {
        c.run("SELECT INBOX").expect("SELECT")
    } else {
        r
    };
    assert_eq!(r.status(), Status::No, "{r:?}");
    assert!(!dir.home("mboxer").join("Maildir").exists());
}

#[test]
fn every_account_gets_drafts_sent_trash_and_junk_at_first_login() {
    let dir = TestDir::new();
    let server = Server::start(&dir);
    server.add_user("fresh", "f-secret");
    let mut c = server.login("fresh", "f-secret");
    let r = c.ok("LIST \"\" \"*\"");
    let lines = untagged_with(&r, "* LIST ");
    for (name, attribute) in [
        ("Drafts", "\\Drafts"),
        ("Sent", "\\Sent"),
        ("Trash", "\\Trash"),
        ("Junk", "\\Junk"),
    ] {
        assert!(
            lines.iter().any(|l| {
                (l.ends_with(&format!(" {name}")) || l.ends_with(&format!(" \"{name}\"")))
                    && l.contains(attribute)
            }),
            "no {name} with {attribute}: {lines:?}"
        );
    }
    c.logout();
    assert!(dir.maildir("fresh").join(".Trash/cur").is_dir());
}
