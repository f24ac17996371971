//! The usage cap checked inside the adding transaction (issue 11): two
//! store handles on one owner's Maildir stand for two storage processes
//! of that owner (separate connections, separate commit queues). Both
//! see room for one more message and both go on to commit; only the first
//! commit passes, whichever order their checks ran in.

#[allow(dead_code)]
mod common;

use common::{append, root_of, temp_store};
use mailkeep_store::{Flags, StagedMessage, Store, StoreError, UidRange, UsageCap};

fn staged(store: &Store, mailbox: &str, body: &[u8]) -> StagedMessage {
    let mut w = store
        .begin_append(mailbox, Flags::default(), None, body.len() as u64)
        .unwrap();
    w.write(body).unwrap();
    w.finish().unwrap()
}

fn files_in_cur(store: &Store) -> usize {
    // Every committed message's file written from the append journal.
    store.flush_journal().unwrap();
    std::fs::read_dir(store.root().join("cur")).unwrap().count()
}

const BODY: &[u8] = b"Subject: cap\r\n\r\nsome text\r\n";

/// Room for one more message: both handles see it, both stage a message;
/// the second commit is refused OVERQUOTA, its file removed, the usage
/// exactly at the limit.
#[test]
fn two_handles_cannot_both_commit_into_the_last_room() {
    let (dir, first) = temp_store();
    append(&first, "INBOX", BODY, &[]);
    let second = Store::open(&root_of(&dir)).unwrap();
    let cap = UsageCap {
        bytes: None,
        messages: Some(2),
    };
    first.set_usage_cap(cap);
    second.set_usage_cap(cap);
    // Both "processes" check first and find room (the early check)...
    assert_eq!(first.quota_usage().unwrap().1, 1);
    assert_eq!(second.quota_usage().unwrap().1, 1);
    let a = staged(&first, "INBOX", BODY);
    let b = staged(&second, "INBOX", BODY);
    // ...then commit: one wins, the other is refused in its transaction.
    first.commit_appends(vec![a], None).unwrap();
    let err = second.commit_appends(vec![b], None).unwrap_err();
    assert!(matches!(err, StoreError::OverQuota { .. }), "{err:?}");
    assert_eq!(second.quota_usage().unwrap(), first.quota_usage().unwrap());
    assert_eq!(first.quota_usage().unwrap().1, 2);
    assert_eq!(
        files_in_cur(&first),
        2,
        "the refused message's file is gone"
    );
    assert_eq!(second.status("INBOX").unwrap().messages, 2);
    assert!(second.verify().unwrap().is_ok());
}

/// The storage limit is checked in bytes the same way, and a REPLACE
/// (its own transaction, not the group commit) too.
#[test]
fn the_byte_limit_holds_in_both_commit_paths() {
    let (dir, first) = temp_store();
    let kept = append(&first, "INBOX", BODY, &[]);
    let second = Store::open(&root_of(&dir)).unwrap();
    let used = first.quota_usage().unwrap().0;
    let cap = UsageCap {
        bytes: Some(used + BODY.len() as u64),
        messages: None,
    };
    first.set_usage_cap(cap);
    second.set_usage_cap(cap);
    let a = staged(&first, "INBOX", BODY);
    let b = staged(&second, "INBOX", BODY);
    second.commit_appends(vec![b], None).unwrap();
    let err = first.commit_appends(vec![a], None).unwrap_err();
    assert!(matches!(err, StoreError::OverQuota { .. }), "{err:?}");
    // A REPLACE of a message by a bigger one passes the limit even after
    // what it frees: refused in its transaction, the old one kept.
    let bigger = [BODY, b"more\r\n"].concat();
    let replace = mailkeep_store::ReplaceTarget {
        mailbox: "INBOX".into(),
        uidvalidity: 0,
        uid: kept.uid,
    };
    let c = staged(&first, "INBOX", &bigger);
    let err = first.commit_appends(vec![c], Some(&replace)).unwrap_err();
    assert!(matches!(err, StoreError::OverQuota { .. }), "{err:?}");
    assert_eq!(first.status("INBOX").unwrap().messages, 2);
    assert_eq!(files_in_cur(&first), 2);
}

/// COPY adds to the usage and is refused past the cap; MOVE does not
/// change it and passes; a message marked outside the quota (the
/// plugin's warning) and an unlimited cap always pass.
#[test]
fn copies_are_capped_moves_and_warnings_are_not() {
    let (dir, first) = temp_store();
    append(&first, "INBOX", BODY, &[]);
    first.create("Archive").unwrap();
    let second = Store::open(&root_of(&dir)).unwrap();
    let cap = UsageCap {
        bytes: None,
        messages: Some(1),
    };
    second.set_usage_cap(cap);
    let all = [UidRange { first: 1, last: 1 }];
    let err = second
        .copy_messages("INBOX", 0, &all, "Archive")
        .unwrap_err();
    assert!(matches!(err, StoreError::OverQuota { .. }), "{err:?}");
    assert_eq!(second.status("Archive").unwrap().messages, 0);
    let moved = second.move_messages("INBOX", 0, &all, "Archive").unwrap();
    assert_eq!(moved.new_uids.len(), 1);
    let mut w = second
        .begin_append("INBOX", Flags::default(), None, BODY.len() as u64)
        .unwrap();
    w.outside_quota();
    w.write(BODY).unwrap();
    second
        .commit_appends(vec![w.finish().unwrap()], None)
        .unwrap();
    assert_eq!(
        second.quota_usage().unwrap().1,
        2,
        "over the cap, by design"
    );
    // Without the plugin's limits nothing is refused.
    second.set_usage_cap(UsageCap::default());
    assert!(second.usage_cap().is_unlimited());
    append(&second, "INBOX", BODY, &[]);
    assert_eq!(second.quota_usage().unwrap().1, 3);
}
