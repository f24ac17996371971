//! SEARCH with ESEARCH and SEARCHRES, SORT with ESORT, THREAD.

use super::{login, message, ok, process, services};
use crate::settings::ImapSettings;

/// A session with five messages in INBOX, selected; 2 and 4 flagged.
async fn five() -> (
    mailkeep_testkit::Services,
    mailkeep_testkit::Client<tokio::io::DuplexStream>,
) {
    let services = services().await;
    let process = process(&services, ImapSettings::default());
    let mut c = login(&process).await;
    for (i, subject) in ["delta", "alpha", "echo", "bravo", "charlie"]
        .iter()
        .enumerate()
    {
        let flags: &[&str] = if i % 2 == 1 { &["\\Flagged"] } else { &[] };
        let m = message(subject, "hello world");
        assert!(c.append("INBOX", flags, &m).await.unwrap().is_ok());
    }
    ok(&mut c, "SELECT INBOX").await;
    (services, c)
}

#[tokio::test]
async fn search_answers_in_the_form_asked() {
    let (_services, mut c) = five().await;
    let reply = ok(&mut c, "SEARCH FLAGGED").await;
    assert_eq!(reply.search(), vec![2, 4]);
    let reply = ok(&mut c, "UID SEARCH RETURN (MIN MAX COUNT ALL) ALL").await;
    let e = reply.esearch().expect("ESEARCH");
    assert_eq!((e.min(), e.max(), e.count()), (Some(1), Some(5), Some(5)));
    assert_eq!(e.all(), Some(vec![1, 2, 3, 4, 5]));
    let reply = ok(&mut c, "SEARCH RETURN () SUBJECT charlie").await;
    assert_eq!(reply.esearch().and_then(|e| e.all()), Some(vec![5]));
    // A literal argument to UID SEARCH (it was refused before).
    let tag = c.send_command("UID SEARCH SUBJECT {4}").await.unwrap();
    let r = c.read_response().await.unwrap();
    assert!(r.continuation().is_some(), "{}", r.text());
    c.send(b"echo\r\n").await.unwrap();
    let reply = c.read_reply(&tag).await.unwrap();
    assert_eq!(reply.search(), vec![3], "{reply:?}");
    let reply = c.run("SEARCH CHARSET KOI8-R ALL").await.unwrap();
    assert!(reply.has_code("BADCHARSET"), "{reply:?}");
}

#[tokio::test]
async fn a_saved_result_is_used_by_the_next_command() {
    let (_services, mut c) = five().await;
    let reply = ok(&mut c, "SEARCH RETURN (SAVE) FLAGGED").await;
    assert!(
        reply.esearch().is_none(),
        "SAVE alone answers nothing: {reply:?}"
    );
    let reply = ok(&mut c, "FETCH $ (UID)").await;
    let uids: Vec<u32> = reply.fetches().iter().filter_map(|f| f.uid()).collect();
    assert_eq!(uids, vec![2, 4], "{reply:?}");
    let reply = ok(&mut c, "UID STORE $ +FLAGS (\\Seen)").await;
    assert_eq!(reply.fetches().len(), 2, "{reply:?}");
}

#[tokio::test]
async fn sort_and_thread() {
    let (_services, mut c) = five().await;
    let reply = ok(&mut c, "SORT (SUBJECT) UTF-8 ALL").await;
    let sorted = reply.untagged("SORT").next().expect("SORT").numbers();
    assert_eq!(sorted, vec![2, 4, 5, 1, 3], "{reply:?}");
    let reply = ok(
        &mut c,
        "SORT RETURN (MIN MAX ALL) (REVERSE SUBJECT) UTF-8 ALL",
    )
    .await;
    let e = reply.esearch().expect("ESEARCH for ESORT");
    assert_eq!(
        e.min(),
        Some(3),
        "MIN is the first in sort order: {reply:?}"
    );
    assert_eq!(e.max(), Some(2), "{reply:?}");
    let reply = ok(&mut c, "THREAD ORDEREDSUBJECT UTF-8 ALL").await;
    assert!(reply.untagged("THREAD").next().is_some(), "{reply:?}");
}
