//! CONDSTORE and QRESYNC, IDLE, NOTIFY and UIDONLY.

use std::time::Duration;

use mailkeep_testkit::Status;

use super::{login, message, ok, process, selected_with, services};
use crate::settings::ImapSettings;

/// Long enough for anything that should arrive; never waited out when it does.
const WAIT: Duration = Duration::from_secs(20);

#[tokio::test]
async fn condstore_modseqs_and_unchangedsince() {
    let services = services().await;
    let process = process(&services, ImapSettings::default());
    let mut c = login(&process).await;
    for i in 0..3 {
        assert!(
            c.append("INBOX", &[], &message(&format!("c{i}"), "x"))
                .await
                .unwrap()
                .is_ok()
        );
    }
    let reply = ok(&mut c, "SELECT INBOX (CONDSTORE)").await;
    let highest = reply.code_number("HIGHESTMODSEQ").expect("HIGHESTMODSEQ");
    let reply = ok(&mut c, "FETCH 1:3 (MODSEQ)").await;
    assert_eq!(reply.fetches().len(), 3);
    let reply = ok(&mut c, "STORE 1 +FLAGS (\\Seen)").await;
    let modseq = reply.fetch(1).and_then(|f| f.item("MODSEQ").cloned());
    assert!(modseq.is_some(), "MODSEQ after CONDSTORE: {reply:?}");
    let reply = ok(
        &mut c,
        &format!("STORE 1:2 (UNCHANGEDSINCE {highest}) +FLAGS (\\Flagged)"),
    )
    .await;
    assert!(reply.has_code("MODIFIED"), "{reply:?}");
    let reply = ok(
        &mut c,
        &format!("FETCH 1:* (FLAGS) (CHANGEDSINCE {highest})"),
    )
    .await;
    let changed: Vec<u32> = reply.fetches().iter().map(|f| f.seq).collect();
    assert_eq!(changed, vec![1, 2], "{reply:?}");
    // UNCHANGEDSINCE 0 changes nothing: a flag always exists, so its MODSEQ
    // is above 0 (RFC 7162 §3.1.3). It was taken for no UNCHANGEDSINCE.
    let reply = ok(&mut c, "STORE 3 (UNCHANGEDSINCE 0) +FLAGS (\\Deleted)").await;
    assert!(reply.has_code("MODIFIED"), "{reply:?}");
    let reply = ok(&mut c, "FETCH 3 (FLAGS)").await;
    assert!(
        !reply.fetch(3).expect("FETCH 3").has_flag("\\Deleted"),
        "{reply:?}"
    );
}

/// New messages come as EXISTS, which carries no mod-sequence: with
/// CONDSTORE, `* OK [HIGHESTMODSEQ n]` follows, for the session's own
/// APPEND as for another's, so a client that keeps `n` does not take
/// those messages for changed at its next CHANGEDSINCE. Without it
/// interimap saw its own appended messages as changed and reported
/// conflicts with the changes it made to them on the other side.
#[tokio::test]
async fn new_messages_come_with_the_highest_modseq() {
    let services = services().await;
    let process = process(&services, ImapSettings::default());
    let mut c = login(&process).await;
    let mut other = login(&process).await;
    ok(&mut c, "SELECT INBOX (CONDSTORE)").await;
    let reply = c.append("INBOX", &[], &message("own", "x")).await.unwrap();
    assert!(reply.is_ok(), "{reply:?}");
    let own = reply
        .code_number("HIGHESTMODSEQ")
        .unwrap_or_else(|| panic!("no HIGHESTMODSEQ: {reply:?}"));
    let status = ok(&mut other, "STATUS INBOX (HIGHESTMODSEQ)").await;
    assert_eq!(status.status_item("HIGHESTMODSEQ"), Some(own), "{reply:?}");
    assert!(
        other
            .append("INBOX", &[], &message("theirs", "x"))
            .await
            .unwrap()
            .is_ok()
    );
    let reply = ok(&mut c, "NOOP").await;
    assert!(
        reply.responses.iter().any(|r| r.text() == "* 2 EXISTS"),
        "{reply:?}"
    );
    let theirs = reply
        .code_number("HIGHESTMODSEQ")
        .unwrap_or_else(|| panic!("no HIGHESTMODSEQ: {reply:?}"));
    assert!(theirs > own, "{reply:?}");
    // Nothing changed since: nothing comes.
    let reply = ok(
        &mut c,
        &format!("UID FETCH 1:* (FLAGS) (CHANGEDSINCE {theirs})"),
    )
    .await;
    assert!(reply.fetches().is_empty(), "{reply:?}");
}

