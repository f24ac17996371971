//! SEARCH with ESEARCH and SEARCHRES, SORT with ESORT, THREAD.

use mailkeep_testkit::{LiteralMode, Part};

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
    let reply = c.run("SEARCH CHARSET X-NO-SUCH ALL").await.unwrap();
    assert!(reply.has_code("BADCHARSET"), "{reply:?}");
    // Another charset's strings are decoded: "café" in ISO-8859-1 finds
    // the message whose subject is that word in an RFC 2047 encoded word;
    // the same bytes in KOI8-R are "cafИ" and find nothing.
    let m = "Subject: =?UTF-8?Q?caf=C3=A9?=\r\n\r\nbody\r\n";
    assert!(c.append("INBOX", &[], m.as_bytes()).await.unwrap().is_ok());
    for (charset, found) in [("ISO-8859-1", vec![6]), ("KOI8-R", vec![])] {
        let command = format!("SEARCH CHARSET {charset} SUBJECT ");
        let reply = c
            .run_parts(&[
                Part::Text(&command),
                Part::Literal(b"caf\xe9", LiteralMode::NonSync),
            ])
            .await
            .unwrap();
        assert!(reply.is_ok(), "{charset}: {reply:?}");
        assert_eq!(reply.search(), found, "{charset}: {reply:?}");
    }
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

/// [`five`], and a second session of the same user with INBOX selected
/// (the one that changes what the first one's contexts follow).
async fn five_and_another() -> (
    mailkeep_testkit::Services,
    mailkeep_testkit::Client<tokio::io::DuplexStream>,
    mailkeep_testkit::Client<tokio::io::DuplexStream>,
) {
    let (services, c) = five().await;
    let process = process(&services, ImapSettings::default());
    let mut other = login(&process).await;
    ok(&mut other, "SELECT INBOX").await;
    (services, c, other)
}

#[tokio::test]
async fn a_search_context_follows_the_mailbox_until_cancelled() {
    let (_services, mut c, mut other) = five_and_another().await;
    let reply = ok(&mut c, "SEARCH RETURN (UPDATE) FLAGGED").await;
    let tag = reply.done().tag.clone().expect("a tag");
    let initial = reply.esearch().expect("ESEARCH");
    assert!(
        initial.item("ADDTO").is_some(),
        "the initial result as ADDTO: {reply:?}"
    );
    ok(&mut other, "STORE 1 +FLAGS (\\Flagged)").await;
    ok(&mut other, "STORE 2 -FLAGS (\\Flagged)").await;
    let reply = ok(&mut c, "NOOP").await;
    let update = reply
        .lines_of("ESEARCH")
        .into_iter()
        .next()
        .expect("an update");
    assert_eq!(
        update,
        format!("* ESEARCH (TAG \"{tag}\") REMOVEFROM (0 2) ADDTO (0 1)")
    );
    // A SORT context places new messages.
    let reply = ok(&mut c, "UID SORT RETURN (UPDATE) (SUBJECT) UTF-8 ALL").await;
    let sort_tag = reply.done().tag.clone().expect("a tag");
    assert!(
        other
            .append("INBOX", &[], &message("beta", "x"))
            .await
            .unwrap()
            .is_ok()
    );
    let reply = ok(&mut c, "NOOP").await;
    let text: Vec<String> = reply.responses.iter().map(|r| r.text()).collect();
    assert!(
        text.iter()
            .any(|t| t == &format!("* ESEARCH (TAG \"{sort_tag}\") UID ADDTO (2 6)")),
        "alpha, beta, bravo...: {text:?}"
    );
    ok(&mut c, &format!("CANCELUPDATE \"{tag}\" \"{sort_tag}\"")).await;
    ok(&mut other, "STORE 3 +FLAGS (\\Flagged)").await;
    let reply = ok(&mut c, "NOOP").await;
    assert!(
        !reply
            .responses
            .iter()
            .any(|r| r.text().starts_with("* ESEARCH")),
        "{reply:?}"
    );
}

#[tokio::test]
async fn a_sort_context_removes_from_the_last_position_first() {
    let (_services, mut c, mut other) = five_and_another().await;
    // Unflagged, by subject: charlie (5), delta (1), echo (3).
    let reply = ok(&mut c, "UID SORT RETURN (UPDATE) (SUBJECT) UTF-8 UNFLAGGED").await;
    let tag = reply.done().tag.clone().expect("a tag");
    ok(&mut other, "STORE 1 +FLAGS (\\Flagged)").await;
    ok(&mut other, "STORE 3 +FLAGS (\\Flagged)").await;
    let reply = ok(&mut c, "NOOP").await;
    assert_eq!(
        reply.lines_of("ESEARCH"),
        [format!(
            "* ESEARCH (TAG \"{tag}\") UID REMOVEFROM (3 3 2 1)"
        )],
        "echo at 3 leaves first, then delta at 2"
    );
}
