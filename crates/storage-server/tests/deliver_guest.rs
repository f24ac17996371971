//! Delivery into another owner's mailbox (`bob+shared.alice.Team`): the
//! recipient's deliver ticket reaches the owner's storage process as a
//! deliverer, who may ask whether a mailbox exists and append to it only
//! where the owner granted the recipient 'p' (post; 'i' does not do), and
//! nothing else. So a compromised lmtp process holding bob's deliver
//! ticket can post into what alice lets bob post to, and read none of
//! alice's mail.

#[allow(dead_code)]
mod common;

use common::{Harness, OWNER, all_uids, append_header, append_stream, create_mailbox, send_append};
use mailkeep_storage_rpc::errors::{ErrorReason, reason_of};
use mailkeep_storage_rpc::metadata::with_ticket;
use mailkeep_storage_rpc::storage as pb;
use mailkeep_storage_rpc::storage::acl_client::AclClient;
use mailkeep_storage_rpc::storage::content_client::ContentClient;
use mailkeep_storage_rpc::storage::organize_client::OrganizeClient;
use mailkeep_storage_rpc::storage::search_client::SearchClient;
use mailkeep_storage_rpc::storage::storage_client::StorageClient;
use mailkeep_storage_rpc::storage::watch_client::WatchClient;
use mailkeep_ticket::Scope;
use tonic::transport::Channel;
use tonic::{Code, Status};

const RECIPIENT: &str = "bob";

/// alice's mailboxes and what she grants bob on each.
const GRANTS: [(&str, &str); 4] = [
    ("Team", "p"),
    ("Listed", "lr"),
    ("Inserts", "li"),
    ("Hidden", ""),
];

async fn grant(acl: &mut AclClient<Channel>, ticket: &str, mailbox: &str, rights: &str) {
    let request = pb::SetAclRequest {
        owner: OWNER.into(),
        mailbox: mailbox.into(),
        identifier: RECIPIENT.into(),
        rights: rights.into(),
        change: pb::AclChange::Replace as i32,
    };
    acl.set_acl(with_ticket(request, ticket)).await.unwrap();
}

/// alice's store with [`GRANTS`], one message ("secret") in each mailbox
/// and INBOX; the channel, alice's session ticket, bob's deliver ticket.
async fn setup(h: &Harness) -> (Channel, String, String) {
    let channel = h.channel(1).await;
    let mut c = common::storage_client(channel.clone());
    let mut acl = AclClient::new(channel.clone());
    let owner = h.ticket();
    for (mailbox, rights) in GRANTS {
        create_mailbox(&mut c, &owner, mailbox).await.unwrap();
        if !rights.is_empty() {
            grant(&mut acl, &owner, mailbox, rights).await;
        }
    }
    for mailbox in ["INBOX", "Team", "Listed", "Inserts", "Hidden"] {
        common::append(
            &mut c,
            &owner,
            mailbox,
            b"Subject: secret\r\n\r\nalice's\r\n",
        )
        .await;
    }
    (channel, owner, h.ticket_for(RECIPIENT, Scope::Deliver))
}

async fn exists(
    c: &mut StorageClient<Channel>,
    ticket: &str,
    name: &str,
) -> Result<pb::MailboxExistsResponse, Status> {
    let request = pb::MailboxExistsRequest {
        owner: OWNER.into(),
        name: name.into(),
    };
    c.mailbox_exists(with_ticket(request, ticket))
        .await
        .map(|r| r.into_inner())
}

async fn deliver(
    c: &mut StorageClient<Channel>,
    ticket: &str,
    mailbox: &str,
    flags: &[&str],
) -> Result<pb::AppendResponse, Status> {
    let body = b"Subject: for the team\r\n\r\nfrom bob's delivery\r\n";
    let header = append_header(mailbox, flags, body.len() as u64);
    send_append(c, ticket, append_stream(header, body)).await
}

fn refused_as<T: std::fmt::Debug>(what: &str, result: Result<T, Status>, reason: ErrorReason) {
    let err = result.expect_err(what);
    assert_eq!(reason_of(&err), reason, "{what}: {err:?}");
}

async fn messages(c: &mut StorageClient<Channel>, ticket: &str, mailbox: &str) -> u32 {
    common::mailbox_status(c, ticket, mailbox)
        .await
        .unwrap()
        .messages
}

#[tokio::test]
async fn another_users_deliver_ticket_posts_only_where_it_holds_p() {
    let h = Harness::start();
    let (channel, owner, bob) = setup(&h).await;
    let mut c = common::storage_client(channel.clone());

    // 'p' alone: the mailbox exists for the delivery, and takes it.
    let found = exists(&mut c, &bob, "Team").await.unwrap();
    assert!(found.exists);
    assert_eq!(found.name, "Team");
    let delivered = deliver(&mut c, &bob, "Team", &[]).await.unwrap();
    assert_eq!(delivered.uid, 2);
    assert_eq!(messages(&mut c, &owner, "Team").await, 2);

    // Without 'p' (even with 'l', 'r' or 'i'), or without the mailbox:
    // refused, as missing where bob may not even look the mailbox up.
    for (mailbox, reason) in [
        ("Listed", ErrorReason::NoPermission),
        ("Inserts", ErrorReason::NoPermission),
        ("Hidden", ErrorReason::Nonexistent),
        ("INBOX", ErrorReason::Nonexistent),
        ("Nowhere", ErrorReason::Nonexistent),
    ] {
        refused_as(
            &format!("MailboxExists {mailbox}"),
            exists(&mut c, &bob, mailbox).await,
            reason,
        );
        refused_as(
            &format!("delivery into {mailbox}"),
            deliver(&mut c, &bob, mailbox, &[]).await,
            reason,
        );
    }
    // Flags need their own rights on top of 'p' (and bob, without 'l',
    // is told no more than that Team is not there for him).
    refused_as(
        "delivery with \\Flagged into Team",
        deliver(&mut c, &bob, "Team", &["\\Flagged"]).await,
        ErrorReason::Nonexistent,
    );
    // Nor may a further message of the same Append set flags the first
    // header's check did not cover: the whole Append is refused.
    let body = b"Subject: two\r\n\r\nsecond\r\n";
    let mut parts = common::message_parts(append_header("Team", &[], body.len() as u64), body);
    let mut flagged = append_header("Team", &["\\Deleted", "\\Flagged"], body.len() as u64);
    flagged.owner = String::new();
    flagged.mailbox = String::new();
    parts.extend(common::message_parts(flagged, body));
    parts.push(pb::AppendRequest::commit());
    refused_as(
        "a second message with \\Deleted \\Flagged into Team",
        send_append(&mut c, &bob, parts).await,
        ErrorReason::NoPermission,
    );
    for (mailbox, count) in [("Listed", 1), ("Inserts", 1), ("Hidden", 1), ("INBOX", 1)] {
        assert_eq!(messages(&mut c, &owner, mailbox).await, count, "{mailbox}");
    }
    assert_eq!(messages(&mut c, &owner, "Team").await, 2);
}

