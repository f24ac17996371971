//! What an idle owner holds: `Store::release_idle` closes the index
//! connections of a store nobody is using, the next call opens what it
//! needs again, and change detection (`ChangesProbe` plus
//! `Store::mailbox_counters`) keeps working across it.

#[allow(dead_code)]
mod common;

use std::path::Path;

use common::{append, read_message, root_of, temp_store};
use mailkeep_store::{ChangesProbe, INBOX, Store};

/// Open descriptors of this process on files under `root` whose names
/// contain `part` (the index, its WAL, ...).
fn open_files_under(root: &Path, part: &str) -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.unwrap().path()).ok())
        .filter(|target| {
            target.starts_with(root)
                && target
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().contains(part))
        })
        .count()
}

#[test]
fn an_idle_store_closes_its_connections_and_the_next_call_reopens_them() {
    let (dir, store) = temp_store();
    let root = root_of(&dir);
    let first = append(&store, INBOX, b"Subject: one\r\n\r\nfirst\r\n", &[]);
    assert_eq!(
        read_message(&store, INBOX, first.uid),
        b"Subject: one\r\n\r\nfirst\r\n"
    );
    assert!(
        open_files_under(&root, "-wal") >= 2,
        "writer and a reader are open"
    );

    assert!(store.release_idle(), "the writer and the idle reader close");
    assert_eq!(open_files_under(&root, "mailkeep.index"), 0);
    assert!(!store.release_idle(), "nothing is left to close");

    // Reads and writes open what they need again, and see everything.
    let second = append(
        &store,
        INBOX,
        b"Subject: two\r\n\r\nsecond\r\n",
        &["\\Seen"],
    );
    assert_eq!(second.uid, first.uid + 1);
    assert_eq!(
        read_message(&store, INBOX, first.uid),
        b"Subject: one\r\n\r\nfirst\r\n"
    );
    let status = store.status(INBOX).unwrap();
    assert_eq!(status.messages, 2);
    assert!(open_files_under(&root, "-wal") >= 1);
    store.verify().unwrap();
}

#[test]
fn a_bare_probe_sees_commits_of_another_store_and_counters_show_them() {
    let (dir, store) = temp_store();
    let root = root_of(&dir);
    let probe = ChangesProbe::open(&root).unwrap();
    let before = probe.data_version().unwrap();
    let counters = store.mailbox_counters().unwrap();
    let inbox = counters.iter().find(|m| m.name == INBOX).unwrap().clone();
    store.release_idle();

    // Another process's store on the same Maildir (an LDA, a sibling).
    let other = Store::open(&root).unwrap();
    append(&other, INBOX, b"Subject: new\r\n\r\ndelivered\r\n", &[]);

    assert_ne!(probe.data_version().unwrap(), before, "the commit is seen");
    let now = store.mailbox_counters().unwrap();
    let inbox_now = now.iter().find(|m| m.name == INBOX).unwrap();
    assert_eq!(inbox_now.uidnext, inbox.uidnext + 1);
    assert!(inbox_now.highestmodseq > inbox.highestmodseq);
    assert_eq!(inbox_now.uidvalidity, inbox.uidvalidity);
}

/// The counters read made for watchers of an owner without calls leaves
/// no connection open, changes nothing on disk when it closes (so it
/// cannot wake the watchers that caused it), and sees other stores'
/// commits.
#[test]
fn a_transient_counters_read_leaves_nothing_open_and_the_wal_untouched() {
    let (dir, store) = temp_store();
    let root = root_of(&dir);
    let other = Store::open(&root).unwrap();
    let before = store.mailbox_counters_transient().unwrap();
    assert!(store.release_idle());
    append(&other, INBOX, b"Subject: new\r\n\r\ndelivered\r\n", &[]);
    // The other store's files only.
    let others = open_files_under(&root, "mailkeep.index");
    let wal = root.join(mailkeep_store::INDEX_WAL_FILE);
    let stamp = |p: &Path| {
        let m = std::fs::metadata(p).unwrap();
        (m.len(), m.modified().unwrap())
    };
    let wal_before = stamp(&wal);
    let now = store.mailbox_counters_transient().unwrap();
    assert_eq!(
        open_files_under(&root, "mailkeep.index"),
        others,
        "the read closed its connection"
    );
    assert_eq!(stamp(&wal), wal_before, "closing the reader wrote nothing");
    let inbox =
        |c: &[mailkeep_store::MailboxCounters]| c.iter().find(|m| m.name == INBOX).unwrap().clone();
    assert_eq!(inbox(&now).uidnext, inbox(&before).uidnext + 1);

    // With an idle pooled reader open, the read uses it and keeps it.
    store.mailbox_counters().unwrap();
    let pooled = open_files_under(&root, "mailkeep.index");
    store.mailbox_counters_transient().unwrap();
    assert_eq!(open_files_under(&root, "mailkeep.index"), pooled);
    assert!(store.release_idle(), "the pooled reader was still there");
}
