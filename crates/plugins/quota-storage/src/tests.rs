//! The hook's decisions against a real store.

use mailkeep_storage_server::plugin::{AddKind, Adding, OwnerInfo, StoragePlugin};
use mailkeep_store::{Flags, Store, StoreError};

use crate::{Limits, QuotaPlugin, QuotaSettings};

fn adding(kind: AddKind, messages: u64, bytes: u64) -> Adding<'static> {
    Adding {
        owner: "alice",
        mailbox: "INBOX",
        kind,
        messages,
        bytes,
    }
}

fn store_with_one_message(dir: &std::path::Path) -> Store {
    let store = Store::open(&dir.join("Maildir")).unwrap();
    let body = b"Subject: x\r\n\r\n0123456789\r\n";
    let mut w = store
        .begin_append("INBOX", Flags::default(), None, body.len() as u64)
        .unwrap();
    w.write(body).unwrap();
    store
        .commit_appends(vec![w.finish().unwrap()], None)
        .unwrap();
    store
}

#[test]
fn userdb_rule_limits_and_the_override_wins() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_one_message(dir.path());
    let used = store.quota_usage().unwrap();
    let plugin = QuotaPlugin::new(&QuotaSettings::default());
    plugin.owner_added(&OwnerInfo {
        owner: "alice".into(),
        userdb: vec![(
            "userdb_quota_rule".into(),
            format!("*:bytes={}", used.0 + 10),
        )],
    });
    plugin
        .before_add(&store, &adding(AddKind::Append, 1, 10))
        .unwrap();
    let err = plugin
        .before_add(&store, &adding(AddKind::Append, 1, 11))
        .unwrap_err();
    assert!(matches!(err, StoreError::OverQuota { .. }), "{err:?}");
    // COPY counts; MOVE stays within the root and never does.
    assert!(
        plugin
            .before_add(&store, &adding(AddKind::Copy, 1, 11))
            .is_err()
    );
    plugin
        .before_add(&store, &adding(AddKind::Move, 1, 1 << 40))
        .unwrap();
    // An administrator's override replaces the userdb rule.
    crate::Inner::set_override(
        &store,
        Limits {
            storage: Some(0),
            messages: Some(1),
        },
    )
    .unwrap();
    assert_eq!(
        plugin.limits("alice", &store).unwrap(),
        Limits {
            storage: Some(0),
            messages: Some(1)
        }
    );
    let err = plugin
        .before_add(&store, &adding(AddKind::Append, 1, 1))
        .unwrap_err();
    assert!(matches!(err, StoreError::OverQuota { .. }), "{err:?}");
    crate::Inner::set_override(&store, Limits::default()).unwrap();
    assert_eq!(
        plugin.limits("alice", &store).unwrap().storage,
        Some(used.0 + 10)
    );
}

#[test]
fn configured_defaults_apply_to_users_without_rules() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_one_message(dir.path());
    let table: toml::Table = toml::from_str("storage = \"1k\"\nmessages = 1").unwrap();
    let plugin = QuotaPlugin::new(&QuotaSettings::from_table(&table).unwrap());
    plugin.owner_added(&OwnerInfo {
        owner: "alice".into(),
        userdb: Vec::new(),
    });
    let err = plugin
        .before_add(&store, &adding(AddKind::Append, 1, 1))
        .unwrap_err();
    assert!(matches!(err, StoreError::OverQuota { .. }), "{err:?}");
    assert!(QuotaSettings::from_table(&toml::from_str("storage = -1").unwrap()).is_err());
    assert!(QuotaSettings::from_table(&toml::from_str("storage = \"lots\"").unwrap()).is_err());
}

#[test]
fn recalc_counts_a_file_dropped_in_from_outside() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_one_message(dir.path());
    let before = store.quota_usage().unwrap();
    let dropped = b"Subject: dropped\r\n\r\nhello\r\n";
    std::fs::write(
        dir.path().join("Maildir/new/1700000000.M1P1.outside"),
        dropped,
    )
    .unwrap();
    let recounted = store.recalc_quota().unwrap();
    assert_eq!(recounted.1, before.1 + 1);
    assert_eq!(recounted.0, before.0 + dropped.len() as u64);
    assert_eq!(store.quota_usage().unwrap(), recounted);
}

