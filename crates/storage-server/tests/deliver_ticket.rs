//! A compromised lmtp process: with the deliver tickets it holds it can
//! deliver (append new messages, ask whether a folder exists, read the
//! quota) over the real RPC, and every call that reads or changes mail is
//! refused with PERMISSION_DENIED and the reason NoPermission.

#[allow(dead_code)]
mod common;

use common::{Harness, OWNER, all_uids, append, append_header, create_mailbox, message_parts};
use mailkeep_storage_rpc::errors::{ErrorReason, reason_of};
use mailkeep_storage_rpc::metadata::with_ticket;
use mailkeep_storage_rpc::storage as pb;
use mailkeep_storage_rpc::storage::content_client::ContentClient;
use mailkeep_storage_rpc::storage::metadata_client::MetadataClient;
use mailkeep_storage_rpc::storage::organize_client::OrganizeClient;
use mailkeep_storage_rpc::storage::search_client::SearchClient;
use mailkeep_storage_rpc::storage::watch_client::WatchClient;
use mailkeep_ticket::Scope;
use tonic::{Code, Status};

fn refused<T: std::fmt::Debug>(what: &str, result: Result<T, Status>) {
    let err = result.expect_err(what);
    assert_eq!(err.code(), Code::PermissionDenied, "{what}: {err:?}");
    assert_eq!(reason_of(&err), ErrorReason::NoPermission, "{what}");
}

