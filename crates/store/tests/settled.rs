//! Settled reads answer only when no scan is needed: right after an
//! outside change they decline (the ordinary read then syncs), and they
//! decline reads that grow with a big mailbox (a whole message list),
//! but not reads of a few of its messages or of its few recent changes.

#[allow(dead_code)]
mod common;

use common::{root_of, temp_store};
use mailkeep_store::{Flags, Store, UidRange};

/// More messages than a settled read lists at once (the store's
/// `SMALL_MAILBOX` is 2,000).
const BIG: u32 = 2_050;

/// Appends `count` small messages to the INBOX in one commit.
fn fill(store: &Store, count: u32) {
    let staged = (0..count)
        .map(|n| {
            let body = format!("Subject: {n}\r\n\r\nbody {n}\r\n");
            let mut w = store
                .begin_append("INBOX", Flags::default(), None, body.len() as u64)
                .unwrap();
            w.write(body.as_bytes()).unwrap();
            w.finish().unwrap()
        })
        .collect();
    store.commit_appends(staged, None).unwrap();
}

#[test]
fn a_settled_read_declines_after_an_outside_change_until_a_sync() {
    let (dir, store) = temp_store();
    common::append(&store, "INBOX", b"Subject: a\r\n\r\none\r\n", &[]);
    // The ordinary read syncs and leaves a reader in the pool.
    let before = store.status("INBOX").unwrap();
    let settled = store.status_if_settled("INBOX").unwrap();
    assert_eq!(settled.map(|s| s.messages), Some(before.messages));
    let uv = before.uidvalidity;
    let fetched = store
        .fetch_if_settled("INBOX", uv, &[UidRange::all()])
        .unwrap();
    assert_eq!(fetched.map(|m| m.len()), Some(1));
    let changes = store.changes_if_settled("INBOX", uv, 0).unwrap();
    assert_eq!(changes.map(|c| c.changed.len()), Some(1));
    let selected = store.select_if_settled("INBOX").unwrap();
    assert_eq!(selected, Some(store.select("INBOX").unwrap()));

    // Another program drops a message in: the settled reads decline...
    std::fs::write(
        root_of(&dir).join("new").join("outside.1"),
        b"Subject: b\r\n\r\ntwo\r\n",
    )
    .unwrap();
    assert!(store.status_if_settled("INBOX").unwrap().is_none());
    assert!(
        store
            .fetch_if_settled("INBOX", uv, &[UidRange::all()])
            .unwrap()
            .is_none()
    );
    assert!(store.changes_if_settled("INBOX", uv, 0).unwrap().is_none());
    assert!(store.select_if_settled("INBOX").unwrap().is_none());
    // ...the ordinary read picks it up, and then they answer again.
    assert_eq!(store.status("INBOX").unwrap().messages, 2);
    assert_eq!(
        store
            .status_if_settled("INBOX")
            .unwrap()
            .map(|s| s.messages),
        Some(2)
    );
}

