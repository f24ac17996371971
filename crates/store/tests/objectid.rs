//! OBJECTID (RFC 8474) in the store: MAILBOXID per mailbox, EMAILID per
//! message (shared by copies), THREADID by Message-ID / In-Reply-To /
//! References, the EMAILID and THREADID search keys, and the ids an index
//! of the previous schema gets when it is opened.

#[allow(dead_code)]
mod common;

use std::sync::atomic::AtomicBool;

use common::{append, root_of, temp_store};
use mailkeep_store::{MessageMeta, SearchKey, Store, UidRange};

fn meta(store: &Store, mailbox: &str, uid: u32) -> MessageMeta {
    store
        .fetch(mailbox, 0, &[UidRange::single(uid)])
        .unwrap()
        .pop()
        .unwrap()
}

fn search(store: &Store, mailbox: &str, key: SearchKey) -> Vec<u32> {
    store
        .search(mailbox, 0, &key, &AtomicBool::new(false))
        .unwrap()
        .uids
}

fn message(headers: &str) -> Vec<u8> {
    format!("{headers}From: a@example.org\r\nSubject: s\r\n\r\nbody\r\n").into_bytes()
}

fn listed_id(store: &Store, name: &str) -> String {
    store
        .list()
        .unwrap()
        .into_iter()
        .find(|m| m.name == name)
        .unwrap()
        .mailbox_id
}

