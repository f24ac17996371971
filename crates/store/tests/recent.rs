//! `\Recent` claims: each message goes to one claimer; a claim with
//! nothing new writes nothing; a new UIDVALIDITY starts over; the count
//! of what no one claimed; an append that claims in its own commit.

#[allow(dead_code)]
mod common;

use common::temp_store;
use mailkeep_store::{Flags, StagedMessage, Store, StoreError};

/// A message staged for `mailbox`, its batch claiming the recent
/// messages when `claim`.
fn staged(store: &Store, mailbox: &str, claim: bool) -> StagedMessage {
    let body = b"Subject: s\r\n\r\nx\r\n";
    let mut w = store
        .begin_append(mailbox, Flags::default(), None, body.len() as u64)
        .unwrap();
    if claim {
        w.claim_recent();
    }
    w.write(body).unwrap();
    w.finish().unwrap()
}

#[test]
fn each_message_is_claimed_once() {
    let (_dir, st) = temp_store();
    for _ in 0..3 {
        common::append(&st, "INBOX", b"Subject: x\r\n\r\nx\r\n", &[]);
    }
    let v = st.select("INBOX").unwrap();
    assert_eq!(v.first_recent, 1, "nothing claimed yet");
    assert_eq!(st.recent_count("INBOX").unwrap(), 3);
    let uidvalidity = v.status.uidvalidity;
    // The first claimer gets 1..=2, the next only what is left.
    assert_eq!(st.claim_recent("INBOX", uidvalidity, 2).unwrap(), 1);
    assert_eq!(st.recent_count("INBOX").unwrap(), 1);
    assert_eq!(st.claim_recent("INBOX", uidvalidity, 2).unwrap(), 3);
    assert_eq!(st.claim_recent("INBOX", uidvalidity, 3).unwrap(), 3);
    assert_eq!(st.claim_recent("INBOX", uidvalidity, 3).unwrap(), 4);
    assert_eq!(st.recent_count("INBOX").unwrap(), 0);
    assert_eq!(st.select("INBOX").unwrap().first_recent, 4);
    // A claim never moves back.
    assert_eq!(st.claim_recent("INBOX", uidvalidity, 1).unwrap(), 4);
    assert!(matches!(
        st.claim_recent("INBOX", uidvalidity + 1, 3),
        Err(StoreError::UidValidityChanged { .. })
    ));
}

#[test]
fn a_mailbox_made_again_starts_with_nothing_claimed() {
    let (_dir, st) = temp_store();
    st.create("Work").unwrap();
    common::append(&st, "Work", b"Subject: x\r\n\r\nx\r\n", &[]);
    let uidvalidity = st.select("Work").unwrap().status.uidvalidity;
    assert_eq!(st.claim_recent("Work", uidvalidity, 1).unwrap(), 1);
    st.delete("Work").unwrap();
    st.create("Work").unwrap();
    common::append(&st, "Work", b"Subject: y\r\n\r\ny\r\n", &[]);
    let again = st.select("Work").unwrap();
    assert_eq!(again.first_recent, 1);
    assert_eq!(st.recent_count("Work").unwrap(), 1);
}

#[test]
fn an_append_claims_in_its_own_commit_up_to_its_last_message() {
    let (_dir, st) = temp_store();
    // Delivered (nothing claimed), then appended by a session that has
    // INBOX selected: its claim takes the delivered message too.
    common::append(&st, "INBOX", b"Subject: x\r\n\r\nx\r\n", &[]);
    let uidvalidity = st.select("INBOX").unwrap().status.uidvalidity;
    let batch = st
        .commit_appends(
            vec![staged(&st, "INBOX", true), staged(&st, "INBOX", false)],
            None,
        )
        .unwrap();
    assert_eq!(batch.uids, [2, 3]);
    assert_eq!(batch.first_recent, Some(1));
    assert_eq!(st.recent_count("INBOX").unwrap(), 0);
    assert_eq!(
        st.claim_recent("INBOX", uidvalidity, 3).unwrap(),
        4,
        "all claimed"
    );
    // Without asking, nothing is claimed.
    let plain = st
        .commit_appends(vec![staged(&st, "INBOX", false)], None)
        .unwrap();
    assert_eq!(plain.first_recent, None);
    assert_eq!(st.recent_count("INBOX").unwrap(), 1);
    // Committed together: each batch claims what is left up to its own
    // last message, in the order they are indexed.
    st.create("Work").unwrap();
    let results = st.commit_appends_together(vec![
        vec![staged(&st, "INBOX", false)],
        vec![staged(&st, "INBOX", true)],
        vec![staged(&st, "Work", true)],
        vec![staged(&st, "INBOX", true)],
    ]);
    let batch = |i: usize| results[i].as_ref().unwrap();
    assert_eq!(
        (batch(0).uids.clone(), batch(0).first_recent),
        (vec![5], None)
    );
    assert_eq!(
        (batch(1).uids.clone(), batch(1).first_recent),
        (vec![6], Some(4))
    );
    assert_eq!(
        (batch(2).uids.clone(), batch(2).first_recent),
        (vec![1], Some(1))
    );
    assert_eq!(
        (batch(3).uids.clone(), batch(3).first_recent),
        (vec![7], Some(7))
    );
    assert_eq!(st.recent_count("INBOX").unwrap(), 0);
    assert_eq!(st.recent_count("Work").unwrap(), 0);
}

#[test]
fn list_marks_the_mailboxes_with_unclaimed_messages() {
    let (_dir, st) = temp_store();
    st.create("Work").unwrap();
    let mark = |name: &str| {
        let listed = st.list().unwrap();
        let info = listed.iter().find(|m| m.name == name).expect("listed");
        let marked = info.attributes.iter().any(|a| a == mailkeep_store::MARKED);
        let unmarked = info
            .attributes
            .iter()
            .any(|a| a == mailkeep_store::UNMARKED);
        assert!(marked != unmarked, "{info:?}");
        marked
    };
    assert!(!mark("Work") && !mark("INBOX"), "empty: nothing added");
    common::append(&st, "Work", b"Subject: x\r\n\r\nx\r\n", &[]);
    assert!(mark("Work") && !mark("INBOX"));
    // A session told of it (the SELECT's claim) unmarks it.
    let uidvalidity = st.select("Work").unwrap().status.uidvalidity;
    st.claim_recent("Work", uidvalidity, 1).unwrap();
    assert!(!mark("Work"));
    common::append(&st, "Work", b"Subject: y\r\n\r\ny\r\n", &[]);
    assert!(mark("Work"));
}
