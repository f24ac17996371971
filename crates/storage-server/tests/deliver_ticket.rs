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
    let quota = pb::QuotaUsageRequest {
        owner: OWNER.into(),
    };
    let usage = organize
        .quota_usage(with_ticket(quota, &t))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(usage.messages, 2);

    // Everything else is refused.
    let owner = || OWNER.to_owned();
    let inbox = || "INBOX".to_owned();
    refused(
        "ListMailboxes",
        c.list_mailboxes(with_ticket(pb::ListMailboxesRequest { owner: owner() }, &t))
            .await,
    );
    refused(
        "MailboxStatus",
        c.mailbox_status(with_ticket(
            pb::MailboxStatusRequest {
                owner: owner(),
                name: inbox(),
            },
            &t,
        ))
        .await,
    );
    refused(
        "SelectMailbox",
        c.select_mailbox(with_ticket(
            pb::SelectMailboxRequest {
                owner: owner(),
                name: inbox(),
                ..Default::default()
            },
            &t,
        ))
        .await,
    );
    refused(
        "Changes",
        c.changes(with_ticket(
            pb::ChangesRequest {
                owner: owner(),
                mailbox: inbox(),
                ..Default::default()
            },
            &t,
        ))
        .await,
    );
    refused(
        "Fetch",
        c.fetch(with_ticket(
            pb::FetchRequest {
                owner: owner(),
                mailbox: inbox(),
                uids: all_uids(),
                body: true,
                ..Default::default()
            },
            &t,
        ))
        .await,
    );
    refused(
        "StoreFlags",
        c.store_flags(with_ticket(
            pb::StoreFlagsRequest {
                owner: owner(),
                mailbox: inbox(),
                uids: all_uids(),
                ..Default::default()
            },
            &t,
        ))
        .await,
    );
    refused(
        "Expunge",
        c.expunge(with_ticket(
            pb::ExpungeRequest {
                owner: owner(),
                mailbox: inbox(),
                ..Default::default()
            },
            &t,
        ))
        .await,
    );
    refused(
        "CreateMailbox",
        c.create_mailbox(with_ticket(
            pb::CreateMailboxRequest {
                owner: owner(),
                name: "Stolen".into(),
            },
            &t,
        ))
        .await,
    );
    refused(
        "DeleteMailbox",
        c.delete_mailbox(with_ticket(
            pb::DeleteMailboxRequest {
                owner: owner(),
                name: "Lists".into(),
            },
            &t,
        ))
        .await,
    );
    refused(
        "RenameMailbox",
        c.rename_mailbox(with_ticket(
            pb::RenameMailboxRequest {
                owner: owner(),
                from: "Lists".into(),
                to: "Other".into(),
            },
            &t,
        ))
        .await,
    );
    // An append that would expunge (REPLACE) is no delivery.
    let mut header = append_header("INBOX", &[], 1);
    header.replace = Some(pb::ReplaceMessage {
        mailbox: inbox(),
        uidvalidity: 0,
        uid: 1,
    });
    let mut parts = message_parts(header, b"x");
    parts.push(pb::AppendRequest::commit());
    refused(
        "Append REPLACE",
        common::send_append(&mut c, &t, parts).await,
    );
    let mut content = ContentClient::new(channel.clone());
    refused(
        "FetchStructure",
        content
            .fetch_structure(with_ticket(
                pb::FetchStructureRequest {
                    owner: owner(),
                    mailbox: inbox(),
                    ..Default::default()
                },
                &t,
            ))
            .await,
    );
    refused(
        "FetchSection",
        content
            .fetch_section(with_ticket(
                pb::FetchSectionRequest {
                    owner: owner(),
                    mailbox: inbox(),
                    ..Default::default()
                },
                &t,
            ))
            .await,
    );
    let mut search = SearchClient::new(channel.clone());
    refused(
        "Search",
        search
            .search(with_ticket(
                pb::SearchRequest {
                    owner: owner(),
                    mailbox: inbox(),
                    ..Default::default()
                },
                &t,
            ))
            .await,
    );
    refused(
        "Sort",
        search
            .sort(with_ticket(
                pb::SortRequest {
                    owner: owner(),
                    mailbox: inbox(),
                    ..Default::default()
                },
                &t,
            ))
            .await,
    );
    refused(
        "Thread",
        search
            .thread(with_ticket(
                pb::ThreadRequest {
                    owner: owner(),
                    mailbox: inbox(),
                    ..Default::default()
                },
                &t,
            ))
            .await,
    );
    refused(
        "Copy",
        organize
            .copy(with_ticket(
                pb::CopyRequest {
                    owner: owner(),
                    mailbox: inbox(),
                    uids: all_uids(),
                    target: "Lists".into(),
                    ..Default::default()
                },
                &t,
            ))
            .await,
    );
    refused(
        "ListSubscriptions",
        organize
            .list_subscriptions(with_ticket(
                pb::ListSubscriptionsRequest { owner: owner() },
                &t,
            ))
            .await,
    );
    let mut metadata = MetadataClient::new(channel.clone());
    refused(
        "GetMetadata",
        metadata
            .get_metadata(with_ticket(
                pb::GetMetadataRequest {
                    owner: owner(),
                    ..Default::default()
                },
                &t,
            ))
            .await,
    );
    let mut watch = WatchClient::new(channel);
    refused(
        "Watch",
        watch
            .watch(with_ticket(
                pb::WatchRequest {
                    owner: owner(),
                    ..Default::default()
                },
                &t,
            ))
            .await,
    );

    // The refused calls changed nothing: both messages are there, unread.
    let status = common::mailbox_status(&mut c, &session, "INBOX")
        .await
        .unwrap();
    assert_eq!(status.messages, 2);
}
