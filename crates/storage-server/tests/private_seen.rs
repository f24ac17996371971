//! `\Seen` private per user on shared mailboxes, as the storage process
//! serves it: a guest's `\Seen` (STORE, APPEND) is the guest's own, seen
//! in the guest's FETCH, SELECT, Changes, SEARCH and STATUS only; the
//! owner's and other guests' views keep the shared flag. Who is a guest
//! comes from the ticket alone.

#[allow(dead_code)]
mod common;

use common::{
    Harness, OWNER, all_uids, append_header, create_mailbox, mailbox_status, send_append,
    store_flags,
};
use mailkeep_storage_rpc::metadata::with_ticket;
use mailkeep_storage_rpc::storage::acl_client::AclClient;
use mailkeep_storage_rpc::storage::fetch_item::Item;
use mailkeep_storage_rpc::storage::search_client::SearchClient;
use mailkeep_storage_rpc::storage::search_key::Key as PbKey;
use mailkeep_storage_rpc::storage::storage_client::StorageClient;
use mailkeep_storage_rpc::storage::*;
use mailkeep_ticket::Scope;
use tonic::transport::Channel;

const MAILBOX: &str = "Team";

/// Each message's (UID, whether `\Seen`), by Fetch as `ticket`'s user.
async fn fetched_seen(c: &mut StorageClient<Channel>, ticket: &str) -> Vec<(u32, bool)> {
    let request = FetchRequest {
        owner: OWNER.into(),
        mailbox: MAILBOX.into(),
        uidvalidity: 0,
        uids: all_uids(),
        body: false,
        cuts: Vec::new(),
        ..Default::default()
    };
    let mut stream = c
        .fetch(with_ticket(request, ticket))
        .await
        .unwrap()
        .into_inner();
    let mut out = Vec::new();
    while let Some(batch) = stream.message().await.unwrap() {
        for item in batch.items {
            if let Some(Item::Message(m)) = item.item {
                out.push((m.uid, m.flags.iter().any(|f| f == "\\Seen")));
            }
        }
    }
    out
}

/// Each message's (UID, whether `\Seen`) and the unseen count, by
/// SelectMailbox as `ticket`'s user.
async fn selected_seen(c: &mut StorageClient<Channel>, ticket: &str) -> (Vec<(u32, bool)>, u32) {
    let request = SelectMailboxRequest {
        owner: OWNER.into(),
        name: MAILBOX.into(),
        ..Default::default()
    };
    let selected = c
        .select_mailbox(with_ticket(request, ticket))
        .await
        .unwrap()
        .into_inner();
    let seen = selected
        .messages
        .iter()
        .map(|m| (m.uid, m.flags.iter().any(|f| f == "\\Seen")))
        .collect();
    (seen, selected.status.unwrap().unseen)
}

/// The UIDs matching SEARCH UNSEEN as `ticket`'s user.
async fn unseen_uids(s: &mut SearchClient<Channel>, ticket: &str) -> Vec<u32> {
    let request = SearchRequest {
        owner: OWNER.into(),
        mailbox: MAILBOX.into(),
        program: vec![SearchKey {
            key: Some(PbKey::Flag(SearchFlagKey::Unseen as i32)),
        }],
        ..Default::default()
    };
    s.search(with_ticket(request, ticket))
        .await
        .unwrap()
        .into_inner()
        .uids
}

/// The UIDs changed after `since` and whether each is `\Seen`, by Changes
/// as `ticket`'s user.
async fn changed_since(
    c: &mut StorageClient<Channel>,
    ticket: &str,
    since: u64,
) -> Vec<(u32, bool)> {
    let request = ChangesRequest {
        owner: OWNER.into(),
        mailbox: MAILBOX.into(),
        uidvalidity: 0,
        since_modseq: since,
    };
    c.changes(with_ticket(request, ticket))
        .await
        .unwrap()
        .into_inner()
        .changed
        .iter()
        .map(|m| (m.uid, m.flags.iter().any(|f| f == "\\Seen")))
        .collect()
}

/// Alice's `Team` with two unseen messages, shared `lrsw` with bob and
/// carol; returns (alice's, bob's, carol's) tickets.
async fn shared_team(h: &Harness, channel: &Channel) -> (String, String, String) {
    let mut c = common::storage_client(channel.clone());
    let mut acl = AclClient::new(channel.clone());
    let alice = h.ticket();
    create_mailbox(&mut c, &alice, MAILBOX).await.unwrap();
    for _ in 0..2 {
        send_append(
            &mut c,
            &alice,
            common::append_stream(append_header(MAILBOX, &[], 4), b"hi\r\n"),
        )
        .await
        .unwrap();
    }
    for guest in ["bob", "carol"] {
        let request = SetAclRequest {
            owner: OWNER.into(),
            mailbox: MAILBOX.into(),
            identifier: guest.into(),
            rights: "lrsw".into(),
            change: AclChange::Replace as i32,
        };
        acl.set_acl(with_ticket(request, &alice)).await.unwrap();
    }
    (
        alice,
        h.ticket_for("bob", Scope::Session),
        h.ticket_for("carol", Scope::Session),
    )
}