#[tokio::test]
async fn qresync_reports_what_vanished_since() {
    let services = services().await;
    let process = process(&services, ImapSettings::default());
    let mut c = login(&process).await;
    for i in 0..3 {
        assert!(
            c.append("INBOX", &[], &message(&format!("q{i}"), "x"))
                .await
                .unwrap()
                .is_ok()
        );
    }
    ok(&mut c, "ENABLE QRESYNC").await;
    let reply = ok(&mut c, "SELECT INBOX").await;
    let uidvalidity = reply.code_number("UIDVALIDITY").unwrap_or_default();
    let highest = reply.code_number("HIGHESTMODSEQ").expect("HIGHESTMODSEQ");
    ok(&mut c, "STORE 2 +FLAGS (\\Deleted)").await;
    let reply = ok(&mut c, "EXPUNGE").await;
    assert_eq!(
        reply.vanished(),
        vec![2],
        "VANISHED, not EXPUNGE: {reply:?}"
    );
    // VANISHED carries no mod-sequence: the tagged OK tells the one the
    // expunge made (RFC 7162 §3.2.10), which the client keeps for its next
    // QRESYNC. It was missing.
    let after = reply.code_number("HIGHESTMODSEQ").expect("HIGHESTMODSEQ");
    let status = ok(&mut c, "STATUS INBOX (HIGHESTMODSEQ)").await;
    assert_eq!(
        status.status_item("HIGHESTMODSEQ"),
        Some(after),
        "{reply:?}"
    );
    ok(&mut c, "UID STORE 3 +FLAGS (\\Deleted)").await;
    let reply = ok(&mut c, "UID EXPUNGE 3").await;
    assert!(
        reply
            .code_number("HIGHESTMODSEQ")
            .is_some_and(|n| n > after),
        "{reply:?}"
    );
    ok(&mut c, "UNSELECT").await;
    let reply = ok(
        &mut c,
        &format!("SELECT INBOX (QRESYNC ({uidvalidity} {highest}))"),
    )
    .await;
    let text: Vec<String> = reply.responses.iter().map(|r| r.text()).collect();
    assert!(
        text.iter().any(|l| l == "* VANISHED (EARLIER) 2:3"),
        "{text:?}"
    );
}

/// An expunge held back while a FETCH by sequence number ran (the FETCH's
/// own resync learnt of it and took the change mark) is told as IDLE
/// starts, without a further change to wake it.
#[tokio::test]
async fn idle_tells_an_expunge_held_back_by_an_earlier_command() {
    let services = services().await;
    let process = process(&services, ImapSettings::default());
    let mut watcher = selected_with(&process, &["one", "two"]).await;
    let mut other = login(&process).await;
    ok(&mut other, "SELECT INBOX").await;
    ok(&mut other, "STORE 1 +FLAGS.SILENT (\\Deleted)").await;
    ok(&mut other, "EXPUNGE").await;
    let reply = ok(&mut watcher, "FETCH 1:2 (FLAGS)").await;
    assert!(reply.has_code("EXPUNGEISSUED"), "{reply:?}");
    assert!(reply.expunged().is_empty(), "{reply:?}");
    let mut idle = watcher.idle().await.expect("IDLE");
    let seen = tokio::time::timeout(WAIT, idle.wait_for(|r| r.text() == "* 1 EXPUNGE"))
        .await
        .expect("the held-back EXPUNGE while idling")
        .expect("the idle stream");
    assert!(seen.iter().any(|r| r.text() == "* 1 EXPUNGE"), "{seen:?}");
    let reply = idle.done().await.expect("DONE");
    assert!(reply.is_ok(), "{reply:?}");
    let reply = ok(&mut watcher, "FETCH 1 (UID)").await;
    assert_eq!(reply.fetch(1).and_then(|f| f.uid()), Some(2), "{reply:?}");
}

