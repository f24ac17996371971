//! METADATA (RFC 5464) in the store: server and mailbox entries, DEPTH,
//! MAXSIZE, several entries set at once or none, limits, and entries that
//! follow a RENAME and go with a DELETE.

#[allow(dead_code)]
mod common;

use common::temp_store;
use mailkeep_store::{MetadataDepth, MetadataLimits, Store, StoreError};

const LIMITS: MetadataLimits = MetadataLimits {
    max_value_size: 100,
    max_entries: 5,
};

fn set(
    store: &Store,
    mailbox: Option<&str>,
    entries: &[(&str, Option<&str>)],
) -> Result<(), StoreError> {
    let changes: Vec<(&str, Option<Vec<u8>>)> = entries
        .iter()
        .map(|(n, v)| (*n, v.map(|v| v.as_bytes().to_vec())))
        .collect();
    store.set_metadata(mailbox, &changes, &LIMITS)
}

/// The names and values found, as text.
fn get(
    store: &Store,
    mailbox: Option<&str>,
    entries: &[&str],
    depth: MetadataDepth,
) -> Vec<(String, String)> {
    store
        .get_metadata(mailbox, entries, depth, None)
        .unwrap()
        .entries
        .into_iter()
        .map(|e| (e.name, String::from_utf8(e.value).unwrap()))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

#[test]
fn server_and_mailbox_entries_are_apart_and_names_ignore_case() {
    let (_d, store) = temp_store();
    set(
        &store,
        None,
        &[
            ("/private/comment", Some("mine")),
            ("/shared/comment", Some("ours")),
        ],
    )
    .unwrap();
    set(
        &store,
        Some("INBOX"),
        &[("/private/comment", Some("inbox"))],
    )
    .unwrap();
    assert_eq!(
        get(
            &store,
            None,
            &["/private/comment", "/shared/comment", "/private/none"],
            MetadataDepth::Zero
        ),
        pairs(&[("/private/comment", "mine"), ("/shared/comment", "ours")])
    );
    assert_eq!(
        get(
            &store,
            Some("inbox"),
            &["/PRIVATE/Comment"],
            MetadataDepth::Zero
        ),
        pairs(&[("/private/comment", "inbox")])
    );
    // Another spelling replaces the value and keeps the first spelling.
    set(&store, None, &[("/Private/COMMENT", Some("again"))]).unwrap();
    assert_eq!(
        get(&store, None, &["/private/comment"], MetadataDepth::Zero),
        pairs(&[("/private/comment", "again")])
    );
    // NIL removes.
    set(&store, None, &[("/private/comment", None)]).unwrap();
    assert!(get(&store, None, &["/private/comment"], MetadataDepth::Zero).is_empty());
    assert!(matches!(
        store.get_metadata(
            Some("Nope"),
            &["/private/comment"],
            MetadataDepth::Zero,
            None
        ),
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        set(&store, None, &[("/private", Some("x"))]),
        Err(StoreError::InvalidArgument(_))
    ));
}

#[test]
fn depth_and_maxsize_select_what_comes_back() {
    let (_d, store) = temp_store();
    set(
        &store,
        None,
        &[
            ("/private/a", Some("1")),
            ("/private/a/b", Some("22")),
            ("/private/a/b/c", Some("333")),
            ("/private/ab", Some("4444")),
        ],
    )
    .unwrap();
    assert_eq!(
        get(&store, None, &["/private/a"], MetadataDepth::Zero),
        pairs(&[("/private/a", "1")])
    );
    assert_eq!(
        get(&store, None, &["/private/a"], MetadataDepth::One),
        pairs(&[("/private/a", "1"), ("/private/a/b", "22")])
    );
    assert_eq!(
        get(&store, None, &["/private/a"], MetadataDepth::Infinity),
        pairs(&[
            ("/private/a", "1"),
            ("/private/a/b", "22"),
            ("/private/a/b/c", "333")
        ])
    );
    assert_eq!(
        get(&store, None, &["/private"], MetadataDepth::Infinity).len(),
        4
    );
    let found = store
        .get_metadata(None, &["/private"], MetadataDepth::Infinity, Some(2))
        .unwrap();
    let names: Vec<&str> = found.entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["/private/a", "/private/a/b"]);
    assert_eq!(found.longest_skipped, 4, "the longest value left out");
}

