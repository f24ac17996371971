//! The Metadata service (RFC 5464) through the real gRPC server: behind the
//! ticket gate, server and mailbox entries, DEPTH and MAXSIZE, NIL removes,
//! and limits refused with ERROR_REASON_LIMIT and a MetadataRefusal naming
//! the limit and its number.

#[allow(dead_code)]
mod common;

use common::{Harness, OWNER, create_mailbox, delete_mailbox, rename_mailbox};
use mailkeep_storage_rpc::errors::{ErrorReason, reason_of};
use mailkeep_storage_rpc::metadata::with_ticket;
use mailkeep_storage_rpc::storage::metadata_client::MetadataClient;
use mailkeep_storage_rpc::storage::*;
use mailkeep_store::MetadataLimits;
use prost::Message;
use tonic::Status;
use tonic::transport::Channel;

fn change(name: &str, value: Option<&[u8]>) -> MetadataChange {
    MetadataChange {
        name: name.into(),
        value: value.map(<[u8]>::to_vec),
    }
}

async fn set(
    m: &mut MetadataClient<Channel>,
    t: &str,
    mailbox: &str,
    entries: Vec<MetadataChange>,
) -> Result<(), Status> {
    let request = SetMetadataRequest {
        owner: OWNER.into(),
        mailbox: mailbox.into(),
        entries,
    };
    m.set_metadata(with_ticket(request, t)).await.map(|_| ())
}

async fn get(
    m: &mut MetadataClient<Channel>,
    t: &str,
    mailbox: &str,
    entries: &[&str],
    depth: MetadataDepth,
    max_size: Option<u64>,
) -> Result<GetMetadataResponse, Status> {
    let request = GetMetadataRequest {
        owner: OWNER.into(),
        mailbox: mailbox.into(),
        entries: entries.iter().map(|e| e.to_string()).collect(),
        depth: depth as i32,
        max_size,
    };
    m.get_metadata(with_ticket(request, t))
        .await
        .map(|r| r.into_inner())
}

fn names(r: &GetMetadataResponse) -> Vec<&str> {
    r.entries.iter().map(|e| e.name.as_str()).collect()
}

#[tokio::test]
async fn entries_are_set_read_and_removed_for_the_server_and_a_mailbox() {
    let h = Harness::start();
    let t = h.ticket();
    let mut m = MetadataClient::new(h.channel(1).await);
    set(
        &mut m,
        &t,
        "",
        vec![
            change("/private/comment", Some(b"server note")),
            change("/shared/vendor/x/a", Some(b"1")),
            change("/shared/vendor/x/a/b", Some(b"\x00binary\xff")),
        ],
    )
    .await
    .unwrap();
    set(
        &mut m,
        &t,
        "INBOX",
        vec![change("/private/comment", Some(b"inbox note"))],
    )
    .await
    .unwrap();

    let server = get(
        &mut m,
        &t,
        "",
        &["/private/comment"],
        MetadataDepth::Zero,
        None,
    )
    .await
    .unwrap();
    assert_eq!(server.entries[0].value, b"server note");
    let inbox = get(
        &mut m,
        &t,
        "INBOX",
        &["/private/comment"],
        MetadataDepth::Zero,
        None,
    )
    .await
    .unwrap();
    assert_eq!(inbox.entries[0].value, b"inbox note");
    let deep = get(&mut m, &t, "", &["/shared"], MetadataDepth::Infinity, None)
        .await
        .unwrap();
    assert_eq!(names(&deep), ["/shared/vendor/x/a", "/shared/vendor/x/a/b"]);
    assert_eq!(deep.entries[1].value, b"\x00binary\xff");
    let small = get(
        &mut m,
        &t,
        "",
        &["/shared"],
        MetadataDepth::Infinity,
        Some(3),
    )
    .await
    .unwrap();
    assert_eq!(names(&small), ["/shared/vendor/x/a"]);
    assert_eq!(small.longest_skipped, 8);

    set(&mut m, &t, "", vec![change("/private/comment", None)])
        .await
        .unwrap();
    let gone = get(
        &mut m,
        &t,
        "",
        &["/private/comment"],
        MetadataDepth::Zero,
        None,
    )
    .await
    .unwrap();
    assert!(gone.entries.is_empty());

    let err = get(
        &mut m,
        &t,
        "Nope",
        &["/private/comment"],
        MetadataDepth::Zero,
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(reason_of(&err), ErrorReason::Nonexistent, "{err:?}");
    let err = set(&mut m, &t, "", vec![change("/elsewhere/x", Some(b"v"))])
        .await
        .unwrap_err();
    assert_eq!(reason_of(&err), ErrorReason::InvalidArgument, "{err:?}");
    let forged = common::forged_ticket();
    let err = get(
        &mut m,
        &forged,
        "",
        &["/private/x"],
        MetadataDepth::Zero,
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(reason_of(&err), ErrorReason::NoPermission, "{err:?}");
}

#[tokio::test]
async fn limits_are_refused_with_the_number_the_imap_code_needs() {
    let h = Harness::start();
    let t = h.ticket();
    let mut m = MetadataClient::new(h.channel(1).await);
    let limits = MetadataLimits::default();
    let big = vec![b'x'; limits.max_value_size as usize + 1];
    let err = set(
        &mut m,
        &t,
        "",
        vec![
            change("/private/ok", Some(b"v")),
            change("/private/big", Some(&big)),
        ],
    )
    .await
    .unwrap_err();
    assert_eq!(reason_of(&err), ErrorReason::Limit, "{err:?}");
    let refusal = MetadataRefusal::decode(err.details()).unwrap();
    assert_eq!(refusal.limit(), MetadataLimit::ValueSize);
    assert_eq!(refusal.maximum, limits.max_value_size);
    let none = get(&mut m, &t, "", &["/private/ok"], MetadataDepth::Zero, None)
        .await
        .unwrap();
    assert!(none.entries.is_empty(), "a refused set changed something");

    let many: Vec<MetadataChange> = (0..=limits.max_entries)
        .map(|i| change(&format!("/private/e{i}"), Some(b"v")))
        .collect();
    let err = set(&mut m, &t, "", many).await.unwrap_err();
    assert_eq!(reason_of(&err), ErrorReason::Limit, "{err:?}");
    let refusal = MetadataRefusal::decode(err.details()).unwrap();
    assert_eq!(refusal.limit(), MetadataLimit::Entries);
    assert_eq!(refusal.maximum, limits.max_entries);
}

#[tokio::test]
async fn mailbox_entries_follow_a_rename_and_go_with_a_delete() {
    let h = Harness::start();
    let t = h.ticket();
    let mut c = h.client(1).await;
    let mut m = MetadataClient::new(h.channel(2).await);
    create_mailbox(&mut c, &t, "Work").await.unwrap();
    set(
        &mut m,
        &t,
        "Work",
        vec![change("/shared/comment", Some(b"w"))],
    )
    .await
    .unwrap();
    rename_mailbox(&mut c, &t, "Work", "Job").await.unwrap();
    let moved = get(
        &mut m,
        &t,
        "Job",
        &["/shared/comment"],
        MetadataDepth::Zero,
        None,
    )
    .await
    .unwrap();
    assert_eq!(moved.entries[0].value, b"w");
    delete_mailbox(&mut c, &t, "Job").await.unwrap();
    create_mailbox(&mut c, &t, "Job").await.unwrap();
    let fresh = get(
        &mut m,
        &t,
        "Job",
        &["/shared/comment"],
        MetadataDepth::Zero,
        None,
    )
    .await
    .unwrap();
    assert!(fresh.entries.is_empty());
}
