//! ACLs as the storage process enforces them (RFC 4314 §4): a guest (a
//! session ticket of another user) gets exactly what the owner's ACLs
//! grant, checked on every call; the protocol process decides nothing.

#[allow(dead_code)]
mod common;

use common::{
    Harness, OWNER, all_uids, append_header, create_mailbox, delete_mailbox, expunge_deleted,
    mailbox_status, send_append, store_flags,
};
use mailkeep_storage_rpc::metadata::with_ticket;
use mailkeep_storage_rpc::storage::acl_client::AclClient;
use mailkeep_storage_rpc::storage::organize_client::OrganizeClient;
use mailkeep_storage_rpc::storage::storage_client::StorageClient;
use mailkeep_storage_rpc::storage::*;
use mailkeep_ticket::Scope;
use tonic::transport::Channel;
use tonic::{Code, Status};

const GUEST: &str = "bob";

async fn set_acl(
    acl: &mut AclClient<Channel>,
    ticket: &str,
    mailbox: &str,
    identifier: &str,
    rights: &str,
) -> Result<(), Status> {
    let request = SetAclRequest {
        owner: OWNER.into(),
        mailbox: mailbox.into(),
        identifier: identifier.into(),
        rights: rights.into(),
        change: AclChange::Replace as i32,
    };
    acl.set_acl(with_ticket(request, ticket)).await?;
    Ok(())
}

async fn my_rights(
    acl: &mut AclClient<Channel>,
    ticket: &str,
    mailbox: &str,
) -> Result<String, Status> {
    let request = MailboxAclRequest {
        owner: OWNER.into(),
        mailbox: mailbox.into(),
    };
    Ok(acl
        .my_rights(with_ticket(request, ticket))
        .await?
        .into_inner()
        .rights)
}

async fn listed(c: &mut StorageClient<Channel>, ticket: &str) -> Vec<String> {
    let request = ListMailboxesRequest {
        owner: OWNER.into(),
    };
    c.list_mailboxes(with_ticket(request, ticket))
        .await
        .unwrap()
        .into_inner()
        .mailboxes
        .into_iter()
        .map(|m| m.name)
        .collect()
}

/// One operation of the matrix: its name, the right it needs, and the
/// outcome of trying it as the guest on `mailbox`.
async fn try_op(op: &str, channel: &Channel, ticket: &str, mailbox: &str) -> Result<(), Status> {
    let mut c = common::storage_client(channel.clone());
    let mut acl = AclClient::new(channel.clone());
    let uidvalidity = 0;
    match op {
        "status" => mailbox_status(&mut c, ticket, mailbox).await.map(drop),
        "select" => {
            let request = SelectMailboxRequest {
                owner: OWNER.into(),
                name: mailbox.into(),
                ..Default::default()
            };
            c.select_mailbox(with_ticket(request, ticket))
                .await
                .map(drop)
        }
        "fetch" => {
            let request = FetchRequest {
                owner: OWNER.into(),
                mailbox: mailbox.into(),
                uidvalidity,
                uids: all_uids(),
                body: true,
                cuts: Vec::new(),
                ..Default::default()
            };
            let mut stream = c.fetch(with_ticket(request, ticket)).await?.into_inner();
            while stream.message().await?.is_some() {}
            Ok(())
        }
        "seen" => store_flags(&mut c, ticket, mailbox, 0, 1, StoreMode::Add, &["\\Seen"])
            .await
            .map(drop),
        "flag" => store_flags(
            &mut c,
            ticket,
            mailbox,
            0,
            1,
            StoreMode::Add,
            &["\\Flagged"],
        )
        .await
        .map(drop),
        "delete-flag" => store_flags(
            &mut c,
            ticket,
            mailbox,
            0,
            1,
            StoreMode::Add,
            &["\\Deleted"],
        )
        .await
        .map(drop),
        "append" => send_append(
            &mut c,
            ticket,
            common::append_stream(append_header(mailbox, &[], 4), b"hi\r\n"),
        )
        .await
        .map(drop),
        "expunge" => expunge_deleted(&mut c, ticket, mailbox, 0).await.map(drop),
        "create-child" => {
            let request = CreateMailboxRequest {
                owner: OWNER.into(),
                name: format!("{mailbox}.child"),
            };
            c.create_mailbox(with_ticket(request, ticket))
                .await
                .map(drop)
        }
        "getacl" => {
            let request = MailboxAclRequest {
                owner: OWNER.into(),
                mailbox: mailbox.into(),
            };
            acl.get_acl(with_ticket(request, ticket)).await.map(drop)
        }
        "delete" => {
            let request = DeleteMailboxRequest {
                owner: OWNER.into(),
                name: mailbox.into(),
            };
            c.delete_mailbox(with_ticket(request, ticket))
                .await
                .map(drop)
        }
        other => panic!("unknown operation {other}"),
    }
}

