//! IMAP4rev1's `\Recent` (RFC 3501 §2.3.2, §6.3.1, §6.4.4, §7.3.2): each
//! message is recent in the first read-write session told of it and in no
//! other; EXAMINE and STATUS look without taking; IMAP4rev2 has none.

use mailkeep_testkit::{Client, Reply};
use tokio::io::DuplexStream;

use super::{login, message, ok, process, services};
use crate::settings::ImapSettings;

/// The count of the reply's last `* n RECENT`.
fn recent(reply: &Reply) -> Option<u32> {
    reply.untagged("RECENT").filter_map(|d| d.number).last()
}

/// The sequence numbers whose FETCH FLAGS carry `\Recent`.
fn flagged_recent(reply: &Reply) -> Vec<u32> {
    reply
        .fetches()
        .iter()
        .filter(|f| f.has_flag("\\Recent"))
        .map(|f| f.seq)
        .collect()
}

async fn append(client: &mut Client<DuplexStream>, subject: &str) {
    let reply = client
        .append("INBOX", &[], &message(subject, "x"))
        .await
        .expect("APPEND");
    assert!(reply.is_ok(), "APPEND: {reply:?}");
}

#[tokio::test]
async fn each_message_is_recent_in_one_session_only() {
    let services = services().await;
    let process = process(&services, ImapSettings::default());
    let mut writer = login(&process).await;
    append(&mut writer, "one").await;
    append(&mut writer, "two").await;

    // STATUS and EXAMINE look without taking.
    let mut a = login(&process).await;
    let reply = ok(&mut a, "STATUS INBOX (MESSAGES RECENT)").await;
    assert_eq!(reply.status_item("RECENT"), Some(2), "{reply:?}");
    let reply = ok(&mut a, "EXAMINE INBOX").await;
    assert_eq!(recent(&reply), Some(2), "{reply:?}");
    let reply = ok(&mut a, "FETCH 1:2 (FLAGS)").await;
    assert_eq!(flagged_recent(&reply), vec![1, 2], "{reply:?}");
    ok(&mut a, "UNSELECT").await;

    // The first read-write SELECT takes them.
    let reply = ok(&mut a, "SELECT INBOX").await;
    assert_eq!(recent(&reply), Some(2), "{reply:?}");
    let reply = ok(&mut a, "FETCH 1:2 (FLAGS)").await;
    assert_eq!(flagged_recent(&reply), vec![1, 2], "{reply:?}");
    // STATUS counts what no one claimed, and in the session that has
    // the mailbox selected its own recent messages too.
    let reply = ok(&mut a, "STATUS INBOX (RECENT)").await;
    assert_eq!(reply.status_item("RECENT"), Some(2), "{reply:?}");
    let mut b = login(&process).await;
    let reply = ok(&mut b, "STATUS INBOX (RECENT)").await;
    assert_eq!(reply.status_item("RECENT"), Some(0), "{reply:?}");
    let reply = ok(&mut b, "SELECT INBOX").await;
    assert_eq!(recent(&reply), Some(0), "{reply:?}");
    let reply = ok(&mut b, "FETCH 1:2 (FLAGS)").await;
    assert!(flagged_recent(&reply).is_empty(), "{reply:?}");

    // A message that arrives while both have INBOX selected is recent in
    // the one that hears of it first, told by RECENT after EXISTS.
    append(&mut writer, "three").await;
    let reply = ok(&mut b, "NOOP").await;
    assert_eq!(reply.exists(), Some(3), "{reply:?}");
    assert_eq!(recent(&reply), Some(1), "{reply:?}");
    let reply = ok(&mut a, "NOOP").await;
    assert_eq!(reply.exists(), Some(3), "{reply:?}");
    assert_eq!(recent(&reply), Some(2), "{reply:?}");
    let reply = ok(&mut b, "FETCH 1:3 (FLAGS)").await;
    assert_eq!(flagged_recent(&reply), vec![3], "{reply:?}");
    let reply = ok(&mut a, "FETCH 1:3 (FLAGS)").await;
    assert_eq!(flagged_recent(&reply), vec![1, 2], "{reply:?}");

    // SEARCH RECENT, NEW (recent and unseen) and OLD are the session's.
    ok(&mut a, "STORE 1 +FLAGS.SILENT (\\Seen)").await;
    assert_eq!(ok(&mut a, "SEARCH RECENT").await.search(), vec![1, 2]);
    assert_eq!(ok(&mut a, "SEARCH NEW").await.search(), vec![2]);
    assert_eq!(ok(&mut a, "SEARCH OLD").await.search(), vec![3]);
    assert_eq!(ok(&mut b, "SEARCH RECENT").await.search(), vec![3]);
    assert_eq!(ok(&mut b, "UID SEARCH NOT OLD").await.search(), vec![3]);
    // STORE's answer shows it too, and a client cannot set it.
    let reply = ok(&mut a, "STORE 2 +FLAGS (\\Flagged)").await;
    assert_eq!(flagged_recent(&reply), vec![2], "{reply:?}");
    let reply = ok(&mut b, "STORE 1 +FLAGS (\\Recent)").await;
    assert!(flagged_recent(&reply).is_empty(), "{reply:?}");

    // Expunging a recent message tells the new count; another does not.
    ok(&mut b, "STORE 3 +FLAGS.SILENT (\\Deleted)").await;
    let reply = ok(&mut b, "EXPUNGE").await;
    assert_eq!(reply.expunged(), vec![3], "{reply:?}");
    assert_eq!(recent(&reply), Some(0), "{reply:?}");
    let reply = ok(&mut a, "NOOP").await;
    assert_eq!(reply.expunged(), vec![3], "{reply:?}");
    assert_eq!(recent(&reply), None, "{reply:?}");

    // A session selecting later finds none.
    let mut c = login(&process).await;
    let reply = ok(&mut c, "SELECT INBOX").await;
    assert_eq!(recent(&reply), Some(0), "{reply:?}");
}

