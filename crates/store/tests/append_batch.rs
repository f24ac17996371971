//! MULTIAPPEND (RFC 3502) and REPLACE (RFC 8508) in the store: a batch of
//! staged messages is committed all or none, and a REPLACE expunges its
//! message in the transaction that adds the new one.

#[allow(dead_code)]
mod common;

use common::{append, read_with_size, temp_store};
use mailkeep_store::{Flags, ReplaceTarget, StagedMessage, Store, StoreError, UidRange};

/// `body` staged for `mailbox` (kept for the append journal: no file),
/// not yet committed.
fn stage(store: &Store, mailbox: &str, body: &[u8], flags: &[&str]) -> StagedMessage {
    let mut w = store
        .begin_append(
            mailbox,
            Flags::parse(flags).unwrap(),
            None,
            body.len() as u64,
        )
        .unwrap();
    w.write(body).unwrap();
    w.finish().unwrap()
}

fn tmp_files(store: &Store) -> usize {
    std::fs::read_dir(store.root().join("tmp")).unwrap().count()
}

fn cur_files(store: &Store, dir: &str) -> usize {
    std::fs::read_dir(store.root().join(dir).join("cur"))
        .unwrap()
        .count()
}

#[test]
fn a_batch_is_indexed_in_one_transaction_with_consecutive_uids() {
    let (_d, store) = temp_store();
    let before = store.status("INBOX").unwrap();
    let staged = vec![
        stage(&store, "INBOX", b"first\r\n", &["\\Seen"]),
        stage(&store, "inbox", b"second\r\n", &[]),
        stage(&store, "INBOX", b"third\r\n", &["$Work"]),
    ];
    // Staged messages wait in memory (journaled at the commit, their
    // files written from the journal later), invisible to the mailbox.
    assert_eq!(tmp_files(&store), 0);
    assert_eq!(store.status("INBOX").unwrap().messages, 0);
    let batch = store.commit_appends(staged, None).unwrap();
    assert_eq!(batch.uids, [1, 2, 3]);
    assert_eq!(batch.uidvalidity, before.uidvalidity);
    assert!(batch.replaced.is_none());
    let after = store.status("INBOX").unwrap();
    assert_eq!((after.messages, after.uidnext), (3, 4));
    assert_eq!(after.highestmodseq, batch.modseq);
    let metas = store.fetch("INBOX", 0, &[UidRange::all()]).unwrap();
    assert!(metas.iter().all(|m| m.modseq == batch.modseq));
    assert_eq!(metas[2].flags.names(), ["$Work"]);
    assert_eq!(read_with_size(&store, "INBOX", 2).0, b"second\r\n");
    assert_eq!(tmp_files(&store), 0);
}

