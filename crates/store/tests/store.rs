//! Behaviour of the store on a real (temporary) Maildir.

#[allow(dead_code)]
mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::temp_store;
use mailkeep_store::{Appended, Flags, InternalDate, Store, StoreError, StoreMode, UidRange};

/// Appends through the writer in 7-byte pieces, to exercise a body that
/// arrives in many small writes.
fn append(store: &Store, mailbox: &str, body: &[u8], flags: &[&str]) -> Appended {
    common::append_with(store, mailbox, body, flags, None, 7)
}

/// The message's bytes, checked against the size the index has for it.
fn read_message(store: &Store, mailbox: &str, uid: u32) -> Vec<u8> {
    let (out, size) = common::read_with_size(store, mailbox, uid);
    assert_eq!(out.len() as u64, size);
    out
}

fn names(store: &Store) -> Vec<(String, Vec<String>)> {
    store
        .list()
        .unwrap()
        .into_iter()
        .map(|m| (m.name, m.attributes))
        .collect()
}

fn attrs(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// With a limit of three mailboxes, INBOX and two more can be had; a
/// third is refused with `Limit` (nothing made on disk), an existing name
/// is still `AlreadyExists`, and after a DELETE there is room again.
#[test]
fn create_beyond_the_mailbox_limit_is_refused_with_limit() {
    let (dir, store) = temp_store();
    store.create_within("One", 3).unwrap();
    store.create_within("Two", 3).unwrap();
    match store.create_within("Three", 3) {
        Err(StoreError::Limit { max, .. }) => assert_eq!(max, 3),
        other => panic!("a fourth mailbox: {other:?}"),
    }
    assert!(
        !common::root_of(&dir).join(".Three").exists(),
        "its folder was made"
    );
    assert!(matches!(
        store.create_within("One", 3),
        Err(StoreError::AlreadyExists { .. })
    ));
    assert_eq!(names(&store).len(), 3);
    store.delete("Two").unwrap();
    store.create_within("Three", 3).unwrap();
}

#[test]
fn create_list_delete() {
    let (_d, store) = temp_store();
    assert_eq!(
        names(&store),
        [("INBOX".into(), attrs(&["\\HasNoChildren", "\\Unmarked"]))]
    );
    store.create("Work").unwrap();
    store.create("Work.Projects").unwrap();
    store.create("a.b.c").unwrap();
    assert!(matches!(
        store.create("Work"),
        Err(StoreError::AlreadyExists { .. })
    ));
    assert!(matches!(
        store.create("inbox"),
        Err(StoreError::AlreadyExists { .. })
    ));
    assert!(matches!(
        store.create("a..b"),
        Err(StoreError::InvalidName { .. })
    ));
    assert!(matches!(
        store.create(".a"),
        Err(StoreError::InvalidName { .. })
    ));
    assert!(store.root().join(".Work.Projects/cur").is_dir());
    assert_eq!(mode(&store.root().join(".Work.Projects")), 0o700);
    assert_eq!(
        names(&store),
        [
            ("INBOX".into(), attrs(&["\\HasNoChildren", "\\Unmarked"])),
            ("Work".into(), attrs(&["\\HasChildren", "\\Unmarked"])),
            (
                "Work.Projects".into(),
                attrs(&["\\HasNoChildren", "\\Unmarked"])
            ),
            ("a".into(), attrs(&["\\Noselect", "\\HasChildren"])),
            ("a.b".into(), attrs(&["\\Noselect", "\\HasChildren"])),
            ("a.b.c".into(), attrs(&["\\HasNoChildren", "\\Unmarked"])),
        ]
    );
    assert!(matches!(
        store.delete("Work"),
        Err(StoreError::HasChildren { .. })
    ));
    assert!(matches!(store.delete("INBOX"), Err(StoreError::Cannot(_))));
    assert!(matches!(
        store.delete("Nope"),
        Err(StoreError::NotFound { .. })
    ));
    append(&store, "Work.Projects", b"hello\r\n", &[]);
    store.delete("Work.Projects").unwrap();
    assert!(!store.root().join(".Work.Projects").exists());
    store.delete("Work").unwrap();
    // Nothing left behind in tmp/.
    assert_eq!(
        std::fs::read_dir(store.root().join("tmp")).unwrap().count(),
        0
    );
    // A recreated mailbox gets a new UIDVALIDITY, even within the same second.
    store.create("Work").unwrap();
    let v1 = store.status("Work").unwrap().uidvalidity;
    store.delete("Work").unwrap();
    store.create("Work").unwrap();
    assert!(store.status("Work").unwrap().uidvalidity > v1);
}

#[test]
fn rename_with_children_and_inbox() {
    let (_d, store) = temp_store();
    store.create("Work").unwrap();
    store.create("Work.Projects").unwrap();
    let a = append(&store, "Work.Projects", b"project mail\r\n", &["\\Seen"]);
    store.rename("Work", "Job").unwrap();
    let listed: Vec<String> = names(&store).into_iter().map(|(n, _)| n).collect();
    assert_eq!(listed, ["INBOX", "Job", "Job.Projects"]);
    assert!(store.root().join(".Job.Projects/cur").is_dir());
    assert!(!store.root().join(".Work").exists());
    assert_eq!(
        read_message(&store, "Job.Projects", a.uid),
        b"project mail\r\n"
    );
    assert!(matches!(
        store.rename("Job", "Job.X"),
        Err(StoreError::Cannot(_))
    ));
    assert!(matches!(
        store.rename("Nope", "X"),
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.rename("Job", "INBOX"),
        Err(StoreError::AlreadyExists { .. })
    ));

    // A name that exists only as its children's parent (`\Noselect`) is
    // renamed with them, and stays a name of no mailbox.
    store.create("Old.Year.Month").unwrap();
    let b = append(&store, "Old.Year.Month", b"archived\r\n", &[]);
    store.rename("Old", "Archive").unwrap();
    let listed: Vec<String> = names(&store).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        listed,
        [
            "INBOX",
            "Archive",
            "Archive.Year",
            "Archive.Year.Month",
            "Job",
            "Job.Projects"
        ]
    );
    assert_eq!(
        read_message(&store, "Archive.Year.Month", b.uid),
        b"archived\r\n"
    );
    assert!(matches!(
        store.select("Archive"),
        Err(StoreError::NotFound { .. })
    ));

    // Renaming INBOX moves its messages and leaves it empty.
    let m1 = append(&store, "INBOX", b"one\r\n", &[]);
    let m2 = append(&store, "inbox", b"two\r\n", &["\\Flagged"]);
    let before = store.status("INBOX").unwrap();
    store.rename("INBOX", "Old").unwrap();
    let inbox = store.status("INBOX").unwrap();
    assert_eq!(inbox.messages, 0);
    assert_eq!(inbox.uidvalidity, before.uidvalidity);
    assert!(inbox.uidnext >= before.uidnext);
    let changes = store
        .changes_since("INBOX", inbox.uidvalidity, before.highestmodseq)
        .unwrap();
    assert_eq!(changes.vanished, [m1.uid, m2.uid]);
    let old = store.select("Old").unwrap();
    assert_eq!(old.messages.len(), 2);
    assert_eq!(old.messages[1].flags.names(), ["\\Flagged"]);
    assert_eq!(read_message(&store, "Old", m2.uid), b"two\r\n");
    // New INBOX appends never reuse UIDs.
    assert!(append(&store, "INBOX", b"three\r\n", &[]).uid > m2.uid);
}