#[tokio::test]
async fn idle_sees_another_sessions_changes_as_they_happen() {
    let services = services().await;
    let process = process(&services, ImapSettings::default());
    let mut watcher = login(&process).await;
    let mut writer = login(&process).await;
    ok(&mut watcher, "SELECT INBOX").await;
    let mut idle = watcher.idle().await.expect("IDLE");
    assert!(
        writer
            .append("INBOX", &[], &message("new", "x"))
            .await
            .unwrap()
            .is_ok()
    );
    let seen = tokio::time::timeout(WAIT, idle.wait_for(|r| r.text() == "* 1 EXISTS"))
        .await
        .expect("EXISTS while idling")
        .expect("the idle stream");
    assert!(seen.iter().any(|r| r.text() == "* 1 EXISTS"), "{seen:?}");
    ok(&mut writer, "SELECT INBOX").await;
    ok(&mut writer, "STORE 1 +FLAGS (\\Flagged)").await;
    tokio::time::timeout(WAIT, idle.wait_for(|r| r.text().contains("\\Flagged")))
        .await
        .expect("FETCH FLAGS while idling")
        .expect("the idle stream");
    let reply = idle.done().await.expect("DONE");
    assert!(reply.is_ok(), "{reply:?}");
}

#[tokio::test]
async fn notify_reports_other_mailboxes_and_the_list() {
    let services = services().await;
    let process = process(&services, ImapSettings::default());
    let mut c = login(&process).await;
    let mut other = login(&process).await;
    ok(&mut c, "CREATE Lists").await;
    ok(
        &mut c,
        "NOTIFY SET (selected (MessageNew MessageExpunge)) (personal (MessageNew MessageExpunge MailboxName))",
    )
    .await;
    assert!(
        other
            .append("Lists", &[], &message("l", "x"))
            .await
            .unwrap()
            .is_ok()
    );
    let status = tokio::time::timeout(WAIT, async {
        loop {
            let r = c.read_response().await.expect("a notification");
            if r.text().starts_with("* STATUS") {
                return r;
            }
        }
    })
    .await
    .expect("STATUS for Lists");
    assert!(
        status.text().contains("Lists") && status.text().contains("MESSAGES 1"),
        "{}",
        status.text()
    );
    ok(&mut other, "CREATE Fresh").await;
    let list = tokio::time::timeout(WAIT, async {
        loop {
            let r = c.read_response().await.expect("a notification");
            if r.text().starts_with("* LIST") {
                return r;
            }
        }
    })
    .await
    .expect("LIST for Fresh");
    assert!(list.text().contains("Fresh"), "{}", list.text());
    let reply = c
        .run("NOTIFY SET (personal (MessageNew MessageExpunge FlagChange AnnotationChange))")
        .await
        .unwrap();
    assert!(reply.has_code("BADEVENT"), "{reply:?}");
    ok(&mut c, "NOTIFY NONE").await;
}

/// Reads `c`'s responses until a FETCH comes, and returns it.
async fn next_fetch(c: &mut mailkeep_testkit::Client<tokio::io::DuplexStream>) -> String {
    tokio::time::timeout(WAIT, async {
        loop {
            let r = c.read_response().await.expect("a notification");
            if r.text().contains(" FETCH (") {
                return r.text();
            }
        }
    })
    .await
    .expect("an unsolicited FETCH")
}

