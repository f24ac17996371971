//! Migration from Dovecot: a Maildir written by the real Dovecot (fixture
//! under tests/data/dovecot, made by its regenerate.py) opens with the
//! UIDVALIDITY, UIDs, flags, keywords and subscriptions Dovecot reported;
//! and the uidlist, keywords and subscriptions readers on small hand-made
//! files.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use mailkeep_store::Store;
use mailkeep_store::dovecot::{UidList, read_keywords, read_subscriptions};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/dovecot")
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
            // Keep the mtime: it is the internal date.
            let mtime = entry.metadata().unwrap().modified().unwrap();
            fs::File::options()
                .write(true)
                .open(&target)
                .unwrap()
                .set_modified(mtime)
                .unwrap();
        }
    }
}

/// The fixture in a temporary directory, with the empty cur/ new/ tmp/
/// that git does not keep.
fn fixture_copy() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("Maildir");
    copy_tree(&fixture().join("Maildir"), &root);
    let mut folders = vec![root.clone()];
    for entry in fs::read_dir(&root).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name().to_string_lossy().starts_with('.') && entry.path().is_dir() {
            folders.push(entry.path());
        }
    }
    for folder in folders {
        for sub in ["cur", "new", "tmp"] {
            fs::create_dir_all(folder.join(sub)).unwrap();
        }
    }
    (dir, root)
}

/// UID -> (Message-ID, sorted flag names).
type Messages = BTreeMap<u32, (String, Vec<String>)>;

#[derive(Debug, Default, PartialEq)]
struct Expected {
    /// name -> (uidvalidity, uidnext, uid -> (message-id, sorted flags))
    mailboxes: BTreeMap<String, (u32, u32, Messages)>,
    subscriptions: Vec<String>,
}

fn expected() -> Expected {
    let text = fs::read_to_string(fixture().join("expected.tsv")).unwrap();
    let mut e = Expected::default();
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        match f[0] {
            "mailbox" => {
                e.mailboxes.insert(
                    f[1].to_owned(),
                    (
                        f[2].parse().unwrap(),
                        f[3].parse().unwrap(),
                        BTreeMap::new(),
                    ),
                );
            }
            "message" => {
                let mut flags: Vec<String> = f[4..].iter().map(|s| s.to_string()).collect();
                flags.sort();
                e.mailboxes
                    .get_mut(f[1])
                    .unwrap()
                    .2
                    .insert(f[2].parse().unwrap(), (f[3].to_owned(), flags));
            }
            "subscribed" => e.subscriptions.push(f[1].to_owned()),
            other => panic!("unknown line kind {other}"),
        }
    }
    e
}

fn message_id(store: &Store, mailbox: &str, uid: u32) -> String {
    let (mut file, _) = store.open_message(mailbox, uid).unwrap();
    let mut text = String::new();
    file.read_to_string(&mut text).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("Message-ID:"))
        .unwrap()
        .trim()
        .to_owned()
}

fn actual(store: &Store) -> Expected {
    let mut e = Expected::default();
    for name in expected().mailboxes.keys() {
        let selected = store.select(name).unwrap();
        let mut messages = BTreeMap::new();
        for m in &selected.messages {
            let mut flags = m.flags.names();
            flags.sort();
            messages.insert(m.uid, (message_id(store, name, m.uid), flags));
        }
        e.mailboxes.insert(
            name.clone(),
            (
                selected.status.uidvalidity,
                selected.status.uidnext,
                messages,
            ),
        );
    }
    e.subscriptions = store.subscriptions().unwrap();
    e
}