#[test]
fn limits_refuse_the_whole_set() {
    let (_d, store) = temp_store();
    let big = "x".repeat(101);
    let err = set(
        &store,
        None,
        &[("/private/ok", Some("fine")), ("/private/big", Some(&big))],
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::MetadataTooLarge {
                size: 101,
                max: 100
            }
        ),
        "{err}"
    );
    assert!(get(&store, None, &["/private/ok"], MetadataDepth::Zero).is_empty());

    let five: Vec<String> = (0..5).map(|i| format!("/private/e{i}")).collect();
    let entries: Vec<(&str, Option<&str>)> = five.iter().map(|n| (n.as_str(), Some("v"))).collect();
    set(&store, None, &entries).unwrap();
    // Mailbox entries count towards the owner's total too.
    let err = set(&store, Some("INBOX"), &[("/private/sixth", Some("v"))]).unwrap_err();
    assert!(
        matches!(err, StoreError::MetadataTooMany { max: 5 }),
        "{err}"
    );
    // Replacing one and removing another in one go stays within it.
    set(
        &store,
        None,
        &[
            ("/private/e0", None),
            ("/private/e1", Some("new")),
            ("/private/new", Some("v")),
        ],
    )
    .unwrap();
    assert_eq!(
        get(&store, None, &["/private"], MetadataDepth::One).len(),
        5
    );
}

#[test]
fn mailbox_entries_follow_a_rename_and_go_with_a_delete() {
    let (_d, store) = temp_store();
    store.create("Work").unwrap();
    set(&store, Some("Work"), &[("/shared/comment", Some("work"))]).unwrap();
    store.rename("Work", "Job").unwrap();
    assert_eq!(
        get(
            &store,
            Some("Job"),
            &["/shared/comment"],
            MetadataDepth::Zero
        ),
        pairs(&[("/shared/comment", "work")])
    );
    store.delete("Job").unwrap();
    store.create("Job").unwrap();
    assert!(
        get(
            &store,
            Some("Job"),
            &["/shared/comment"],
            MetadataDepth::Zero
        )
        .is_empty()
    );
    // And they no longer count against the limit.
    let six: Vec<String> = (0..5).map(|i| format!("/private/e{i}")).collect();
    let entries: Vec<(&str, Option<&str>)> = six.iter().map(|n| (n.as_str(), Some("v"))).collect();
    set(&store, None, &entries).unwrap();
}

#[test]
fn a_mailboxs_specialuse_entry_is_its_special_use_attributes() {
    let (_d, store) = temp_store();
    store.create("Outbox").unwrap();
    assert!(
        get(
            &store,
            Some("Outbox"),
            &["/private/specialuse"],
            MetadataDepth::Zero
        )
        .is_empty()
    );
    set(
        &store,
        Some("Outbox"),
        &[("/private/specialuse", Some("\\sent \\Archive"))],
    )
    .unwrap();
    assert_eq!(
        store.special_use("Outbox").unwrap(),
        ["\\Archive", "\\Sent"]
    );
    assert_eq!(
        get(
            &store,
            Some("Outbox"),
            &["/private"],
            MetadataDepth::Infinity
        ),
        pairs(&[("/private/specialuse", "\\Archive \\Sent")])
    );
    let err = set(
        &store,
        Some("Outbox"),
        &[("/private/specialuse", Some("\\Bogus"))],
    )
    .unwrap_err();
    assert!(matches!(err, StoreError::UseAttr { .. }), "{err}");
    set(&store, Some("Outbox"), &[("/private/specialuse", None)]).unwrap();
    assert!(store.special_use("Outbox").unwrap().is_empty());
}
