//! A SELECT without object ids may be answered from the view the store
//! read last; it must always equal a fresh read of the rows, whatever
//! changed the mailbox in between: this store's own changes, another
//! store on the same index (a second storage process of the owner), or a
//! program that changed the Maildir.

#[allow(dead_code)]
mod common;

use common::{root_of, temp_store};
use mailkeep_store::{Selected, Store, StoreMode, UidRange, Viewer};

/// The view as a fresh read gives it, without the object ids the cached
/// form leaves out.
fn fresh(store: &Store) -> Selected {
    let mut selected = store.select("INBOX").expect("select");
    for m in &mut selected.messages {
        m.email_id.clear();
        m.thread_id.clear();
    }
    selected
}

/// Both ways the flags view is read (settled, and ordinary), each checked
/// against a fresh read.
fn check(store: &Store, step: &str) {
    let want = fresh(store);
    let got = store
        .select_flags_as("INBOX", Viewer::Owner)
        .expect("select flags");
    assert_eq!(got, want, "{step}: ordinary read");
    let again = store
        .select_flags_as("INBOX", Viewer::Owner)
        .expect("select flags");
    assert_eq!(again, want, "{step}: the kept view");
    if let Some(settled) = store.select_flags_if_settled("INBOX").expect("settled") {
        assert_eq!(settled, want, "{step}: settled read");
    }
}

/// Adds `flags` to message `uid` of the INBOX through `store`.
fn add_flags(store: &Store, uidvalidity: u32, uid: u32, flags: &[&str]) {
    store
        .store_flags(
            "INBOX",
            uidvalidity,
            &[UidRange::new(uid, uid)],
            StoreMode::Add,
            flags,
            None,
        )
        .expect("flags");
}

#[test]
fn the_kept_view_follows_every_change() {
    let (dir, store) = temp_store();
    for n in 0..3 {
        common::append(
            &store,
            "INBOX",
            format!("Subject: {n}\r\n\r\nx\r\n").as_bytes(),
            &[],
        );
    }
    check(&store, "three messages");
    let uv = store.status("INBOX").expect("status").uidvalidity;

    add_flags(&store, uv, 2, &["\\Seen", "$Work"]);
    check(&store, "flags of this store");

    // Another store on the same files: a second storage process.
    let other = Store::open(&root_of(&dir)).expect("a second store");
    add_flags(&other, uv, 1, &["\\Flagged"]);
    check(&store, "flags of another store");
    add_flags(&other, uv, 1, &["\\Deleted"]);
    other.expunge("INBOX", uv, None).expect("expunge");
    check(&store, "an expunge by another store");
    common::append(&other, "INBOX", b"Subject: 4\r\n\r\nx\r\n", &["\\Answered"]);
    check(&store, "an append by another store");

    // A program renames a file for its flags (Maildir's info part).
    let cur = root_of(&dir).join("cur");
    let file = std::fs::read_dir(&cur)
        .expect("cur")
        .map(|e| e.expect("entry").path())
        .find(|p| !p.to_string_lossy().contains(":2,S"))
        .expect("a file without \\Seen");
    let name = file
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let base = name.split(":2,").next().expect("base").to_owned();
    std::fs::rename(&file, cur.join(format!("{base}:2,FS"))).expect("rename");
    check(&store, "a flag changed outside");

    assert_eq!(fresh(&store).messages.len(), 3, "three messages left");
}