#[test]
fn dovecot_fixture_opens_with_dovecots_uids_flags_and_subscriptions() {
    let (_dir, root) = fixture_copy();
    let store = Store::open(&root).unwrap();
    let first = actual(&store);
    assert_eq!(first, expected());
    // Keywords Dovecot defined are the mailbox's keywords.
    let inbox = store.select("INBOX").unwrap();
    for k in ["$Forwarded", "Important", "$Junk"] {
        assert!(
            inbox.keywords.iter().any(|x| x == k),
            "{k} in {:?}",
            inbox.keywords
        );
    }
    // The internal date is the file's mtime, as with Dovecot.
    let (file, meta) = store.open_message("Sent", 2).unwrap();
    let mtime = file.metadata().unwrap().modified().unwrap();
    let secs = mtime
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert_eq!(meta.internal_date, secs as i64);
    // Dovecot's files have bare LFs: the size is the name's W= (what
    // Dovecot answers for RFC822.SIZE), not the file's 163 bytes (S=).
    assert_eq!(file.metadata().unwrap().len(), 163);
    assert_eq!(meta.size, 170);
    let statuses: Vec<_> = first
        .mailboxes
        .keys()
        .map(|n| store.status(n).unwrap())
        .collect();
    drop(store);
    // A second open neither imports again nor changes anything.
    let store = Store::open(&root).unwrap();
    assert_eq!(actual(&store), first);
    let again: Vec<_> = first
        .mailboxes
        .keys()
        .map(|n| store.status(n).unwrap())
        .collect();
    assert_eq!(again, statuses);
}

#[test]
fn new_files_move_to_cur_and_unknown_files_get_next_uids() {
    let (_dir, root) = fixture_copy();
    fs::write(
        root.join("new/1800000000.M1P1.other"),
        b"Message-ID: <a@x>\r\n\r\nA\r\n",
    )
    .unwrap();
    fs::write(
        root.join("cur/1800000001.M1P1.other:2,S"),
        b"Message-ID: <b@x>\r\n\r\nB\r\n",
    )
    .unwrap();
    let store = Store::open(&root).unwrap();
    let selected = store.select("INBOX").unwrap();
    let uids: Vec<u32> = selected.messages.iter().map(|m| m.uid).collect();
    assert_eq!(uids, [1, 2, 4, 5, 6, 7, 8]);
    assert_eq!(selected.status.uidnext, 9);
    assert!(fs::read_dir(root.join("new")).unwrap().next().is_none());
    assert!(root.join("cur/1800000000.M1P1.other:2,").exists());
    let ids: Vec<String> = [7, 8]
        .iter()
        .map(|&u| message_id(&store, "INBOX", u))
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&"<a@x>".to_owned()) && ids.contains(&"<b@x>".to_owned()));
}

#[test]
fn plain_maildir_without_uidlist_is_not_imported() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("Maildir");
    for sub in ["cur", "new", "tmp"] {
        fs::create_dir_all(root.join(sub)).unwrap();
    }
    let store = Store::open(&root).unwrap();
    assert_eq!(store.status("INBOX").unwrap().uidnext, 1);
}

#[test]
fn uidlist_v3_with_ext_fields() {
    let list = UidList::parse(
        "3 V1234 N10 G0123456789abcdef\n\
         1 :1.M1.host,S=100\n\
         3 S120 W125 :3.M1.host,S=120,W=125\n\
         7 G00ff W9 :7.M1.host\n",
    )
    .unwrap();
    assert_eq!((list.uidvalidity, list.next_uid), (1234, 10));
    assert_eq!(list.uid_of("1.M1.host,S=100"), Some(1));
    assert_eq!(list.uid_of("3.M1.host,S=120,W=125"), Some(3));
    assert_eq!(list.uid_of("7.M1.host"), Some(7));
    assert_eq!(list.uid_of("2.M1.host"), None);
    assert_eq!(list.len(), 3);
}

#[test]
fn uidlist_v3_names_with_info_are_keyed_by_base_name() {
    let list = UidList::parse("3 V5 N3\n2 :2.M1.host:2,S\n").unwrap();
    assert_eq!(list.uid_of("2.M1.host"), Some(2));
}

