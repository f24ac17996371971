//! The imap process's fetch cache: a second FETCH of what never changes in
//! a message is answered without storage and byte for byte as storage's
//! answer was, with flags and expunges as fresh as the session's view, and
//! never with another user's or another mailbox's message.

use std::sync::Arc;

use mailkeep_testkit::{Client, Reply, Services, Status};
use tokio::io::DuplexStream;

use super::{
    announced_before_carried, login, login_as, message, ok, process, selected_with, services,
};
use crate::process::Process;
use crate::settings::ImapSettings;

/// What a message list asks of each message it shows.
const LIST_VIEW: &str = "(UID RFC822.SIZE FLAGS INTERNALDATE ENVELOPE BODYSTRUCTURE \
     BODY.PEEK[HEADER.FIELDS (FROM SUBJECT MESSAGE-ID)])";

/// Every untagged response's bytes, in order.
fn untagged(reply: &Reply) -> Vec<Vec<u8>> {
    reply.responses.iter().map(|r| r.raw().to_vec()).collect()
}

async fn fetch(client: &mut Client<DuplexStream>, command: &str) -> Reply {
    ok(client, command).await
}

/// Appends a small message per subject to INBOX, and lets the session
/// hear of them.
async fn append_all(client: &mut Client<DuplexStream>, subjects: &[&str]) {
    for subject in subjects {
        let m = message(subject, "b");
        assert!(
            client
                .append("INBOX", &[], &m)
                .await
                .expect("APPEND")
                .is_ok()
        );
    }
    ok(client, "NOOP").await;
}

/// A second imap process over the same services that keeps nothing: what
/// storage answers.
fn without_cache(services: &Services) -> Arc<Process> {
    process(
        services,
        ImapSettings {
            fetch_cache_bytes: 0,
            ..ImapSettings::default()
        },
    )
}

#[tokio::test]
async fn a_second_fetch_of_a_message_list_comes_from_the_cache_as_storage_answered() {
    let services = services().await;
    let process = process(&services, ImapSettings::default());
    let mut c = selected_with(&process, &["one", "two", "three"]).await;
    let command = format!("UID FETCH 1:3 {LIST_VIEW}");

    let first = fetch(&mut c, &command).await;
    assert_eq!(first.fetches().len(), 3, "{first:?}");
    assert_eq!(process.fetch_cache.hits(), 0);
    let second = fetch(&mut c, &command).await;
    assert_eq!(process.fetch_cache.hits(), 3, "answered from the cache");
    assert_eq!(untagged(&second), untagged(&first));
    let f = second.fetch(2).expect("message 2");
    assert_eq!(
        f.bytes("BODY[HEADER.FIELDS (FROM SUBJECT MESSAGE-ID)]"),
        Some(&b"From: Bob <bob@example.org>\r\nSubject: two\r\nMessage-ID: <two@example.org>\r\n\r\n"[..]),
        "{f:?}"
    );

    // A part of it (ENVELOPE alone, by sequence number) too; something
    // the cache does not hold (PREVIEW) goes to storage.
    let reply = fetch(&mut c, "FETCH 1:3 (ENVELOPE)").await;
    assert_eq!(process.fetch_cache.hits(), 6);
    assert!(
        reply
            .fetch(3)
            .expect("message 3")
            .item("ENVELOPE")
            .is_some(),
        "{reply:?}"
    );
    let reply = fetch(&mut c, "FETCH 1 (ENVELOPE PREVIEW)").await;
    assert_eq!(process.fetch_cache.hits(), 6, "{reply:?}");

    // Another session of the process (the user's phone) gets it too (the
    // messages are recent in the first session only).
    let mut phone = login(&process).await;
    ok(&mut phone, "SELECT INBOX").await;
    let reply = fetch(&mut phone, &command).await;
    assert_eq!(process.fetch_cache.hits(), 9);
    let without_recent = |r: &Reply| -> Vec<Vec<u8>> {
        untagged(r)
            .into_iter()
            .map(|l| {
                String::from_utf8_lossy(&l)
                    .replace("FLAGS (\\Recent)", "FLAGS ()")
                    .into_bytes()
            })
            .collect()
    };
    assert_eq!(without_recent(&reply), without_recent(&first));
}