#[tokio::test]
async fn a_deliver_ticket_delivers_and_every_read_call_is_refused() {
    let h = Harness::start();
    let mut c = h.client(1).await;
    let session = h.ticket();
    create_mailbox(&mut c, &session, "Lists").await.unwrap();
    append(
        &mut c,
        &session,
        "INBOX",
        b"Subject: secret\r\n\r\nold mail\r\n",
    )
    .await;
    let t = h.ticket_for(OWNER, Scope::Deliver);

    // What a delivery needs works.
    let delivered = append(&mut c, &t, "INBOX", b"Subject: new\r\n\r\nnew mail\r\n").await;
    assert_eq!(delivered.uid, 2);
    let exists = |name: &str| {
        with_ticket(
            pb::MailboxExistsRequest {
                owner: OWNER.into(),
                name: name.into(),
            },
            &t,
        )
    };
    let found = c.mailbox_exists(exists("lists")).await;
    // Mailbox names other than INBOX are case-sensitive.
    assert!(!found.unwrap().into_inner().exists);
    let found = c
        .mailbox_exists(exists("Lists"))
        .await
        .unwrap()
        .into_inner();
    assert!(found.exists);
    assert_eq!(found.name, "Lists");
    assert!(
        !c.mailbox_exists(exists("Nope"))
            .await
            .unwrap()
            .into_inner()
            .exists
    );
    let channel = h.channel(2).await;
    let mut organize = OrganizeClient::new(channel.clone());
    // Quota usage is the quota plugin's service now (its tests show a
    // deliver ticket may read it).

    // Everything else is refused.
    let owner = || OWNER.to_owned();
    let inbox = || "INBOX".to_owned();
    // `refuse!(client.method, request)`: the call with the deliver ticket
    // must be refused.
    macro_rules! refuse {
        ($client:ident . $method:ident, $request:expr) => {
            refused(
                stringify!($method),
                $client.$method(with_ticket($request, &t)).await,
            )
        };
    }
    let uids = all_uids;
    refuse!(
        c.list_mailboxes,
        pb::ListMailboxesRequest { owner: owner() }
    );
    let (name, mailbox) = (inbox(), inbox());
    refuse!(
        c.mailbox_status,
        pb::MailboxStatusRequest {
            owner: owner(),
            name,
            ..Default::default()
        }
    );
    let name = inbox();
    refuse!(
        c.select_mailbox,
        pb::SelectMailboxRequest {
            owner: owner(),
            name,
            ..Default::default()
        }
    );
    refuse!(
        c.changes,
        pb::ChangesRequest {
            owner: owner(),
            mailbox,
            ..Default::default()
        }
    );
    refuse!(
        c.claim_recent,
        pb::ClaimRecentRequest {
            owner: owner(),
            mailbox: inbox(),
            up_to_uid: 1,
            ..Default::default()
        }
    );
    let (mailbox, body) = (inbox(), true);
    refuse!(
        c.fetch,
        pb::FetchRequest {
            owner: owner(),
            mailbox,
            uids: uids(),
            body,
            ..Default::default()
        }
    );
    let mailbox = inbox();
    refuse!(
        c.store_flags,
        pb::StoreFlagsRequest {
            owner: owner(),
            mailbox,
            uids: uids(),
            ..Default::default()
        }
    );
    let mailbox = inbox();
    refuse!(
        c.expunge,
        pb::ExpungeRequest {
            owner: owner(),
            mailbox,
            ..Default::default()
        }
    );
    let name = "Stolen".to_owned();
    refuse!(
        c.create_mailbox,
        pb::CreateMailboxRequest {
            owner: owner(),
            name
        }
    );
    let name = "Lists".to_owned();
    refuse!(
        c.delete_mailbox,
        pb::DeleteMailboxRequest {
            owner: owner(),
            name
        }
    );
    let (from, to) = ("Lists".to_owned(), "Other".to_owned());
    refuse!(
        c.rename_mailbox,
        pb::RenameMailboxRequest {
            owner: owner(),
            from,
            to
        }
    );
    // An append that would expunge (REPLACE) is no delivery.
    let mut header = append_header("INBOX", &[], 1);
    let (mailbox, uidvalidity, uid) = (inbox(), 0, 1);
    header.replace = Some(pb::ReplaceMessage {
        mailbox,
        uidvalidity,
        uid,
    });
    let mut parts = message_parts(header, b"x");
    parts.push(pb::AppendRequest::commit());
    refused(
        "Append REPLACE",
        common::send_append(&mut c, &t, parts).await,
    );
    // Nor is one that claims the recent messages (a session's APPEND).
    let mut header = append_header("INBOX", &[], 1);
    header.claim_recent = true;
    let mut parts = message_parts(header, b"x");
    parts.push(pb::AppendRequest::commit());
    refused(
        "Append claiming recent",
        common::send_append(&mut c, &t, parts).await,
    );
    let mut content = ContentClient::new(channel.clone());
    let mailbox = inbox();
    refuse!(
        content.fetch_structure,
        pb::FetchStructureRequest {
            owner: owner(),
            mailbox,
            ..Default::default()
        }
    );
    let mailbox = inbox();
    refuse!(
        content.fetch_section,
        pb::FetchSectionRequest {
            owner: owner(),
            mailbox,
            ..Default::default()
        }
    );
    let mut search = SearchClient::new(channel.clone());
    let mailbox = inbox();
    refuse!(
        search.search,
        pb::SearchRequest {
            owner: owner(),
            mailbox,
            ..Default::default()
        }
    );
    let mailbox = inbox();
    refuse!(
        search.sort,
        pb::SortRequest {
            owner: owner(),
            mailbox,
            ..Default::default()
        }
    );
    let mailbox = inbox();
    refuse!(
        search.thread,
        pb::ThreadRequest {
            owner: owner(),
            mailbox,
            ..Default::default()
        }
    );
    let (mailbox, target) = (inbox(), "Lists".to_owned());
    refuse!(
        organize.copy,
        pb::CopyRequest {
            owner: owner(),
            mailbox,
            uids: uids(),
            target,
            ..Default::default()
        }
    );
    refuse!(
        organize.list_subscriptions,
        pb::ListSubscriptionsRequest { owner: owner() }
    );
    let mut metadata = MetadataClient::new(channel.clone());
    refuse!(
        metadata.get_metadata,
        pb::GetMetadataRequest {
            owner: owner(),
            ..Default::default()
        }
    );
    let mut watch = WatchClient::new(channel);
    refuse!(
        watch.watch,
        pb::WatchRequest {
            owner: owner(),
            ..Default::default()
        }
    );

    // The refused calls changed nothing: both messages are there, unread.
    let status = common::mailbox_status(&mut c, &session, "INBOX")
        .await
        .unwrap();
    assert_eq!(status.messages, 2);
}
