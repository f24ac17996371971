//! `\Recent` claims: each message goes to one claimer; a claim with
//! nothing new writes nothing; a new UIDVALIDITY starts over; the count
//! of what no one claimed.

#[allow(dead_code)]
mod common;

use common::temp_store;
use mailkeep_store::StoreError;

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