/// A page of a message list after new mail: storage is asked for the new
/// message only, and the page is answered whole from the cache, as storage
/// would have answered it. A page mostly unknown is fetched from storage
/// as it is.
#[tokio::test]
async fn a_page_with_a_new_message_asks_storage_for_that_one_only() {
    let services = services().await;
    let process = process(&services, ImapSettings::default());
    let uncached = without_cache(&services);
    let mut c = selected_with(&process, &["one", "two", "three"]).await;
    let page = "UID FETCH 1:* (UID RFC822.SIZE INTERNALDATE ENVELOPE BODYSTRUCTURE \
         BODY.PEEK[HEADER.FIELDS (FROM SUBJECT)])";
    fetch(&mut c, page).await;
    assert_eq!(process.fetch_cache.hits(), 0);
    append_all(&mut c, &["four"]).await;

    let reply = fetch(&mut c, page).await;
    assert_eq!(
        process.fetch_cache.hits(),
        4,
        "the whole page from the cache"
    );
    let mut reference = login(&uncached).await;
    ok(&mut reference, "SELECT INBOX").await;
    let from_storage = fetch(&mut reference, page).await;
    assert_eq!(untagged(&reply), untagged(&from_storage));
    assert!(
        format!("{:?}", reply.fetch(4).expect("message 4").item("ENVELOPE")).contains("four"),
        "{reply:?}"
    );

    // Two new of six: more known than not, filled; then UIDs 5 to 10, of
    // which only 5 and 6 are known: storage answers as it is.
    append_all(&mut c, &["five", "six"]).await;
    fetch(&mut c, page).await;
    assert_eq!(process.fetch_cache.hits(), 10);
    append_all(&mut c, &["seven", "eight", "nine", "ten"]).await;
    fetch(&mut c, "UID FETCH 5:* (ENVELOPE)").await;
    assert_eq!(process.fetch_cache.hits(), 10, "two known of six: storage");
}

#[tokio::test]
async fn a_cached_answer_carries_the_flags_and_expunges_of_other_sessions() {
    let services = services().await;
    let process = process(&services, ImapSettings::default());
    let mut a = selected_with(&process, &["m1", "m2", "m3"]).await;
    fetch(&mut a, "FETCH 1:3 (FLAGS ENVELOPE)").await;
    let mut b = login(&process).await;
    ok(&mut b, "SELECT INBOX").await;
    ok(&mut b, "UID STORE 2 +FLAGS (\\Flagged $Work)").await;
    ok(&mut b, "UID STORE 1 +FLAGS (\\Deleted)").await;
    ok(&mut b, "EXPUNGE").await;

    let hits = process.fetch_cache.hits();
    let reply = a.run("FETCH 1:3 (FLAGS ENVELOPE)").await.expect("FETCH");
    assert!(
        process.fetch_cache.hits() > hits,
        "from the cache: {reply:?}"
    );
    assert_eq!(reply.status(), Status::Ok, "{reply:?}");
    assert!(reply.has_code("EXPUNGEISSUED"), "{reply:?}");
    // Message 1's \\Deleted may come (its flags changed), but nothing of
    // its envelope.
    let with_envelope = |seq: u32| {
        reply
            .fetches()
            .into_iter()
            .filter(|f| f.seq == seq && f.item("ENVELOPE").is_some())
            .count()
    };
    assert_eq!(with_envelope(1), 0, "the expunged message: {reply:?}");
    assert_eq!(with_envelope(2), 1, "{reply:?}");
    let second = reply
        .fetches()
        .into_iter()
        .find(|f| f.seq == 2 && f.item("ENVELOPE").is_some())
        .expect("FETCH 2");
    assert!(
        second.has_flag("\\Flagged") && second.has_flag("$Work"),
        "{reply:?}"
    );
    assert!(
        announced_before_carried(&reply, "$Work"),
        "$Work announced in FLAGS after a FETCH carried it: {reply:?}"
    );
    let reply = ok(&mut a, "NOOP").await;
    assert_eq!(reply.expunged(), vec![1], "{reply:?}");
}

/// The subject of message 1's ENVELOPE in `reply`.
fn subject_of_first(reply: &Reply) -> String {
    let f = reply.fetch(1).expect("message 1");
    format!("{:?}", f.item("ENVELOPE").expect("ENVELOPE"))
}

#[tokio::test]
async fn another_users_message_of_the_same_mailbox_and_uid_is_their_own() {
    let services = services().await;
    services.add_user("bob", "pw-bob").await.expect("bob");
    let process = process(&services, ImapSettings::default());
    let mut alice = selected_with(&process, &["for-alice"]).await;
    let mut bob = login_as(&process, "bob", "pw-bob").await;
    let m = message("for-bob", "body");
    assert!(bob.append("INBOX", &[], &m).await.expect("APPEND").is_ok());
    ok(&mut bob, "SELECT INBOX").await;

    let reply = fetch(&mut alice, "FETCH 1 (ENVELOPE)").await;
    assert!(subject_of_first(&reply).contains("for-alice"), "{reply:?}");
    let reply = fetch(&mut bob, "FETCH 1 (ENVELOPE)").await;
    assert!(subject_of_first(&reply).contains("for-bob"), "{reply:?}");
    assert_eq!(process.fetch_cache.hits(), 0);
}

