//! ACL changes made outside the process that serves a guest's Watch
//! stream — by `mailkeep admin acl`, which writes the owner's index
//! through a store of its own, or by another storage process of the
//! owner — reach the stream as those made by the serving process do: a
//! guest's watch of one mailbox ends once the guest may no longer read
//! it, and a guest's stream of every mailbox shows the mailbox come into
//! view and leave it.

#[allow(dead_code)]
mod common;

use std::time::Duration;

use common::{Harness, OWNER, append, create_mailbox, next_event, watch};
use mailkeep_storage_rpc::metadata::with_ticket;
use mailkeep_storage_rpc::storage::acl_client::AclClient;
use mailkeep_storage_rpc::storage::*;
use mailkeep_store::{AclChange, Rights, Store};
use mailkeep_ticket::Scope;

/// A bound on waiting for an event that must come (not a pause).
const LIMIT: Duration = Duration::from_secs(10);

const MESSAGE: &[u8] = b"Subject: hi\r\n\r\nhello\r\n";

/// The next event as text (see [`common::event_text`]).
async fn next(events: &mut tonic::Streaming<MailboxEvent>) -> String {
    common::event_text(next_event(events, LIMIT).await)
}

/// The owner's index opened by a store of its own, as `mailkeep admin
/// acl` opens it.
fn admin_store(h: &Harness) -> Store {
    Store::open(&h.maildir()).unwrap()
}

fn rights(text: &str) -> Rights {
    Rights::parse(text).unwrap()
}

#[tokio::test]
async fn a_guests_watch_of_one_mailbox_ends_when_its_read_right_goes_elsewhere() {
    let h = Harness::start();
    let owner = h.ticket();
    let bob = h.ticket_for("bob", Scope::Session);
    let mut c = h.client(1).await;
    create_mailbox(&mut c, &owner, "Projects").await.unwrap();
    let admin = admin_store(&h);
    admin
        .set_acl("Projects", "bob", rights("lr"), AclChange::Replace)
        .unwrap();
    let mut events = watch(h.channel(2).await, &bob, "Projects").await;
    append(&mut c, &owner, "Projects", MESSAGE).await;
    assert_eq!(next(&mut events).await, "Changed Projects");

    // Still 'r' (another right added elsewhere): the stream goes on.
    admin
        .set_acl("Projects", "bob", rights("s"), AclChange::Add)
        .unwrap();
    append(&mut c, &owner, "Projects", MESSAGE).await;
    assert_eq!(next(&mut events).await, "Changed Projects");

    // 'r' taken away elsewhere.
    admin
        .set_acl("Projects", "bob", rights("r"), AclChange::Remove)
        .unwrap();
    let ended = tokio::time::timeout(LIMIT, events.message())
        .await
        .expect("the stream neither ended nor said anything in time");
    assert!(
        matches!(ended, Ok(None)),
        "the stream went on after 'r' was taken away elsewhere: {ended:?}"
    );
}

#[tokio::test]
async fn a_guests_stream_of_every_mailbox_sees_grants_and_revokes_made_elsewhere() {
    let h = Harness::start();
    let owner = h.ticket();
    let bob = h.ticket_for("bob", Scope::Session);
    let mut c = h.client(1).await;
    // bob may watch alice's mailboxes while he sees one of them.
    for name in ["Projects", "Private"] {
        create_mailbox(&mut c, &owner, name).await.unwrap();
    }
    admin_store(&h)
        .set_acl("Projects", "bob", rights("lr"), AclChange::Replace)
        .unwrap();
    let mut events = watch(h.channel(2).await, &bob, "").await;

    // Granted through another storage process of the owner.
    let second = h.another_process();
    let mut a = AclClient::new(second.channel(1).await);
    let grant = SetAclRequest {
        owner: OWNER.into(),
        mailbox: "Private".into(),
        identifier: "bob".into(),
        rights: "lr".into(),
        change: AclChange::Replace as i32,
    };
    a.set_acl(with_ticket(grant, &owner)).await.unwrap();
    assert_eq!(next(&mut events).await, "Created Private");
    append(&mut c, &owner, "Private", MESSAGE).await;
    assert_eq!(next(&mut events).await, "Changed Private");

    // Revoked by the admin command's own store.
    admin_store(&h).delete_acl("Private", "bob").unwrap();
    assert_eq!(next(&mut events).await, "Deleted Private");
    // Nothing more of it reaches bob; the next thing he hears is a
    // mailbox he may see.
    append(&mut c, &owner, "Private", MESSAGE).await;
    create_mailbox(&mut c, &owner, "Shared").await.unwrap();
    admin_store(&h)
        .set_acl("Shared", "anyone", rights("l"), AclChange::Replace)
        .unwrap();
    assert_eq!(next(&mut events).await, "Created Shared");
}