#[test]
fn crossing_a_warning_percentage_puts_one_warning_in_the_inbox() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_one_message(dir.path());
    let used = store.quota_usage().unwrap();
    let table: toml::Table = toml::from_str(&format!(
        "storage = {}\nwarnings = [50]",
        used.0 * 2 + 10_000
    ))
    .unwrap();
    let plugin = QuotaPlugin::new(&QuotaSettings::from_table(&table).unwrap());
    let small = adding(AddKind::Append, 1, 10);
    plugin.after_add(&store, &small, &[2]);
    assert_eq!(
        store.status("INBOX").unwrap().messages,
        1,
        "no threshold crossed"
    );
    // Pretend an addition of 6000 bytes took usage from below half to above.
    let body = vec![b'x'; 6000];
    let mut w = store
        .begin_append("INBOX", Flags::default(), None, body.len() as u64)
        .unwrap();
    w.write(&body).unwrap();
    let staged = w.finish().unwrap();
    let bytes = staged.size();
    let batch = store.commit_appends(vec![staged], None).unwrap();
    plugin.after_add(&store, &adding(AddKind::Append, 1, bytes), &batch.uids);
    assert_eq!(
        store.status("INBOX").unwrap().messages,
        3,
        "the warning arrived"
    );
    assert!(QuotaSettings::from_table(&toml::from_str("warnings = [0]").unwrap()).is_err());
}

/// Adds allowed but not yet ended count against the room left: two
/// concurrent appends that each fit alone but not together cannot both
/// pass; once the first ended, the room it did not use is free again.
#[test]
fn adds_under_way_hold_their_room_until_they_end() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_one_message(dir.path());
    let table: toml::Table = toml::from_str("messages = 3").unwrap();
    let plugin = QuotaPlugin::new(&QuotaSettings::from_table(&table).unwrap());
    plugin.owner_added(&OwnerInfo {
        owner: "alice".into(),
        userdb: Vec::new(),
    });
    // One message stored, room for two more.
    let first = adding(AddKind::Append, 2, 10);
    plugin.before_add(&store, &first).unwrap();
    let second = adding(AddKind::Append, 1, 10);
    let err = plugin.before_add(&store, &second).unwrap_err();
    assert!(
        matches!(err, StoreError::OverQuota { .. }),
        "the first add's room is taken: {err:?}"
    );
    // The first add failed (nothing committed): its room is free again.
    plugin.add_ended(&first);
    plugin.before_add(&store, &second).unwrap();
    plugin.add_ended(&second);
    // A MOVE reserves nothing and is never refused.
    plugin
        .before_add(&store, &adding(AddKind::Move, 5, 10))
        .unwrap();
    plugin.add_ended(&adding(AddKind::Move, 5, 10));
    plugin.before_add(&store, &first).unwrap();
}

/// Two storage processes of one owner (two plugins, two store handles on
/// one Maildir, as a busy owner's second process has): each one's early
/// check sees room for the last message and allows its add; the commits
/// then check in the index transaction both serialise on, and only the
/// first passes.
#[test]
fn two_processes_of_one_owner_cannot_both_fill_the_last_room() {
    let dir = tempfile::tempdir().unwrap();
    let first_store = store_with_one_message(dir.path());
    let second_store = Store::open(&dir.path().join("Maildir")).unwrap();
    let table: toml::Table = toml::from_str("messages = 2").unwrap();
    let settings = QuotaSettings::from_table(&table).unwrap();
    let (first, second) = (QuotaPlugin::new(&settings), QuotaPlugin::new(&settings));
    let one = adding(AddKind::Append, 1, 10);
    first.before_add(&first_store, &one).unwrap();
    second.before_add(&second_store, &one).unwrap();
    let body = b"Subject: y\r\n\r\nlast room\r\n";
    let stage = |store: &Store| {
        let mut w = store
            .begin_append("INBOX", Flags::default(), None, body.len() as u64)
            .unwrap();
        w.write(body).unwrap();
        w.finish().unwrap()
    };
    let (a, b) = (stage(&first_store), stage(&second_store));
    first_store.commit_appends(vec![a], None).unwrap();
    first.add_ended(&one);
    let err = second_store.commit_appends(vec![b], None).unwrap_err();
    second.add_ended(&one);
    assert!(matches!(err, StoreError::OverQuota { .. }), "{err:?}");
    assert_eq!(second_store.quota_usage().unwrap().1, 2);
    // A COPY by the second process is refused the same way.
    let err = second
        .before_add(&second_store, &adding(AddKind::Copy, 1, 10))
        .unwrap_err();
    assert!(matches!(err, StoreError::OverQuota { .. }), "{err:?}");
}