#[tokio::test]
async fn notify_message_new_fetches_the_items_asked_for() {
    // RFC 5465 §5.2: MessageNew's fetch items come for every message that
    // arrives in the selected mailbox, after its EXISTS, without a FETCH
    // and without marking it read. They were parsed and never sent.
    let services = services().await;
    let process = process(&services, ImapSettings::default());
    let mut c = login(&process).await;
    let mut other = login(&process).await;
    ok(&mut c, "SELECT INBOX").await;
    ok(
        &mut c,
        "NOTIFY SET (selected (MessageNew (UID FLAGS BODY[HEADER.FIELDS (SUBJECT)]) MessageExpunge))",
    )
    .await;
    assert!(
        other
            .append("INBOX", &[], &message("first news", "x"))
            .await
            .unwrap()
            .is_ok()
    );
    let fetch = next_fetch(&mut c).await;
    assert!(
        fetch.starts_with("* 1 FETCH (UID 1 FLAGS (\\Recent) BODY[HEADER.FIELDS (SUBJECT)] {")
            && fetch.contains("Subject: first news"),
        "{fetch}"
    );
    // While idling as well.
    let mut idle = c.idle().await.expect("IDLE");
    assert!(
        other
            .append("INBOX", &[], &message("second news", "x"))
            .await
            .unwrap()
            .is_ok()
    );
    let seen = tokio::time::timeout(WAIT, idle.wait_for(|r| r.text().contains(" FETCH (")))
        .await
        .expect("FETCH while idling")
        .expect("the idle stream");
    let fetch = seen.last().map(|r| r.text()).unwrap_or_default();
    assert!(
        fetch.starts_with("* 2 FETCH (UID 2 FLAGS (\\Recent) ")
            && fetch.contains("Subject: second news"),
        "{seen:?}"
    );
    assert!(idle.done().await.expect("DONE").is_ok());
    // BODY[...] in the set does not mark the messages read.
    ok(&mut other, "SELECT INBOX").await;
    let reply = ok(&mut other, "FETCH 1:2 (FLAGS)").await;
    assert!(
        reply.fetches().iter().all(|f| f
            .item("FLAGS")
            .is_some_and(|flags| !format!("{flags:?}").contains("Seen"))),
        "{reply:?}"
    );
}

#[tokio::test]
async fn uidonly_refuses_sequence_numbers_and_answers_by_uid() {
    let services = services().await;
    let process = process(&services, ImapSettings::default());
    let mut c = login(&process).await;
    assert!(
        c.append("INBOX", &[], &message("u", "x"))
            .await
            .unwrap()
            .is_ok()
    );
    ok(&mut c, "ENABLE UIDONLY").await;
    ok(&mut c, "SELECT INBOX").await;
    let reply = c.run("FETCH 1 (FLAGS)").await.unwrap();
    assert_eq!(reply.status(), Status::Bad, "{reply:?}");
    assert!(reply.has_code("UIDREQUIRED"), "{reply:?}");
    let reply = ok(&mut c, "UID FETCH 1 (FLAGS)").await;
    assert!(
        reply
            .responses
            .iter()
            .any(|r| r.text().starts_with("* 1 UIDFETCH (FLAGS")),
        "{reply:?}"
    );
    // UID alone: the item stays, since an item list may not be empty (it
    // answered `* 1 UIDFETCH ()`).
    let reply = ok(&mut c, "UID FETCH 1:* (UID)").await;
    let texts: Vec<String> = reply.responses.iter().map(|r| r.text()).collect();
    assert_eq!(texts, ["* 1 UIDFETCH (UID 1)"], "{reply:?}");
}

#[tokio::test]
async fn object_ids_name_mailboxes_and_messages() {
    let services = services().await;
    let process = process(&services, ImapSettings::default());
    let mut c = login(&process).await;
    let reply = ok(&mut c, "CREATE Keep").await;
    let created = reply
        .code()
        .filter(|code| code.is("MAILBOXID"))
        .map(|code| code.raw_args.clone())
        .expect("MAILBOXID with CREATE's OK");
    let reply = ok(&mut c, "STATUS Keep (MAILBOXID)").await;
    assert!(
        reply.responses[0]
            .text()
            .contains(created.trim_matches(['(', ')'])),
        "{reply:?}"
    );
    assert!(
        c.append("INBOX", &[], &message("o", "x"))
            .await
            .unwrap()
            .is_ok()
    );
    ok(&mut c, "SELECT INBOX").await;
    let reply = ok(&mut c, "FETCH 1 (EMAILID THREADID)").await;
    let f = reply.fetch(1).expect("FETCH 1");
    // EMAILID (id): one atom in parentheses.
    let id_of = |reply: &mailkeep_testkit::Reply| -> String {
        reply
            .fetch(1)
            .and_then(|f| f.item("EMAILID"))
            .and_then(|v| v.as_list())
            .and_then(|l| l.first())
            .and_then(|v| v.as_atom())
            .expect("EMAILID (id)")
            .to_owned()
    };
    let id = id_of(&reply);
    assert!(f.item("THREADID").is_some(), "{reply:?}");
    ok(&mut c, "COPY 1 Keep").await;
    ok(&mut c, "SELECT Keep").await;
    let reply = ok(&mut c, "FETCH 1 (EMAILID)").await;
    assert_eq!(id_of(&reply), id, "a copy keeps its EMAILID");
    let reply = ok(&mut c, &format!("UID SEARCH EMAILID {id}")).await;
    assert_eq!(reply.search(), vec![1], "{reply:?}");
}