/// Every operation and the one right it needs (RFC 4314 §4), in an order
/// where no operation undoes what a later one needs (delete last).
const OPS: [(&str, char); 11] = [
    ("status", 'r'),
    ("select", 'r'),
    ("fetch", 'r'),
    ("seen", 's'),
    ("flag", 'w'),
    ("delete-flag", 't'),
    ("append", 'i'),
    ("expunge", 'e'),
    ("create-child", 'k'),
    ("getacl", 'a'),
    ("delete", 'x'),
];

/// For each single right: the guest holding only that right on a mailbox
/// may do exactly the operations that need it, and is refused the rest —
/// as "no such mailbox" when the right is not 'l' (the guest may not know
/// the mailbox exists), as NOPERM when it is.
#[tokio::test]
async fn each_right_allows_exactly_its_operations() {
    let h = Harness::start();
    let channel = h.channel(1).await;
    let mut c = common::storage_client(channel.clone());
    let mut acl = AclClient::new(channel.clone());
    let owner = h.ticket();
    let guest = h.ticket_for(GUEST, Scope::Session);
    for right in "lrswipkxtea".chars() {
        let mailbox = format!("Right{right}");
        create_mailbox(&mut c, &owner, &mailbox).await.unwrap();
        send_append(
            &mut c,
            &owner,
            common::append_stream(append_header(&mailbox, &["\\Deleted"], 4), b"hi\r\n"),
        )
        .await
        .unwrap();
        set_acl(&mut acl, &owner, &mailbox, GUEST, &right.to_string())
            .await
            .unwrap();
        assert_eq!(
            my_rights(&mut acl, &guest, &mailbox).await.unwrap(),
            right.to_string()
        );
        assert_eq!(
            listed(&mut c, &guest).await.contains(&mailbox),
            right == 'l',
            "{mailbox} listed to the guest"
        );
        for (op, needs) in OPS {
            let outcome = try_op(op, &channel, &guest, &mailbox).await;
            if needs == right {
                assert!(outcome.is_ok(), "{op} with '{right}': {outcome:?}");
                continue;
            }
            let refused = outcome.expect_err(&format!("{op} allowed with only '{right}'"));
            let expected = if right == 'l' {
                Code::PermissionDenied
            } else {
                Code::NotFound
            };
            assert_eq!(refused.code(), expected, "{op} with '{right}': {refused:?}");
        }
    }
    // What the guest could not do was not done: Rightr's message is
    // still there, unflagged but for the owner's \Deleted.
    let status = mailbox_status(&mut c, &owner, "Rightr").await.unwrap();
    assert_eq!(status.messages, 1);
    // And what it could do was done: Righti got a second message,
    // Righte lost its deleted one, Rightx is gone, Rightk has a child.
    assert_eq!(
        mailbox_status(&mut c, &owner, "Righti")
            .await
            .unwrap()
            .messages,
        2
    );
    assert_eq!(
        mailbox_status(&mut c, &owner, "Righte")
            .await
            .unwrap()
            .messages,
        0
    );
    let names = listed(&mut c, &owner).await;
    assert!(!names.contains(&"Rightx".to_owned()), "{names:?}");
    assert!(names.contains(&"Rightk.child".to_owned()), "{names:?}");
}