/// An APPEND into the selected mailbox claims in its own commit: its
/// messages (and those before them no one claimed) are recent to the
/// appender, not to the other sessions, which are told they are taken.
#[tokio::test]
async fn an_append_into_the_selected_mailbox_is_recent_to_the_appender() {
    let services = services().await;
    let process = process(&services, ImapSettings::default());
    let mut writer = login(&process).await;
    append(&mut writer, "delivered").await;
    let mut a = login(&process).await;
    let mut b = login(&process).await;
    ok(&mut a, "SELECT INBOX").await;
    ok(&mut b, "SELECT INBOX").await;
    // Nobody has heard of this one yet when A appends: A's claim takes it.
    append(&mut writer, "unseen by all").await;
    append(&mut a, "sent copy").await;
    let reply = ok(&mut a, "FETCH 1:3 (FLAGS)").await;
    assert_eq!(flagged_recent(&reply), vec![1, 2, 3], "{reply:?}");
    let reply = ok(&mut b, "NOOP").await;
    assert_eq!(reply.exists(), Some(3), "{reply:?}");
    assert_eq!(recent(&reply), Some(0), "{reply:?}");
    let reply = ok(&mut b, "FETCH 1:3 (FLAGS)").await;
    assert!(flagged_recent(&reply).is_empty(), "{reply:?}");
    // A MULTIAPPEND too, and a message after it is claimed as before.
    let reply = ok(
        &mut b,
        "APPEND INBOX {12+}\r\nSubject: 4\r\n {12+}\r\nSubject: 5\r\n",
    )
    .await;
    assert!(reply.is_ok(), "{reply:?}");
    let reply = ok(&mut b, "SEARCH RECENT").await;
    assert_eq!(reply.search(), vec![4, 5], "{reply:?}");
    append(&mut writer, "six").await;
    let reply = ok(&mut a, "NOOP").await;
    assert_eq!(reply.exists(), Some(6), "{reply:?}");
    assert_eq!(recent(&reply), Some(4), "{reply:?}");
    let reply = ok(&mut b, "SEARCH RECENT").await;
    assert_eq!(reply.search(), vec![4, 5], "{reply:?}");
    // EXAMINE claims nothing by appending either.
    let mut c = login(&process).await;
    ok(&mut c, "EXAMINE INBOX").await;
    append(&mut c, "seven").await;
    let reply = ok(&mut c, "STATUS INBOX (RECENT)").await;
    assert_eq!(reply.status_item("RECENT"), Some(1), "{reply:?}");
}

#[tokio::test]
async fn imap4rev2_neither_shows_nor_takes_recent_messages() {
    let services = services().await;
    let process = process(&services, ImapSettings::default());
    let mut writer = login(&process).await;
    append(&mut writer, "one").await;
    let mut rev2 = login(&process).await;
    ok(&mut rev2, "ENABLE IMAP4rev2").await;
    let reply = ok(&mut rev2, "SELECT INBOX").await;
    assert_eq!(recent(&reply), None, "{reply:?}");
    append(&mut writer, "two").await;
    let reply = ok(&mut rev2, "FETCH 1:* (FLAGS)").await;
    assert_eq!(reply.exists(), Some(2), "{reply:?}");
    assert_eq!(recent(&reply), None, "{reply:?}");
    assert!(flagged_recent(&reply).is_empty(), "{reply:?}");
    // Both are still recent for the next IMAP4rev1 session.
    let mut rev1 = login(&process).await;
    let reply = ok(&mut rev1, "SELECT INBOX").await;
    assert_eq!(recent(&reply), Some(2), "{reply:?}");
}