#[tokio::test]
async fn metadata_is_kept_per_mailbox_and_for_the_server() {
    let services = services().await;
    let process = process(&services, ImapSettings::default());
    let mut c = login(&process).await;
    ok(&mut c, "SETMETADATA INBOX (/private/comment \"my inbox\")").await;
    ok(
        &mut c,
        "SETMETADATA \"\" (/shared/vendor/x \"server wide\")",
    )
    .await;
    let reply = ok(
        &mut c,
        "GETMETADATA INBOX (/private/comment /private/missing)",
    )
    .await;
    let text = reply.responses[0].text();
    assert!(
        text.contains("\"my inbox\"") && text.contains("/private/missing NIL"),
        "{text}"
    );
    let reply = ok(&mut c, "GETMETADATA \"\" /shared/vendor/x").await;
    assert!(
        reply.responses[0].text().contains("server wide"),
        "{reply:?}"
    );
    let reply = ok(&mut c, "GETMETADATA (MAXSIZE 3) INBOX /private/comment").await;
    assert!(reply.has_code("METADATA"), "LONGENTRIES: {reply:?}");
    ok(&mut c, "SETMETADATA INBOX (/private/comment NIL)").await;
    let reply = ok(&mut c, "GETMETADATA INBOX /private/comment").await;
    assert!(reply.responses[0].text().contains("NIL"), "{reply:?}");
    let big = "x".repeat(40_000);
    let reply = c
        .run(&format!(
            "SETMETADATA INBOX (/private/big {{{}+}}\r\n{big})",
            big.len()
        ))
        .await
        .unwrap();
    assert_eq!(reply.status(), Status::No, "{reply:?}");
    assert!(
        reply
            .code()
            .is_some_and(|code| code.raw_args.contains("MAXSIZE")),
        "{reply:?}"
    );
}

/// A mailbox that defines as many keywords as it may (1,000) is selected
/// without `\*` in PERMANENTFLAGS, and a new keyword is `NO [LIMIT]`.
#[tokio::test]
async fn a_mailbox_full_of_keywords_offers_no_new_ones() {
    let services = services().await;
    let process = process(&services, ImapSettings::default());
    let mut c = selected_with(&process, &["k"]).await;
    for chunk in 0..10 {
        let names: Vec<String> = (0..100).map(|i| format!("k{}", chunk * 100 + i)).collect();
        ok(
            &mut c,
            &format!("STORE 1 +FLAGS.SILENT ({})", names.join(" ")),
        )
        .await;
    }
    let reply = c.run("STORE 1 +FLAGS (one-more)").await.unwrap();
    assert_eq!(reply.status(), Status::No, "{reply:?}");
    assert!(reply.has_code("LIMIT"), "{reply:?}");
    let reply = ok(&mut c, "SELECT INBOX").await;
    let permanent = reply
        .responses
        .iter()
        .map(|r| r.text())
        .find(|t| t.contains("[PERMANENTFLAGS"))
        .expect("PERMANENTFLAGS");
    assert!(permanent.contains(" k999"), "{permanent}");
    assert!(!permanent.contains("\\*"), "{permanent}");
}
