//! What an owner whose sessions only watch costs a storage process, and
//! that its watchers still hear everything: no index file stays open once
//! the owner is released (changes of other processes come by inotify on
//! the index's WAL, not through a probe connection), mail that another
//! program drops into `new/` is announced, and the watches go away once
//! nobody watched the owner for the idle time.

#[allow(dead_code)]
mod common;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use common::{Harness, OWNER, Process, TestKey, append, mailbox_status, next_event, watch};
use mailkeep_storage_rpc::storage::mailbox_event::Event;
use mailkeep_storage_rpc::storage::*;
use mailkeep_storage_server::{StorageSettings, Tuning};
use tokio::time::Instant;

/// Longest wait for something the server does by itself (a release at
/// its next check, a watcher's stream noticed gone).
const PATIENCE: Duration = Duration::from_secs(20);

/// Open descriptors of this (test) process on the index files under
/// `root`.
fn index_files_open(root: &Path) -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|t| {
            t.starts_with(root)
                && t.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(mailkeep_store::INDEX_FILE))
        })
        .count()
}

/// inotify watches of this process on the directory `dir` (from the
/// `inotify wd:` lines of /proc/self/fdinfo, which name the inode).
fn inotify_watches_on(dir: &Path) -> usize {
    let ino = format!(" ino:{:x} ", std::fs::metadata(dir).unwrap().ino());
    std::fs::read_dir("/proc/self/fdinfo")
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
        .map(|info| {
            info.lines()
                .filter(|l| l.starts_with("inotify wd:") && l.contains(&ino))
                .count()
        })
        .sum()
}

/// Waits until `done` holds, checking at each of the server's own steps;
/// panics with `what` after [`PATIENCE`].
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(Instant::now() < deadline, "not reached in time: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn changed(event: Event) -> MailboxChanged {
    match event {
        Event::Changed(c) => c,
        other => panic!("expected a mailbox event, got {other:?}"),
    }
}

/// A storage process of a fresh home whose owners without a call are
/// released at every check (idle time zero), and its key.
fn released_at_every_check() -> (tempfile::TempDir, TestKey, Process) {
    let home = tempfile::tempdir().unwrap();
    let key = TestKey::generate();
    let settings = StorageSettings {
        owner: OWNER.into(),
        home: home.path().to_path_buf(),
        maildir: None,
    };
    let tuning = Tuning {
        release_idle_every: Duration::ZERO,
        ..Tuning::default()
    };
    let process = Process::start_with(settings, tuning, &key);
    (home, key, process)
}

#[tokio::test]
async fn a_watched_owner_without_calls_holds_no_index_file_and_still_hears_other_processes() {
    let (home, key, process) = released_at_every_check();
    let root = home.path().join("Maildir");
    let t = common::ticket_signed_with(&key, OWNER, mailkeep_ticket::Scope::Session);
    let mut events = watch(process.channel(1).await, &t, "INBOX").await;

    until("the watched owner's index closed", || {
        index_files_open(&root) == 0
    })
    .await;
    assert_eq!(
        inotify_watches_on(&root),
        1,
        "the index's directory is watched"
    );
    assert_eq!(
        inotify_watches_on(&root.join("new")),
        1,
        "INBOX's new/ is watched"
    );

    let second = Process::start(home.path(), &key);
    let mut c = second.client(1).await;
    let a = append(&mut c, &t, "INBOX", b"Subject: x\r\n\r\nbody\r\n").await;
    let e = changed(next_event(&mut events, Duration::from_secs(5)).await);
    assert_eq!(e.mailbox, "INBOX");
    assert_eq!(e.highestmodseq, a.modseq);
    assert_eq!(e.kind(), WatchChangeKind::NewMessages);

    // The read that found the change left nothing open behind it.
    drop(c);
    second.stop().await.unwrap();
    until(
        "the second process's files closed and none reopened",
        || index_files_open(&root) == 0,
    )
    .await;
}

#[tokio::test]
async fn mail_another_program_drops_into_new_reaches_a_watcher() {
    let h = Harness::start();
    let t = h.ticket();
    let mut events = watch(h.channel(1).await, &t, "INBOX").await;

    // As an MDA delivers: written to tmp/, renamed into new/.
    let tmp = h.maildir().join("tmp").join("1700000000.M1P1.elsewhere");
    std::fs::write(&tmp, b"Subject: dropped\r\n\r\nfrom outside\r\n").unwrap();
    std::fs::rename(
        &tmp,
        h.maildir().join("new").join("1700000000.M1P1.elsewhere"),
    )
    .unwrap();

    let e = changed(next_event(&mut events, Duration::from_secs(5)).await);
    assert_eq!(e.mailbox, "INBOX");
    assert_eq!(e.kind(), WatchChangeKind::NewMessages);
    let mut c = h.client(2).await;
    let status = mailbox_status(&mut c, &t, "INBOX").await.unwrap();
    assert_eq!(status.messages, 1, "{status:?}");
}

/// The owner's watches outlive its last watcher until the owner is idle
/// (here: released at every check), so a session that selects and leaves
/// again and again does not add and remove them each time; then they go.
#[tokio::test]
async fn the_owners_inotify_watches_go_once_nobody_watched_it_for_the_idle_time() {
    let (home, key, process) = released_at_every_check();
    let root = home.path().join("Maildir");
    let t = common::ticket_signed_with(&key, OWNER, mailkeep_ticket::Scope::Session);
    let first = watch(process.channel(1).await, &t, "INBOX").await;
    let second = watch(process.channel(2).await, &t, "").await;
    assert_eq!(inotify_watches_on(&root), 1, "one watch for both watchers");

    drop(first);
    drop(second);
    until("the owner's watches removed", || {
        inotify_watches_on(&root) == 0 && inotify_watches_on(&root.join("new")) == 0
    })
    .await;

    // Watching again watches again, and hears another process.
    let mut events = watch(process.channel(3).await, &t, "INBOX").await;
    assert_eq!(inotify_watches_on(&root), 1);
    let other = Process::start(home.path(), &key);
    let mut c = other.client(1).await;
    let a = append(&mut c, &t, "INBOX", b"Subject: y\r\n\r\nbody\r\n").await;
    let e = changed(next_event(&mut events, Duration::from_secs(5)).await);
    assert_eq!(e.highestmodseq, a.modseq);
}

/// A watcher that comes moments after the owner's last one left (its
/// watches lingering, or removed if the process noticed the leave only
/// later) hears another process's change; the watches are still one per
/// directory. (The unit test of `watch::bus` shows the lingering itself.)
#[tokio::test]
async fn a_watcher_right_after_the_last_one_left_hears_other_processes() {
    let h = Harness::start();
    let t = h.ticket();
    let root = h.maildir();
    let first = watch(h.channel(1).await, &t, "INBOX").await;
    assert_eq!(inotify_watches_on(&root), 1);
    drop(first);

    let mut events = watch(h.channel(2).await, &t, "INBOX").await;
    assert_eq!(inotify_watches_on(&root), 1, "not added twice");
    assert_eq!(inotify_watches_on(&root.join("new")), 1, "not added twice");
    let other = h.another_process();
    let mut c = other.client(1).await;
    let a = append(&mut c, &t, "INBOX", b"Subject: z\r\n\r\nbody\r\n").await;
    let e = changed(next_event(&mut events, Duration::from_secs(5)).await);
    assert_eq!(e.highestmodseq, a.modseq);
}