/// A guest's right to read is the owner's storage's to check at every
/// call: a guest is never answered from the cache, and a right taken back
/// while the guest has the mailbox selected stops their next FETCH.
#[tokio::test]
async fn a_guest_in_a_shared_mailbox_is_answered_by_storage() {
    let services = services().await;
    services.add_user("bob", "pw-bob").await.expect("bob");
    services.set_sharing_owners("bob", &[super::USER]);
    let process = process(&services, ImapSettings::default());
    let mut alice = login(&process).await;
    ok(&mut alice, "CREATE Projects").await;
    let m = message("plan", "the plan");
    assert!(
        alice
            .append("Projects", &[], &m)
            .await
            .expect("APPEND")
            .is_ok()
    );
    ok(&mut alice, "SETACL Projects bob lr").await;
    ok(&mut alice, "SELECT Projects").await;
    fetch(&mut alice, "FETCH 1 (ENVELOPE)").await;
    let mut bob = login_as(&process, "bob", "pw-bob").await;
    ok(&mut bob, "EXAMINE shared.alice.Projects").await;

    let hits = process.fetch_cache.hits();
    for _ in 0..2 {
        let reply = fetch(&mut bob, "FETCH 1 (ENVELOPE)").await;
        assert!(subject_of_first(&reply).contains("plan"), "{reply:?}");
    }
    assert_eq!(
        process.fetch_cache.hits(),
        hits,
        "bob was answered by storage"
    );
    ok(&mut alice, "DELETEACL Projects bob").await;
    // The mailbox is gone for bob: a NO, or (as for a mailbox deleted
    // while selected) a BYE and the end of the session; no envelope.
    if let Ok(reply) = bob.run("FETCH 1 (ENVELOPE)").await {
        assert!(reply.status() != Status::Ok || reply.has_bye(), "{reply:?}");
        assert!(
            reply.fetches().iter().all(|f| f.item("ENVELOPE").is_none()),
            "{reply:?}"
        );
    }
    // The owner still is.
    fetch(&mut alice, "FETCH 1 (ENVELOPE)").await;
    assert_eq!(process.fetch_cache.hits(), hits + 1);
}

#[tokio::test]
async fn a_mailbox_made_again_under_its_old_name_is_not_answered_from_the_cache() {
    let services = services().await;
    let process = process(&services, ImapSettings::default());
    let mut c = login(&process).await;
    for subject in ["old", "new"] {
        ok(&mut c, "CREATE Box").await;
        let m = message(subject, "body");
        assert!(c.append("Box", &[], &m).await.expect("APPEND").is_ok());
        ok(&mut c, "SELECT Box").await;
        let reply = fetch(&mut c, "FETCH 1 (ENVELOPE)").await;
        assert!(subject_of_first(&reply).contains(subject), "{reply:?}");
        ok(&mut c, "UNSELECT").await;
        ok(&mut c, "DELETE Box").await;
    }
    assert_eq!(process.fetch_cache.hits(), 0);
}

/// The cache keeps values, not bytes: a session that enabled UTF8=ACCEPT
/// and one that did not each get from it what storage would have given a
/// session like theirs (8-bit text in a subject, a parameter and a header
/// section included).
#[tokio::test]
async fn a_cached_answer_is_what_storage_gives_a_session_of_the_same_kind() {
    let services = services().await;
    let process = process(&services, ImapSettings::default());
    let uncached = without_cache(&services);
    let mut c = login(&process).await;
    let m = "From: Jörg <j@example.org>\r\nSubject: Grüße\r\n\
             Content-Type: text/plain; charset=utf-8; name=\"Grüße.txt\"\r\n\r\nbody\r\n";
    assert!(
        c.append("INBOX", &[], m.as_bytes())
            .await
            .expect("APPEND")
            .is_ok()
    );
    let command = "FETCH 1 (ENVELOPE BODYSTRUCTURE BODY.PEEK[HEADER.FIELDS (SUBJECT)])";
    for enable in [None, Some("ENABLE UTF8=ACCEPT")] {
        let mut answers = Vec::new();
        for serving in [&process, &uncached, &process] {
            let mut client = login(serving).await;
            if let Some(enable) = enable {
                ok(&mut client, enable).await;
            }
            ok(&mut client, "SELECT INBOX").await;
            answers.push(untagged(&fetch(&mut client, command).await));
        }
        assert_eq!(
            answers[0], answers[1],
            "{enable:?}: storage, with and without a cache"
        );
        assert_eq!(answers[2], answers[1], "{enable:?}: from the cache");
    }
    // The first FETCH in each kind filled the cache or found it filled;
    // the third was answered from it.
    assert_eq!(process.fetch_cache.hits(), 3);
}

#[tokio::test]
async fn with_no_cache_every_fetch_asks_storage() {
    let services = services().await;
    let process = without_cache(&services);
    let mut c = selected_with(&process, &["one", "two"]).await;
    let command = format!("UID FETCH 1:2 {LIST_VIEW}");
    let first = fetch(&mut c, &command).await;
    let second = fetch(&mut c, &command).await;
    assert_eq!(untagged(&second), untagged(&first));
    assert_eq!(process.fetch_cache.hits(), 0);
}