#[test]
fn settled_reads_keep_their_errors() {
    let (_dir, store) = temp_store();
    let uv = store.status("INBOX").unwrap().uidvalidity;
    assert!(matches!(
        store.status_if_settled("Nope"),
        Err(mailkeep_store::StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.fetch_if_settled("INBOX", uv + 1, &[UidRange::all()]),
        Err(mailkeep_store::StoreError::UidValidityChanged { .. })
    ));
}

#[test]
fn a_big_mailbox_answers_settled_reads_of_a_few_messages_and_of_recent_changes() {
    let (_dir, store) = temp_store();
    fill(&store, BIG);
    let status = store.status("INBOX").unwrap();
    assert_eq!(status.messages, BIG);
    let uv = status.uidvalidity;
    // The whole list grows with the mailbox: declined.
    assert!(
        store
            .fetch_if_settled("INBOX", uv, &[UidRange::all()])
            .unwrap()
            .is_none()
    );
    assert!(store.select_if_settled("INBOX").unwrap().is_none());
    assert!(store.changes_if_settled("INBOX", uv, 0).unwrap().is_none());
    // One message, and what changed since the last poll: answered.
    let one = store
        .fetch_if_settled("INBOX", uv, &[UidRange::new(7, 7)])
        .unwrap()
        .expect("a fetch of one message answers at once");
    assert_eq!(one.iter().map(|m| m.uid).collect::<Vec<_>>(), vec![7]);
    let quiet = store
        .changes_if_settled("INBOX", uv, status.highestmodseq)
        .unwrap()
        .expect("a poll with nothing new answers at once");
    assert!(quiet.changed.is_empty() && quiet.vanished.is_empty());
    // A flag change and an expunge since: both reported.
    store
        .store_flags(
            "INBOX",
            uv,
            &[UidRange::new(3, 3)],
            mailkeep_store::StoreMode::Add,
            &["\\Deleted"],
            None,
        )
        .unwrap();
    let before_expunge = store.status("INBOX").unwrap().highestmodseq;
    store.expunge("INBOX", uv, None).unwrap();
    let since = store
        .changes_if_settled("INBOX", uv, status.highestmodseq)
        .unwrap()
        .expect("a few changes answer at once");
    assert!(since.changed.is_empty(), "the flagged message is gone");
    assert_eq!(since.vanished, vec![3]);
    let after = store
        .changes_if_settled("INBOX", uv, before_expunge)
        .unwrap()
        .expect("answered");
    assert_eq!(after.vanished, vec![3]);
}

#[test]
fn an_index_made_before_the_expunged_modseq_index_gets_it_when_opened() {
    let (dir, store) = temp_store();
    common::append(
        &store,
        "INBOX",
        b"Subject: a\r\n\r\none\r\n",
        &["\\Deleted"],
    );
    let status = store.status("INBOX").unwrap();
    store.expunge("INBOX", status.uidvalidity, None).unwrap();
    drop(store);
    let index = root_of(&dir).join(mailkeep_store::INDEX_FILE);
    let conn = rusqlite::Connection::open(&index).unwrap();
    conn.execute_batch("DROP INDEX expunged_by_modseq").unwrap();
    drop(conn);
    let store = Store::open(&root_of(&dir)).unwrap();
    let changes = store
        .changes_since("INBOX", status.uidvalidity, status.highestmodseq)
        .unwrap();
    assert_eq!(changes.vanished, vec![1]);
}

/// The cached structures of a message list are read in one pass over its
/// rows: every message gets its own, in the order asked, whether the
/// list has gaps (expunged messages), messages not cached yet, or lies
/// spread out (read one by one then) or out of order.
#[test]
fn cached_structures_of_a_list_are_each_messages_own() {
    let (_dir, store) = temp_store();
    fill(&store, 12);
    let v = store.status("INBOX").unwrap().uidvalidity;
    store
        .store_flags(
            "INBOX",
            v,
            &[UidRange::new(4, 4), UidRange::new(7, 7)],
            mailkeep_store::StoreMode::Add,
            &["\\Deleted"],
            None,
        )
        .unwrap();
    store.expunge("INBOX", v, None).unwrap();
    let subject = |s: &mailkeep_store::Structure| s.envelope.subject.clone();
    // Some cached, some not: the settled read declines to parse.
    for uid in [1, 2, 5, 9] {
        store.message_structure("INBOX", v, uid).unwrap();
    }
    let partly = store
        .fetch_with_structures_if_settled("INBOX", v, &[UidRange::all()])
        .unwrap()
        .expect("a small settled mailbox");
    assert!(partly.1.is_none(), "structures of messages not cached yet");
    let all: Vec<u32> = (1..=12).filter(|u| *u != 4 && *u != 7).collect();
    let listed = store.message_structures("INBOX", v, &all).unwrap();
    assert_eq!(listed.iter().map(|(u, _)| *u).collect::<Vec<_>>(), all);
    for (uid, s) in &listed {
        let alone = store.message_structure("INBOX", v, *uid).unwrap();
        assert_eq!(subject(s), alone.envelope.subject, "UID {uid}");
        assert_eq!(s, &alone, "UID {uid}");
    }
    let settled = store
        .fetch_with_structures_if_settled("INBOX", v, &[UidRange::all()])
        .unwrap()
        .expect("a small settled mailbox")
        .1
        .expect("every structure cached now");
    assert_eq!(settled, listed);
    // Expunged UIDs in the list are left out; spread out and out of
    // order, each still gets its own.
    for uids in [vec![1, 4, 12], vec![12, 3, 1], vec![2, 3, 5, 6, 7, 8]] {
        let got = store.message_structures("INBOX", v, &uids).unwrap();
        let want: Vec<u32> = uids
            .iter()
            .copied()
            .filter(|u| *u != 4 && *u != 7)
            .collect();
        assert_eq!(got.iter().map(|(u, _)| *u).collect::<Vec<_>>(), want);
        for (uid, s) in got {
            let expected = Some(format!("{}", uid - 1).into_bytes());
            assert_eq!(subject(&s), expected, "UID {uid} of {uids:?}");
        }
    }
}
