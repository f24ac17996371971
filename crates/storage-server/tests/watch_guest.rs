//! A guest's Watch of every mailbox of an owner (NOTIFY on the shared
//! namespace): the stream shows the guest the owner's changes only as the
//! owner's ACLs let them see the owner's mail. Mailboxes coming into view
//! (created under a shared parent, granted, renamed into view) arrive as
//! list events, leaving it as deletions, and nothing reveals a mailbox the
//! guest may not see.

#[allow(dead_code)]
mod common;

use std::time::Duration;

use common::{Harness, OWNER, create_mailbox, delete_mailbox, next_event, rename_mailbox, watch};
use mailkeep_storage_rpc::metadata::with_ticket;
use mailkeep_storage_rpc::storage::acl_client::AclClient;
use mailkeep_storage_rpc::storage::organize_client::OrganizeClient;
use mailkeep_storage_rpc::storage::*;
use mailkeep_ticket::Scope;
use tonic::transport::Channel;

/// A bound on waiting for an event that must come (not a pause).
const LIMIT: Duration = Duration::from_secs(10);

async fn acl(acl: &mut AclClient<Channel>, ticket: &str, mailbox: &str, rights: Option<&str>) {
    match rights {
        Some(rights) => {
            let request = SetAclRequest {
                owner: OWNER.into(),
                mailbox: mailbox.into(),
                identifier: "bob".into(),
                rights: rights.into(),
                change: AclChange::Replace as i32,
            };
            acl.set_acl(with_ticket(request, ticket)).await.unwrap();
        }
        None => {
            let request = DeleteAclRequest {
                owner: OWNER.into(),
                mailbox: mailbox.into(),
                identifier: "bob".into(),
            };
            acl.delete_acl(with_ticket(request, ticket)).await.unwrap();
        }
    }
}

/// The next event as text (see [`common::event_text`]).
async fn next(events: &mut tonic::Streaming<MailboxEvent>) -> String {
    common::event_text(next_event(events, LIMIT).await)
}

async fn append(c: &mut storage_client::StorageClient<Channel>, ticket: &str, mailbox: &str) {
    common::append(c, ticket, mailbox, b"Subject: hi\r\n\r\nhello\r\n").await;
}

/// alice's Projects, on which bob holds `lr`, and bob's Watch of it:
/// alice's ticket, her Storage and Acl clients, bob's events.
async fn bob_watching_projects(
    h: &Harness,
) -> (
    String,
    storage_client::StorageClient<Channel>,
    AclClient<Channel>,
    tonic::Streaming<MailboxEvent>,
) {
    let owner = h.ticket();
    let bob = h.ticket_for("bob", Scope::Session);
    let mut c = h.client(1).await;
    let mut a = AclClient::new(h.channel(2).await);
    create_mailbox(&mut c, &owner, "Projects").await.unwrap();
    acl(&mut a, &owner, "Projects", Some("lr")).await;
    let events = watch(h.channel(3).await, &bob, "Projects").await;
    (owner, c, a, events)
}