#[test]
fn a_failed_message_leaves_none_of_its_batch() {
    let (_d, store) = temp_store();
    let good = stage(&store, "INBOX", b"fine\r\n", &[]);
    let mut short = store
        .begin_append("INBOX", Flags::default(), None, 100)
        .unwrap();
    short.write(b"too short").unwrap();
    assert!(matches!(
        short.finish(),
        Err(StoreError::SizeMismatch { .. })
    ));
    // The caller gives up on the batch: the staged message goes too.
    drop(good);
    assert_eq!(tmp_files(&store), 0);
    assert_eq!(store.status("INBOX").unwrap().messages, 0);

    // A batch whose mailbox went away before the commit: nothing stays,
    // neither in tmp/ nor in any cur/.
    store.create("Gone").unwrap();
    let staged = vec![
        stage(&store, "Gone", b"a\r\n", &[]),
        stage(&store, "Gone", b"b\r\n", &[]),
    ];
    store.delete("Gone").unwrap();
    assert!(matches!(
        store.commit_appends(staged, None),
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(tmp_files(&store), 0);
    assert_eq!(cur_files(&store, ""), 0);
}

#[test]
fn a_batch_for_two_mailboxes_is_refused() {
    let (_d, store) = temp_store();
    store.create("Work").unwrap();
    let staged = vec![
        stage(&store, "INBOX", b"a\r\n", &[]),
        stage(&store, "Work", b"b\r\n", &[]),
    ];
    assert!(matches!(
        store.commit_appends(staged, None),
        Err(StoreError::InvalidArgument(_))
    ));
    assert_eq!(tmp_files(&store), 0);
    assert!(matches!(
        store.commit_appends(Vec::new(), None),
        Err(StoreError::InvalidArgument(_))
    ));
}

#[test]
fn replace_expunges_the_old_message_with_the_new_ones_commit() {
    let (_d, store) = temp_store();
    store.create("Drafts").unwrap();
    store.create("Sent").unwrap();
    let old = append(&store, "Drafts", b"draft 1\r\n", &["\\Draft"]);
    let mark = store.status("Drafts").unwrap().highestmodseq;

    // Same mailbox: the new draft in, the old one out.
    let target = ReplaceTarget {
        mailbox: "Drafts".into(),
        uidvalidity: old.uidvalidity,
        uid: old.uid,
    };
    let staged = vec![stage(&store, "Drafts", b"draft 2\r\n", &["\\Draft"])];
    let batch = store.commit_appends(staged, Some(&target)).unwrap();
    let replaced = batch.replaced.clone().unwrap();
    assert_eq!(
        (replaced.mailbox.as_str(), replaced.uid),
        ("Drafts", old.uid)
    );
    let changes = store
        .changes_since("Drafts", old.uidvalidity, mark)
        .unwrap();
    assert_eq!(changes.vanished, [old.uid]);
    assert_eq!(
        changes.changed.iter().map(|m| m.uid).collect::<Vec<_>>(),
        batch.uids
    );
    assert!(batch.modseq < replaced.highestmodseq);
    assert_eq!(changes.status.highestmodseq, replaced.highestmodseq);
    assert_eq!(cur_files(&store, ".Drafts"), 1);

    // Another mailbox: the draft is sent.
    let draft = batch.uids[0];
    let target = ReplaceTarget {
        mailbox: "Drafts".into(),
        uidvalidity: 0,
        uid: draft,
    };
    let staged = vec![stage(&store, "Sent", b"sent\r\n", &["\\Seen"])];
    let sent = store.commit_appends(staged, Some(&target)).unwrap();
    assert_eq!(store.status("Drafts").unwrap().messages, 0);
    assert_eq!(store.status("Sent").unwrap().messages, 1);
    assert_eq!(sent.replaced.unwrap().uid, draft);
    assert_eq!(cur_files(&store, ".Drafts"), 0);
}

#[test]
fn replace_of_a_message_gone_meanwhile_appends_nothing() {
    let (_d, store) = temp_store();
    let old = append(&store, "INBOX", b"old\r\n", &["\\Deleted"]);
    store.expunge("INBOX", 0, None).unwrap();
    let target = ReplaceTarget {
        mailbox: "INBOX".into(),
        uidvalidity: old.uidvalidity,
        uid: old.uid,
    };
    let staged = vec![stage(&store, "INBOX", b"new\r\n", &[])];
    assert!(matches!(
        store.commit_appends(staged, Some(&target)),
        Err(StoreError::Expunged { .. })
    ));
    // A stale UIDVALIDITY is refused as such.
    let still = append(&store, "INBOX", b"still\r\n", &[]);
    let stale = ReplaceTarget {
        mailbox: "INBOX".into(),
        uidvalidity: old.uidvalidity + 1,
        uid: still.uid,
    };
    let staged = vec![stage(&store, "INBOX", b"new\r\n", &[])];
    assert!(matches!(
        store.commit_appends(staged, Some(&stale)),
        Err(StoreError::UidValidityChanged { .. })
    ));
    assert_eq!(store.status("INBOX").unwrap().messages, 1);
    assert_eq!(tmp_files(&store), 0);
    assert_eq!(cur_files(&store, ""), 1);
}