#[test]
fn a_mailbox_id_survives_rename_and_a_recreated_mailbox_gets_a_new_one() {
    let (_d, store) = temp_store();
    let id = store.create("Work").unwrap();
    assert!(id.starts_with('F') && id.len() > 8, "{id}");
    assert!(id.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_eq!(store.status("Work").unwrap().mailbox_id, id);
    assert_eq!(listed_id(&store, "Work"), id);
    store.create("Work.Sub").unwrap();
    let sub = store.status("Work.Sub").unwrap().mailbox_id;
    assert_ne!(sub, id);

    store.rename("Work", "Job").unwrap();
    assert_eq!(store.status("Job").unwrap().mailbox_id, id);
    assert_eq!(store.status("Job.Sub").unwrap().mailbox_id, sub);

    store.delete("Job.Sub").unwrap();
    let again = store.create("Job.Sub").unwrap();
    assert_ne!(again, sub);

    // Renaming INBOX makes a new mailbox; INBOX keeps its id.
    let inbox = store.status("INBOX").unwrap().mailbox_id;
    append(&store, "INBOX", b"x\r\n", &[]);
    store.rename("INBOX", "Old").unwrap();
    assert_eq!(store.status("INBOX").unwrap().mailbox_id, inbox);
    let old = store.status("Old").unwrap().mailbox_id;
    assert!(!old.is_empty() && old != inbox);
    // A \Noselect parent is no mailbox and has no id.
    store.create("a.b").unwrap();
    assert_eq!(listed_id(&store, "a"), "");
}

#[test]
fn copies_share_the_email_id_and_other_messages_do_not() {
    let (_d, store) = temp_store();
    store.create("Copies").unwrap();
    store.create("Moved").unwrap();
    let a = append(&store, "INBOX", &message("Message-ID: <a@x>\r\n"), &[]);
    let b = append(&store, "INBOX", &message("Message-ID: <b@x>\r\n"), &[]);
    let (ma, mb) = (meta(&store, "INBOX", a.uid), meta(&store, "INBOX", b.uid));
    assert!(ma.email_id.starts_with('M'), "{}", ma.email_id);
    assert_ne!(ma.email_id, mb.email_id);

    let copied = store
        .copy_messages("INBOX", 0, &[UidRange::single(a.uid)], "Copies")
        .unwrap();
    let copy = meta(&store, "Copies", copied.new_uids[0]);
    assert_eq!(copy.email_id, ma.email_id);
    assert_eq!(copy.thread_id, ma.thread_id);
    let moved = store
        .move_messages("INBOX", 0, &[UidRange::single(a.uid)], "Moved")
        .unwrap();
    assert_eq!(
        meta(&store, "Moved", moved.new_uids[0]).email_id,
        ma.email_id
    );
    // Ids are stored, not made up per call.
    let reopened = Store::open(store.root()).unwrap();
    assert_eq!(meta(&reopened, "INBOX", b.uid).email_id, mb.email_id);
    assert_eq!(
        search(&store, "Copies", SearchKey::EmailId(ma.email_id.clone())),
        copied.new_uids
    );
    assert!(search(&store, "Copies", SearchKey::EmailId(mb.email_id)).is_empty());
}

#[test]
fn messages_of_one_thread_share_its_id() {
    let (_d, store) = temp_store();
    let root = append(&store, "INBOX", &message("Message-ID: <root@x>\r\n"), &[]);
    let reply = append(
        &store,
        "INBOX",
        &message("Message-ID: <r1@x>\r\nIn-Reply-To: <root@x>\r\n"),
        &[],
    );
    let deeper = append(
        &store,
        "INBOX",
        &message("Message-ID: <r2@x>\r\nReferences: <root@x>\r\n <r1@x>\r\n"),
        &[],
    );
    let other = append(&store, "INBOX", &message("Message-ID: <else@x>\r\n"), &[]);
    let bare = append(&store, "INBOX", b"Subject: no ids\r\n\r\nhi\r\n", &[]);
    let thread = meta(&store, "INBOX", root.uid).thread_id;
    assert!(thread.starts_with('T'), "{thread}");
    assert_eq!(meta(&store, "INBOX", reply.uid).thread_id, thread);
    assert_eq!(meta(&store, "INBOX", deeper.uid).thread_id, thread);
    let else_thread = meta(&store, "INBOX", other.uid).thread_id;
    assert!(!else_thread.is_empty() && else_thread != thread);
    // No thread data: no thread (IMAP NIL).
    assert_eq!(meta(&store, "INBOX", bare.uid).thread_id, "");

    // A reply that arrives before its parent: the parent joins it.
    let early = append(
        &store,
        "INBOX",
        &message("Message-ID: <late-reply@x>\r\nReferences: <late@x>\r\n"),
        &[],
    );
    let late = append(&store, "INBOX", &message("Message-ID: <late@x>\r\n"), &[]);
    assert_eq!(
        meta(&store, "INBOX", late.uid).thread_id,
        meta(&store, "INBOX", early.uid).thread_id
    );

    assert_eq!(
        search(&store, "INBOX", SearchKey::ThreadId(thread)),
        [root.uid, reply.uid, deeper.uid]
    );
    assert!(search(&store, "INBOX", SearchKey::ThreadId(String::new())).is_empty());
}

#[test]
fn a_file_found_by_a_sync_gets_ids() {
    let (_d, store) = temp_store();
    let parent = append(&store, "INBOX", &message("Message-ID: <p@x>\r\n"), &[]);
    let cur = store.root().join("cur");
    std::fs::write(
        cur.join("1700000000.outside.host:2,S"),
        message("Message-ID: <child@x>\r\nIn-Reply-To: <p@x>\r\n"),
    )
    .unwrap();
    store.sync_mailbox_full("INBOX").unwrap();
    let found = store.fetch("INBOX", 0, &[UidRange::all()]).unwrap();
    assert_eq!(found.len(), 2);
    let child = &found[1];
    assert!(child.email_id.starts_with('M'));
    assert_eq!(child.thread_id, meta(&store, "INBOX", parent.uid).thread_id);
}

/// Takes an index back to schema version 1: what version 2 added goes.
fn downgrade_to_schema_1(store_root: &std::path::Path) {
    let conn = rusqlite::Connection::open(store_root.join(mailkeep_store::INDEX_FILE)).unwrap();
    conn.execute_batch(
        "DROP INDEX messages_unthreaded;
         DROP TRIGGER message_email_id;
         DROP TABLE thread_refs;
         ALTER TABLE messages DROP COLUMN email_id;
         ALTER TABLE messages DROP COLUMN thread_id;
         ALTER TABLE mailboxes DROP COLUMN object_id;
         PRAGMA user_version = 1;",
    )
    .unwrap();
}

#[test]
fn an_index_of_schema_1_gets_object_ids_when_opened() {
    let dir = tempfile::tempdir().unwrap();
    let root = root_of(&dir);
    let (a, b, c) = {
        let store = Store::open(&root).unwrap();
        store.create("Work").unwrap();
        (
            append(&store, "INBOX", &message("Message-ID: <m1@x>\r\n"), &[]),
            append(
                &store,
                "INBOX",
                &message("Message-ID: <m2@x>\r\nReferences: <m1@x>\r\n"),
                &[],
            ),
            append(&store, "Work", b"no headers\r\n", &[]),
        )
    };
    downgrade_to_schema_1(&root);

    let store = Store::open(&root).unwrap();
    let (ma, mb) = (meta(&store, "INBOX", a.uid), meta(&store, "INBOX", b.uid));
    assert!(ma.email_id.starts_with('M') && mb.email_id.starts_with('M'));
    assert_ne!(ma.email_id, mb.email_id);
    assert!(ma.thread_id.starts_with('T'));
    assert_eq!(ma.thread_id, mb.thread_id);
    assert_eq!(meta(&store, "Work", c.uid).thread_id, "");
    let inbox = store.status("INBOX").unwrap().mailbox_id;
    let work = store.status("Work").unwrap().mailbox_id;
    assert!(inbox.starts_with('F') && work.starts_with('F') && inbox != work);
    // New rows after the migration get ids as usual.
    let d = append(&store, "Work", &message("Message-ID: <m3@x>\r\n"), &[]);
    assert!(meta(&store, "Work", d.uid).email_id.starts_with('M'));
}