#[test]
fn append_fetch_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let root = common::root_of(&dir);
    // No LFs: a bare LF would be served (and counted) as CRLF.
    let body: Vec<u8> = (0..100_000u32)
        .map(|i| (i % 251) as u8)
        .map(|b| if b == b'\n' { b'.' } else { b })
        .collect();
    let (first, modseq1) = {
        let store = Store::open(&root).unwrap();
        let date = InternalDate {
            secs: 1_700_000_000,
            offset_minutes: 120,
        };
        let flags = ["\\Seen", "$Work"];
        let a = common::append_with(&store, "INBOX", &body, &flags, Some(date), 4096);
        assert_eq!(read_message(&store, "INBOX", a.uid), body);
        let meta = store
            .fetch("INBOX", a.uidvalidity, &[UidRange::all()])
            .unwrap();
        assert_eq!(meta.len(), 1);
        assert_eq!(meta[0].internal_date, 1_700_000_000);
        assert_eq!(meta[0].internal_date_offset_minutes, 120);
        assert_eq!(meta[0].size, body.len() as u64);
        assert!(meta[0].file.ends_with(":2,S"), "{}", meta[0].file);
        assert!(meta[0].file.contains(&format!(",S={}", body.len())));
        let path = root.join("cur").join(&meta[0].file);
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&root.join(mailkeep_store::INDEX_FILE)), 0o600);
        assert_eq!(
            mode(&root.join(format!("{}-wal", mailkeep_store::INDEX_FILE))),
            0o600
        );
        assert_eq!(mode(&root.join("cur")), 0o700);
        let sel = store.select("INBOX").unwrap();
        assert_eq!(sel.keywords, ["$Work"]);
        assert_eq!(sel.status.messages, 1);
        assert_eq!(sel.status.unseen, 0);
        assert_eq!(sel.status.size, body.len() as u64);
        (a, a.modseq)
    };
    let store = Store::open(&root).unwrap();
    let second = append(&store, "INBOX", b"x", &[]);
    assert_eq!(second.uidvalidity, first.uidvalidity);
    assert!(second.uid > first.uid);
    assert!(second.modseq > modseq1);
    let st = store.status("INBOX").unwrap();
    assert_eq!(st.uidnext, second.uid + 1);
    assert_eq!(st.highestmodseq, second.modseq);
    assert_eq!(st.unseen, 1);
    // `*` means the highest UID; `n:*` with n beyond it still includes it.
    let star = store
        .fetch("INBOX", 0, &[UidRange::new(1000, u32::MAX)])
        .unwrap();
    assert_eq!(star.iter().map(|m| m.uid).collect::<Vec<_>>(), [second.uid]);
    assert!(matches!(
        store.fetch("INBOX", first.uidvalidity + 1, &[UidRange::all()]),
        Err(StoreError::UidValidityChanged { .. })
    ));
    assert!(matches!(
        store.open_message("INBOX", 999),
        Err(StoreError::Expunged { .. })
    ));
}