/// Identifiers: "anyone" and "authenticated" reach every user, a negative
/// entry takes rights away again, the owner's rights cannot be changed,
/// and the owner's own things (INBOX unshared, subscriptions) stay theirs.
#[tokio::test]
async fn anyone_authenticated_and_negative_rights_combine() {
    let h = Harness::start();
    let channel = h.channel(1).await;
    let mut c = common::storage_client(channel.clone());
    let mut acl = AclClient::new(channel.clone());
    let owner = h.ticket();
    let bob = h.ticket_for(GUEST, Scope::Session);
    let carol = h.ticket_for("carol", Scope::Session);
    create_mailbox(&mut c, &owner, "News").await.unwrap();
    set_acl(&mut acl, &owner, "News", "anyone", "lr")
        .await
        .unwrap();
    set_acl(&mut acl, &owner, "News", "authenticated", "s")
        .await
        .unwrap();
    set_acl(&mut acl, &owner, "News", "-bob", "rs")
        .await
        .unwrap();
    assert_eq!(my_rights(&mut acl, &carol, "News").await.unwrap(), "lrs");
    assert_eq!(my_rights(&mut acl, &bob, "News").await.unwrap(), "l");
    assert_eq!(
        mailbox_status(&mut c, &bob, "News")
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied,
        "bob sees News but may not read it"
    );
    assert!(mailbox_status(&mut c, &carol, "News").await.is_ok());
    assert_eq!(
        my_rights(&mut acl, &owner, "News").await.unwrap(),
        "lrswipkxtea"
    );

    // The owner's entry is not the ACL's to change.
    let refused = set_acl(&mut acl, &owner, "News", OWNER, "l")
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    // A right letter that does not exist.
    let refused = set_acl(&mut acl, &owner, "News", "carol", "lz")
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    // GETACL lists the owner first, then the entries.
    let request = MailboxAclRequest {
        owner: OWNER.into(),
        mailbox: "News".into(),
    };
    let entries: Vec<(String, String)> = acl
        .get_acl(with_ticket(request, &owner))
        .await
        .unwrap()
        .into_inner()
        .entries
        .into_iter()
        .map(|e| (e.identifier, e.rights))
        .collect();
    assert_eq!(entries[0], (OWNER.to_owned(), "lrswipkxtea".to_owned()));
    assert!(
        entries.contains(&("-bob".to_owned(), "rs".to_owned())),
        "{entries:?}"
    );

    // Unshared mailboxes are hidden, and the owner-only services refuse.
    assert_eq!(
        mailbox_status(&mut c, &carol, "INBOX")
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    let mut organize = OrganizeClient::new(channel.clone());
    let request = SubscriptionRequest {
        owner: OWNER.into(),
        mailbox: "News".into(),
    };
    let refused = organize
        .subscribe(with_ticket(request, &carol))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    // The owner may always delete what a guest could not.
    delete_mailbox(&mut c, &owner, "News").await.unwrap();
}

/// What a guest creates inside a shared folder (with 'k') inherits the
/// folder's ACL, so the guest, and everyone the folder is shared with,
/// sees it; a top-level mailbox starts unshared.
#[tokio::test]
async fn a_new_mailbox_inherits_its_parents_acl() {
    let h = Harness::start();
    let channel = h.channel(1).await;
    let mut c = common::storage_client(channel.clone());
    let mut acl = AclClient::new(channel.clone());
    let owner = h.ticket();
    let guest = h.ticket_for(GUEST, Scope::Session);
    create_mailbox(&mut c, &owner, "Team").await.unwrap();
    set_acl(&mut acl, &owner, "Team", GUEST, "lrk")
        .await
        .unwrap();
    set_acl(&mut acl, &owner, "Team", "carol", "lr")
        .await
        .unwrap();
    create_mailbox(&mut c, &guest, "Team.Minutes")
        .await
        .unwrap();
    assert_eq!(
        my_rights(&mut acl, &guest, "Team.Minutes").await.unwrap(),
        "lrk"
    );
    let carol = h.ticket_for("carol", Scope::Session);
    assert_eq!(
        my_rights(&mut acl, &carol, "Team.Minutes").await.unwrap(),
        "lr"
    );
    create_mailbox(&mut c, &owner, "Private").await.unwrap();
    assert_eq!(
        my_rights(&mut acl, &guest, "Private")
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
}