#[test]
fn uidlist_v1() {
    let list = UidList::parse("1 1111 5\n1 1.M1.host:2,S\n4 4.M1.host\n").unwrap();
    assert_eq!((list.uidvalidity, list.next_uid), (1111, 5));
    assert_eq!(list.uid_of("1.M1.host"), Some(1));
    assert_eq!(list.uid_of("4.M1.host"), Some(4));
}

#[test]
fn uidlist_next_uid_never_below_a_listed_uid() {
    let list = UidList::parse("3 V1 N2\n9 :9.M1.host\n").unwrap();
    assert_eq!(list.next_uid, 10);
}

#[test]
fn uidlist_refuses_garbage() {
    assert!(UidList::parse("").is_err());
    assert!(UidList::parse("2 V1 N1\n").is_err());
    assert!(UidList::parse("3 Vx N1\n").is_err());
    assert!(UidList::parse("3 V1 N1\nabc :x\n").is_err());
}

#[test]
fn import_with_missing_and_extra_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("Maildir");
    for sub in ["cur", "new", "tmp"] {
        fs::create_dir_all(root.join(sub)).unwrap();
    }
    fs::write(
        root.join("dovecot-uidlist"),
        "3 V777 N20 Gabc\n5 :5.M1.host,S=3\n6 W4 :6.M1.host,S=3\n8 :8.M1.host\n",
    )
    .unwrap();
    fs::write(root.join("dovecot-keywords"), "0 $Forwarded\n2 Work\n").unwrap();
    fs::write(root.join("cur/5.M1.host,S=3:2,RSa"), "abc").unwrap();
    // 6 is listed but missing; 9 is not listed.
    fs::write(root.join("cur/8.M1.host:2,c"), "defgh").unwrap();
    fs::write(root.join("new/9.M1.host"), "ij").unwrap();
    fs::write(root.join("subscriptions"), "V\t2\n\nINBOX\nGone\tAway\n").unwrap();
    let store = Store::open(&root).unwrap();
    let selected = store.select("INBOX").unwrap();
    assert_eq!(selected.status.uidvalidity, 777);
    assert_eq!(selected.status.uidnext, 21);
    let got: Vec<(u32, Vec<String>)> = selected
        .messages
        .iter()
        .map(|m| (m.uid, m.flags.names()))
        .collect();
    assert_eq!(
        got,
        [
            (
                5,
                vec!["\\Answered".into(), "\\Seen".into(), "$Forwarded".into()]
            ),
            (8, vec!["Work".into()]),
            (20, vec![]),
        ]
    );
    assert_eq!(selected.status.size, 3 + 5 + 2);
    assert_eq!(store.subscriptions().unwrap(), ["Gone.Away", "INBOX"]);
}

#[test]
fn keywords_and_subscriptions_readers() {
    let dir = tempfile::tempdir().unwrap();
    assert!(read_keywords(dir.path()).unwrap().is_empty());
    assert!(read_subscriptions(dir.path()).unwrap().is_empty());
    assert!(UidList::read(dir.path()).unwrap().is_none());
    fs::write(
        dir.path().join("dovecot-keywords"),
        "0 $Junk\nbad line\n1 Important\n30 TooFar\n",
    )
    .unwrap();
    assert_eq!(
        read_keywords(dir.path()).unwrap(),
        [(0, "$Junk".to_owned()), (1, "Important".to_owned())]
    );
    fs::write(dir.path().join("subscriptions"), "INBOX\nWork.Projects\n").unwrap();
    assert_eq!(
        read_subscriptions(dir.path()).unwrap(),
        ["INBOX", "Work.Projects"]
    );
    fs::write(
        dir.path().join("subscriptions"),
        "V\t2\n\nSent\nWork\tProjects\n",
    )
    .unwrap();
    assert_eq!(
        read_subscriptions(dir.path()).unwrap(),
        ["Sent", "Work.Projects"]
    );
}