#[test]
fn size_mismatch_leaves_nothing() {
    let (_d, store) = temp_store();
    let tmp = store.root().join("tmp");
    let mut w = store
        .begin_append("INBOX", Flags::default(), None, 10)
        .unwrap();
    w.write(b"12345").unwrap();
    assert!(matches!(w.commit(), Err(StoreError::SizeMismatch { .. })));
    let mut w = store
        .begin_append("INBOX", Flags::default(), None, 3)
        .unwrap();
    assert!(matches!(
        w.write(b"12345"),
        Err(StoreError::SizeMismatch { .. })
    ));
    drop(w);
    // A message small enough for the append journal has no file before
    // its commit; a bigger one has, and dropping its writer removes it.
    let w = store
        .begin_append("INBOX", Flags::default(), None, 3)
        .unwrap();
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
    drop(w);
    let w = store
        .begin_append("INBOX", Flags::default(), None, 600_000)
        .unwrap();
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 1);
    drop(w);
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
    assert_eq!(
        std::fs::read_dir(store.root().join("cur")).unwrap().count(),
        0
    );
    assert_eq!(store.status("INBOX").unwrap().messages, 0);
    assert!(matches!(
        store.begin_append("Nope", Flags::default(), None, 3),
        Err(StoreError::NotFound { .. })
    ));
}

