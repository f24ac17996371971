//! Mailboxes filled fast: tens of thousands of messages written straight
//! into an account's Maildir, as another delivery agent would drop them
//! (an outside change the store indexes at the next SELECT or NOOP),
//! instead of one APPEND each.

use std::time::{Duration, SystemTime};

use super::{MAIL_GID, MAIL_UID, TestDir};

/// Writes `count` messages into `user`'s INBOX (`Maildir/cur`, flagged
/// `\Seen`), message `i` being `Subject: bulk i`, `X-N: i`, then `body`,
/// owned by the mail uid (so the test must run as root). Then dates the
/// folders' change back a minute: the store keeps no change stamp younger
/// than its 2 s clock tick (it may hide a later change), so without this a
/// second session's SELECT would rescan the folder.
pub fn fill_inbox(dir: &TestDir, user: &str, count: u32, body: &str) {
    let maildir = dir.maildir(user);
    let cur = maildir.join("cur");
    for i in 0..count {
        let message = format!("Subject: bulk {i}\r\nX-N: {i}\r\n\r\n{body}");
        let path = cur.join(format!("1700000000.M{i}P7.e2e,S={}:2,S", message.len()));
        std::fs::write(&path, message).expect("writing a message file");
        nix::unistd::chown(
            &path,
            Some(nix::unistd::Uid::from_raw(MAIL_UID)),
            Some(nix::unistd::Gid::from_raw(MAIL_GID)),
        )
        .expect("chown to the mail uid");
    }
    let past = SystemTime::now() - Duration::from_secs(60);
    for sub in ["cur", "new"] {
        std::fs::File::open(maildir.join(sub))
            .and_then(|d| d.set_modified(past))
            .expect("dating the folder back");
    }
}
