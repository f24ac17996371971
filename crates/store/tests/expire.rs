//! Expiry (`Store::expire`): the messages that match and were saved early
//! enough go, flagged `\Deleted` or not; nothing else does.

#[allow(dead_code)]
mod common;

use common::{append, temp_store};
use mailkeep_store::SearchKey;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[test]
fn only_matching_messages_saved_early_enough_go_flagged_or_not() {
    let (_dir, store) = temp_store();
    store.create("Trash").unwrap();
    let a = append(&store, "Trash", b"a\r\n", &["\\Seen"]);
    let b = append(&store, "Trash", b"b\r\n", &[]);
    let none = store.expire("Trash", None, Some(now() - 3600)).unwrap();
    assert!(none.expunged.uids.is_empty(), "saved after the moment");
    let seen = store
        .expire("Trash", Some(&SearchKey::Seen), Some(now() + 1))
        .unwrap();
    assert_eq!(seen.expunged.uids, [a.uid], "only the \\Seen one");
    let rest = store.expire("Trash", None, None).unwrap();
    assert_eq!(rest.expunged.uids, [b.uid]);
    assert_eq!(rest.uidvalidity, store.status("Trash").unwrap().uidvalidity);
    assert_eq!(store.status("Trash").unwrap().messages, 0);
    assert!(
        store.expire("Nope", None, None).is_err(),
        "a missing mailbox"
    );
}