#[test]
fn store_flags_modes_and_unchanged_since() {
    let (_d, store) = temp_store();
    let a = append(&store, "INBOX", b"a", &[]);
    let b = append(&store, "INBOX", b"b", &["\\Seen"]);
    let v = a.uidvalidity;
    let all = [UidRange::all()];

    let r = store
        .store_flags("INBOX", v, &all, StoreMode::Add, &["\\seen"], None)
        .unwrap();
    // Only a changed: b already had \Seen.
    assert_eq!(r.updated.len(), 1);
    assert_eq!(r.updated[0].uid, a.uid);
    assert_eq!(r.updated[0].flags.names(), ["\\Seen"]);
    assert!(r.updated[0].modseq > b.modseq);
    let after_add = r.updated[0].modseq;

    let r = store
        .store_flags(
            "INBOX",
            v,
            &[UidRange::single(b.uid)],
            StoreMode::Replace,
            &["\\Flagged", "k"],
            None,
        )
        .unwrap();
    assert_eq!(r.updated[0].flags.names(), ["\\Flagged", "k"]);
    assert!(r.updated[0].modseq > after_add);

    let r = store
        .store_flags("INBOX", v, &all, StoreMode::Remove, &["\\Seen"], None)
        .unwrap();
    assert_eq!(r.updated.iter().map(|m| m.uid).collect::<Vec<_>>(), [a.uid]);

    // UNCHANGEDSINCE b's MODSEQ: a (changed later) fails, b is changed.
    let sel = store.select("INBOX").unwrap();
    let (a_mod, b_mod) = (sel.messages[0].modseq, sel.messages[1].modseq);
    assert!(a_mod > b_mod);
    let r = store
        .store_flags(
            "INBOX",
            v,
            &all,
            StoreMode::Add,
            &["\\Answered"],
            Some(b_mod),
        )
        .unwrap();
    assert_eq!(r.failed, [a.uid]);
    assert_eq!(r.updated.iter().map(|m| m.uid).collect::<Vec<_>>(), [b.uid]);

    assert!(matches!(
        store.store_flags("INBOX", v, &all, StoreMode::Add, &["\\Recent"], None),
        Err(StoreError::InvalidArgument(_))
    ));
    assert!(matches!(
        store.store_flags("INBOX", v + 1, &all, StoreMode::Add, &["\\Seen"], None),
        Err(StoreError::UidValidityChanged { .. })
    ));
    assert_eq!(store.select("INBOX").unwrap().keywords, ["k"]);
}

#[test]
fn expunge_and_changes_since() {
    let (_d, store) = temp_store();
    let a = append(&store, "INBOX", b"a", &["\\Deleted"]);
    let b = append(&store, "INBOX", b"b", &[]);
    let c = append(&store, "INBOX", b"c", &["\\Deleted"]);
    let v = a.uidvalidity;
    let mark = store.status("INBOX").unwrap().highestmodseq;
    let files: Vec<String> = store
        .fetch("INBOX", v, &[UidRange::all()])
        .unwrap()
        .into_iter()
        .map(|m| m.file)
        .collect();

    // UID EXPUNGE of a range only touches \Deleted messages inside it.
    let e = store
        .expunge("INBOX", v, Some(&[UidRange::new(a.uid, b.uid)]))
        .unwrap();
    assert_eq!(e.uids, [a.uid]);
    assert!(!store.root().join("cur").join(&files[0]).exists());
    assert!(store.root().join("cur").join(&files[2]).exists());
    store
        .store_flags(
            "INBOX",
            v,
            &[UidRange::single(b.uid)],
            StoreMode::Add,
            &["\\Seen"],
            None,
        )
        .unwrap();
    let e = store.expunge("INBOX", v, None).unwrap();
    assert_eq!(e.uids, [c.uid]);
    assert_eq!(
        e.highestmodseq,
        store.status("INBOX").unwrap().highestmodseq
    );
    assert_eq!(
        std::fs::read_dir(store.root().join("cur")).unwrap().count(),
        1
    );

    let ch = store.changes_since("INBOX", v, mark).unwrap();
    assert_eq!(ch.vanished, [a.uid, c.uid]);
    assert_eq!(
        ch.changed.iter().map(|m| m.uid).collect::<Vec<_>>(),
        [b.uid]
    );
    assert_eq!(ch.status.messages, 1);
    let none = store
        .changes_since("INBOX", v, ch.status.highestmodseq)
        .unwrap();
    assert!(none.changed.is_empty() && none.vanished.is_empty());
    assert!(matches!(
        store.changes_since("INBOX", v + 1, 0),
        Err(StoreError::UidValidityChanged { .. })
    ));
    // Nothing to expunge: no new MODSEQ.
    let e = store.expunge("INBOX", v, None).unwrap();
    assert!(e.uids.is_empty());
    assert_eq!(e.highestmodseq, ch.status.highestmodseq);
}