#[tokio::test]
async fn a_guest_watching_every_mailbox_sees_what_the_acls_show_them() {
    let h = Harness::start();
    let owner = h.ticket();
    let bob = h.ticket_for("bob", Scope::Session);
    let mut c = h.client(1).await;
    let mut a = AclClient::new(h.channel(2).await);
    for name in ["Projects", "Private"] {
        create_mailbox(&mut c, &owner, name).await.unwrap();
    }
    acl(&mut a, &owner, "Projects", Some("lr")).await;
    let mut events = watch(h.channel(3).await, &bob, "").await;

    // Changes of a mailbox bob may not see, its creation, its
    // subscription: nothing; the next thing bob hears of is his own.
    create_mailbox(&mut c, &owner, "Secret").await.unwrap();
    append(&mut c, &owner, "Private").await;
    let mut o = OrganizeClient::new(h.channel(4).await);
    let subscribe = SubscriptionRequest {
        owner: OWNER.into(),
        mailbox: "Projects".into(),
    };
    o.subscribe(with_ticket(subscribe, &owner)).await.unwrap();
    append(&mut c, &owner, "Projects").await;
    assert_eq!(next(&mut events).await, "Changed Projects");

    // A child of a shared mailbox inherits its ACL: it comes into view.
    create_mailbox(&mut c, &owner, "Projects.2026")
        .await
        .unwrap();
    assert_eq!(next(&mut events).await, "Created Projects.2026");
    rename_mailbox(&mut c, &owner, "Projects", "Work")
        .await
        .unwrap();
    assert_eq!(next(&mut events).await, "Renamed Projects Work");
    assert_eq!(next(&mut events).await, "Renamed Projects.2026 Work.2026");

    // Granting and revoking.
    acl(&mut a, &owner, "Private", Some("lr")).await;
    assert_eq!(next(&mut events).await, "Created Private");
    append(&mut c, &owner, "Private").await;
    assert_eq!(next(&mut events).await, "Changed Private");
    acl(&mut a, &owner, "Private", None).await;
    assert_eq!(next(&mut events).await, "Deleted Private");
    // Lookup without read: listed, but its messages are not bob's to see.
    acl(&mut a, &owner, "Secret", Some("l")).await;
    assert_eq!(next(&mut events).await, "Created Secret");
    append(&mut c, &owner, "Secret").await;
    delete_mailbox(&mut c, &owner, "Work.2026").await.unwrap();
    assert_eq!(next(&mut events).await, "Deleted Work.2026");
}

/// A guest watching one shared mailbox (a selected one) hears of that
/// mailbox only: no list event reveals another mailbox, and none costs a
/// read of the ACLs.
#[tokio::test]
async fn a_guest_watching_one_mailbox_hears_of_that_mailbox_only() {
    let h = Harness::start();
    let (owner, mut c, mut a, mut events) = bob_watching_projects(&h).await;

    create_mailbox(&mut c, &owner, "Secret").await.unwrap();
    create_mailbox(&mut c, &owner, "Projects.Sub")
        .await
        .unwrap();
    acl(&mut a, &owner, "Secret", Some("lr")).await;
    append(&mut c, &owner, "Projects.Sub").await;
    append(&mut c, &owner, "Projects").await;
    assert_eq!(next(&mut events).await, "Changed Projects");
}

/// A guest is told of the owner's flag changes without their delta: its
/// `\Seen` is its own, so it asks Changes for what it sees.
#[tokio::test]
async fn a_guest_hears_of_the_owners_flag_change_without_its_delta() {
    let h = Harness::start();
    let (owner, mut c, _a, mut events) = bob_watching_projects(&h).await;
    let appended =
        common::append(&mut c, &owner, "Projects", b"Subject: hi\r\n\r\nhello\r\n").await;
    assert_eq!(next(&mut events).await, "Changed Projects");
    common::store_flags(
        &mut c,
        &owner,
        "Projects",
        0,
        appended.uid,
        StoreMode::Add,
        &["\\Seen"],
    )
    .await
    .unwrap();
    match next_event(&mut events, LIMIT).await {
        mailbox_event::Event::Changed(changed) => {
            assert_eq!(changed.mailbox, "Projects");
            assert_eq!(changed.kind(), WatchChangeKind::Flags);
            assert_eq!(changed.delta, None, "a guest gets no delta");
        }
        other => panic!("expected the flag change, got {other:?}"),
    }
}

/// A guest watching one mailbox (a selected shared mailbox) hears nothing
/// more of it once the owner takes the right to read it away: the stream
/// ends at the ACL change.
#[tokio::test]
async fn a_guests_watch_of_one_mailbox_ends_when_its_read_right_goes() {
    let h = Harness::start();
    let (owner, mut c, mut a, mut events) = bob_watching_projects(&h).await;
    append(&mut c, &owner, "Projects").await;
    assert_eq!(next(&mut events).await, "Changed Projects");

    // Still 'r' (another right added): the stream goes on.
    acl(&mut a, &owner, "Projects", Some("lrs")).await;
    append(&mut c, &owner, "Projects").await;
    assert_eq!(next(&mut events).await, "Changed Projects");

    acl(&mut a, &owner, "Projects", Some("l")).await;
    let ended = tokio::time::timeout(LIMIT, events.message())
        .await
        .expect("the stream neither ended nor said anything in time");
    assert!(
        matches!(ended, Ok(None)),
        "the stream went on after 'r' was taken away: {ended:?}"
    );
}