/// Every call but a delivery's, with bob's deliver ticket on alice's
/// storage, is refused, even on Team where bob may post: a deliver ticket
/// reads nothing of anyone's.
#[tokio::test]
async fn another_users_deliver_ticket_reads_nothing() {
    let h = Harness::start();
    let (channel, owner, t) = setup(&h).await;
    let mut c = common::storage_client(channel.clone());
    let mut organize = OrganizeClient::new(channel.clone());
    let mut content = ContentClient::new(channel.clone());
    let mut search = SearchClient::new(channel.clone());
    let mut acl = AclClient::new(channel.clone());
    let mut watch = WatchClient::new(channel.clone());
    let owner_name = || OWNER.to_owned();
    let team = || "Team".to_owned();
    macro_rules! refuse {
        ($client:ident . $method:ident, $request:expr) => {{
            let result = $client.$method(with_ticket($request, &t)).await;
            let err = result.expect_err(stringify!($method));
            assert_eq!(
                err.code(),
                Code::PermissionDenied,
                "{}: {err:?}",
                stringify!($method)
            );
            assert_eq!(
                reason_of(&err),
                ErrorReason::NoPermission,
                "{}",
                stringify!($method)
            );
        }};
    }
    refuse!(
        c.list_mailboxes,
        pb::ListMailboxesRequest {
            owner: owner_name()
        }
    );
    refuse!(
        c.mailbox_status,
        pb::MailboxStatusRequest {
            owner: owner_name(),
            name: team(),
            ..Default::default()
        }
    );
    refuse!(
        c.select_mailbox,
        pb::SelectMailboxRequest {
            owner: owner_name(),
            name: team(),
            ..Default::default()
        }
    );
    refuse!(
        c.changes,
        pb::ChangesRequest {
            owner: owner_name(),
            mailbox: team(),
            ..Default::default()
        }
    );
    refuse!(
        c.fetch,
        pb::FetchRequest {
            owner: owner_name(),
            mailbox: team(),
            uids: all_uids(),
            body: true,
            ..Default::default()
        }
    );
    refuse!(
        c.store_flags,
        pb::StoreFlagsRequest {
            owner: owner_name(),
            mailbox: team(),
            uids: all_uids(),
            flags: vec!["\\Deleted".into()],
            ..Default::default()
        }
    );
    refuse!(
        c.expunge,
        pb::ExpungeRequest {
            owner: owner_name(),
            mailbox: team(),
            ..Default::default()
        }
    );
    refuse!(
        c.create_mailbox,
        pb::CreateMailboxRequest {
            owner: owner_name(),
            name: "Team.Stolen".into()
        }
    );
    refuse!(
        c.delete_mailbox,
        pb::DeleteMailboxRequest {
            owner: owner_name(),
            name: team()
        }
    );
    refuse!(
        content.fetch_structure,
        pb::FetchStructureRequest {
            owner: owner_name(),
            mailbox: team(),
            ..Default::default()
        }
    );
    refuse!(
        content.fetch_section,
        pb::FetchSectionRequest {
            owner: owner_name(),
            mailbox: team(),
            ..Default::default()
        }
    );
    refuse!(
        search.search,
        pb::SearchRequest {
            owner: owner_name(),
            mailbox: team(),
            ..Default::default()
        }
    );
    refuse!(
        organize.copy,
        pb::CopyRequest {
            owner: owner_name(),
            mailbox: team(),
            uids: all_uids(),
            target: team(),
            ..Default::default()
        }
    );
    refuse!(
        acl.my_rights,
        pb::MailboxAclRequest {
            owner: owner_name(),
            mailbox: team()
        }
    );
    refuse!(
        acl.get_acl,
        pb::MailboxAclRequest {
            owner: owner_name(),
            mailbox: team()
        }
    );
    refuse!(
        watch.watch,
        pb::WatchRequest {
            owner: owner_name(),
            mailbox: team(),
        }
    );
    // An append that would expunge (REPLACE) is no delivery, on Team too.
    let mut header = append_header("Team", &[], 1);
    header.replace = Some(pb::ReplaceMessage {
        mailbox: team(),
        uidvalidity: 0,
        uid: 1,
    });
    let result = send_append(&mut c, &t, append_stream(header, b"x")).await;
    assert_eq!(
        reason_of(&result.expect_err("Append REPLACE")),
        ErrorReason::NoPermission
    );
    // Nothing changed: Team still holds alice's one message.
    assert_eq!(messages(&mut c, &owner, "Team").await, 1);
}