#[test]
fn concurrent_handles_get_unique_increasing_uids() {
    let dir = tempfile::tempdir().unwrap();
    let root = common::root_of(&dir);
    let s1 = Store::open(&root).unwrap();
    let s2 = Store::open(&root).unwrap();
    let run = |store: Store| {
        std::thread::spawn(move || {
            (0..20)
                .map(|i| append(&store, "INBOX", format!("msg {i}\r\n").as_bytes(), &[]).uid)
                .collect::<Vec<u32>>()
        })
    };
    let (t1, t2) = (run(s1), run(s2));
    let u1 = t1.join().unwrap();
    let u2 = t2.join().unwrap();
    for u in [&u1, &u2] {
        assert!(u.windows(2).all(|w| w[0] < w[1]), "{u:?}");
    }
    let mut all: Vec<u32> = u1.iter().chain(&u2).copied().collect();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), 40);
    let store = Store::open(&root).unwrap();
    let st = store.status("INBOX").unwrap();
    assert_eq!(st.messages, 40);
    assert_eq!(std::fs::read_dir(root.join("cur")).unwrap().count(), 40);
}

#[test]
fn open_clears_crash_leftovers_in_tmp() {
    let dir = tempfile::tempdir().unwrap();
    let root = common::root_of(&dir);
    drop(Store::open(&root).unwrap());
    let tmp = root.join("tmp");
    // A fresh partial append (maybe another process's, in progress) stays;
    // a deleted mailbox's folder left by a crash goes.
    std::fs::write(tmp.join("123.M1P1Q1.host"), b"partial").unwrap();
    std::fs::create_dir_all(tmp.join("mailkeep-deleted.1.M1P1Q2.host/cur")).unwrap();
    drop(Store::open(&root).unwrap());
    let left: Vec<String> = std::fs::read_dir(&tmp)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["123.M1P1Q1.host"]);
}

#[test]
fn an_expunge_with_nothing_marked_deleted_changes_nothing_and_a_mark_is_seen_at_once() {
    let (_d, store) = temp_store();
    let a = append(&store, "INBOX", b"a", &["\\Seen"]);
    let b = append(&store, "INBOX", b"b", &[]);
    let v = a.uidvalidity;
    let before = store.status("INBOX").unwrap();
    let e = store.expunge("INBOX", v, None).unwrap();
    assert!(e.uids.is_empty());
    assert_eq!(e.highestmodseq, before.highestmodseq);
    assert_eq!(store.status("INBOX").unwrap().messages, 2);
    // Marked, then unmarked and marked again: the counts the quick
    // answer relies on follow every change.
    for (mode, expunged) in [
        (StoreMode::Add, None),
        (StoreMode::Remove, Some(Vec::new())),
        (StoreMode::Add, Some(vec![b.uid])),
    ] {
        store
            .store_flags(
                "INBOX",
                v,
                &[UidRange::single(b.uid)],
                mode,
                &["\\Deleted"],
                None,
            )
            .unwrap();
        if let Some(uids) = expunged {
            assert_eq!(store.expunge("INBOX", v, None).unwrap().uids, uids);
        }
    }
    assert_eq!(store.status("INBOX").unwrap().messages, 1);
}