#[tokio::test]
async fn a_guests_seen_is_their_own() {
    let h = Harness::start();
    let channel = h.channel(1).await;
    let mut c = common::storage_client(channel.clone());
    let mut s = SearchClient::new(channel.clone());
    let (alice, bob, carol) = shared_team(&h, &channel).await;
    let since = mailbox_status(&mut c, &bob, MAILBOX)
        .await
        .unwrap()
        .highestmodseq;

    let stored = store_flags(&mut c, &bob, MAILBOX, 0, 1, StoreMode::Add, &["\\Seen"])
        .await
        .unwrap();
    assert_eq!(stored.updated.len(), 1);
    assert!(stored.updated[0].flags.contains(&"\\Seen".to_string()));

    // Twice, so that a settled read (the owner's fast path) is exercised too.
    for _ in 0..2 {
        assert_eq!(fetched_seen(&mut c, &bob).await, [(1, true), (2, false)]);
        assert_eq!(fetched_seen(&mut c, &alice).await, [(1, false), (2, false)]);
        assert_eq!(fetched_seen(&mut c, &carol).await, [(1, false), (2, false)]);
    }
    assert_eq!(
        selected_seen(&mut c, &bob).await,
        (vec![(1, true), (2, false)], 1)
    );
    assert_eq!(
        selected_seen(&mut c, &alice).await,
        (vec![(1, false), (2, false)], 2)
    );
    assert_eq!(
        mailbox_status(&mut c, &bob, MAILBOX).await.unwrap().unseen,
        1
    );
    assert_eq!(
        mailbox_status(&mut c, &alice, MAILBOX)
            .await
            .unwrap()
            .unseen,
        2
    );
    assert_eq!(
        mailbox_status(&mut c, &carol, MAILBOX)
            .await
            .unwrap()
            .unseen,
        2
    );
    assert_eq!(unseen_uids(&mut s, &bob).await, [2]);
    assert_eq!(unseen_uids(&mut s, &alice).await, [1, 2]);
    // Bob's change is among the changes since, seen by bob only.
    assert_eq!(changed_since(&mut c, &bob, since).await, [(1, true)]);
    assert_eq!(changed_since(&mut c, &alice, since).await, [(1, false)]);

    // Alice's \Seen is hers: bob does not see it.
    store_flags(&mut c, &alice, MAILBOX, 0, 2, StoreMode::Add, &["\\Seen"])
        .await
        .unwrap();
    assert_eq!(fetched_seen(&mut c, &alice).await, [(1, false), (2, true)]);
    assert_eq!(fetched_seen(&mut c, &bob).await, [(1, true), (2, false)]);
    assert_eq!(fetched_seen(&mut c, &carol).await, [(1, false), (2, false)]);
}

#[tokio::test]
async fn a_guests_append_with_seen_is_seen_by_that_guest_only() {
    let h = Harness::start();
    let channel = h.channel(1).await;
    let mut c = common::storage_client(channel.clone());
    let (alice, bob, carol) = shared_team(&h, &channel).await;
    // Bob needs 'i' to append.
    let mut acl = AclClient::new(channel.clone());
    let request = SetAclRequest {
        owner: OWNER.into(),
        mailbox: MAILBOX.into(),
        identifier: "bob".into(),
        rights: "lrswi".into(),
        change: AclChange::Replace as i32,
    };
    acl.set_acl(with_ticket(request, &alice)).await.unwrap();

    let appended = send_append(
        &mut c,
        &bob,
        common::append_stream(append_header(MAILBOX, &["\\Seen"], 4), b"hi\r\n"),
    )
    .await
    .unwrap();
    assert_eq!(appended.uid, 3);
    assert_eq!(
        fetched_seen(&mut c, &bob).await,
        [(1, false), (2, false), (3, true)]
    );
    assert_eq!(
        fetched_seen(&mut c, &alice).await,
        [(1, false), (2, false), (3, false)]
    );
    assert_eq!(
        fetched_seen(&mut c, &carol).await,
        [(1, false), (2, false), (3, false)]
    );
}
