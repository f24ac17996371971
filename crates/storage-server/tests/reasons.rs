//! Every refusal of the storage process carries its ErrorReason through the
//! real gRPC service, read back with `errors::reason_of` as a protocol
//! process reads it: the reason, never the message text, says what went
//! wrong.

#[allow(dead_code)]
mod common;

use common::{
    Harness, OWNER, append, append_header, append_stream, create_mailbox, delete_mailbox,
    mailbox_status, rename_mailbox, send_append, store_flags,
};
use mailkeep_storage_rpc::errors::{ErrorReason, reason_of};
use mailkeep_storage_rpc::metadata::with_ticket;
use mailkeep_storage_rpc::storage::organize_client::OrganizeClient;
use mailkeep_storage_rpc::storage::*;
use mailkeep_ticket::{Claims, Scope, now_unix, sign};
use tonic::Code;

#[tokio::test]
async fn deleting_a_mailbox_with_children_is_has_children() {
    let h = Harness::start();
    let mut c = h.client(1).await;
    let t = h.ticket();
    create_mailbox(&mut c, &t, "Work").await.unwrap();
    create_mailbox(&mut c, &t, "Work.Sub").await.unwrap();
    let err = delete_mailbox(&mut c, &t, "Work").await.unwrap_err();
    assert_eq!(reason_of(&err), ErrorReason::HasChildren, "{err:?}");
    // The child goes first, then the parent may.
    delete_mailbox(&mut c, &t, "Work.Sub").await.unwrap();
    delete_mailbox(&mut c, &t, "Work").await.unwrap();
}

#[tokio::test]
async fn a_255_byte_mailbox_name_is_over_the_limit() {
    let h = Harness::start();
    let mut c = h.client(1).await;
    let t = h.ticket();
    let err = create_mailbox(&mut c, &t, &"n".repeat(255))
        .await
        .unwrap_err();
    assert_eq!(reason_of(&err), ErrorReason::Limit, "{err:?}");
    // The longest name a Maildir++ folder can carry is fine.
    create_mailbox(&mut c, &t, &"n".repeat(254)).await.unwrap();
    // A rename whose child would grow past the limit is refused too.
    create_mailbox(&mut c, &t, "p").await.unwrap();
    create_mailbox(&mut c, &t, &format!("p.{}", "c".repeat(250)))
        .await
        .unwrap();
    let err = rename_mailbox(&mut c, &t, "p", "parent").await.unwrap_err();
    assert_eq!(reason_of(&err), ErrorReason::Limit, "{err:?}");
}

#[tokio::test]
async fn mailbox_refusals_carry_their_reasons() {
    let h = Harness::start();
    let mut c = h.client(1).await;
    let t = h.ticket();
    create_mailbox(&mut c, &t, "Work").await.unwrap();
    let cases = [
        (
            create_mailbox(&mut c, &t, "Work").await,
            ErrorReason::AlreadyExists,
        ),
        (
            create_mailbox(&mut c, &t, "a..b").await,
            ErrorReason::InvalidName,
        ),
        (
            delete_mailbox(&mut c, &t, "Nope").await,
            ErrorReason::Nonexistent,
        ),
        (
            delete_mailbox(&mut c, &t, "INBOX").await,
            ErrorReason::Cannot,
        ),
        (
            rename_mailbox(&mut c, &t, "Work", "Work.Below").await,
            ErrorReason::Cannot,
        ),
        (
            mailbox_status(&mut c, &t, "Nope").await.map(|_| ()),
            ErrorReason::Nonexistent,
        ),
    ];
    for (i, (result, want)) in cases.into_iter().enumerate() {
        let err = result.expect_err("refused");
        assert_eq!(reason_of(&err), want, "case {i}: {err:?}");
    }
}

#[tokio::test]
async fn message_refusals_carry_their_reasons() {
    let h = Harness::start();
    let mut c = h.client(1).await;
    let t = h.ticket();
    let a = append(&mut c, &t, "INBOX", b"one\r\n").await;

    for nil in ["NIL", "nil"] {
        let err = store_flags(&mut c, &t, "INBOX", 0, a.uid, StoreMode::Add, &[nil])
            .await
            .unwrap_err();
        assert_eq!(reason_of(&err), ErrorReason::InvalidArgument, "{err:?}");
    }
    let err = store_flags(
        &mut c,
        &t,
        "INBOX",
        a.uidvalidity + 1,
        a.uid,
        StoreMode::Add,
        &["\\Seen"],
    )
    .await
    .unwrap_err();
    assert_eq!(reason_of(&err), ErrorReason::UidvalidityChanged, "{err:?}");

    let parts = append_stream(append_header("INBOX", &["NIL"], 3), b"abc");
    let err = send_append(&mut c, &t, parts).await.unwrap_err();
    assert_eq!(reason_of(&err), ErrorReason::InvalidArgument, "{err:?}");
    let parts = append_stream(append_header("Nope", &[], 3), b"abc");
    let err = send_append(&mut c, &t, parts).await.unwrap_err();
    assert_eq!(reason_of(&err), ErrorReason::Nonexistent, "{err:?}");
    let parts = append_stream(append_header("INBOX", &[], 10), b"abc");
    let err = send_append(&mut c, &t, parts).await.unwrap_err();
    assert_eq!(reason_of(&err), ErrorReason::InvalidArgument, "{err:?}");
    let status = mailbox_status(&mut c, &t, "INBOX").await.unwrap();
    assert_eq!(status.messages, 1, "a refused append left a message");
}

#[tokio::test]
async fn an_unknown_special_use_attribute_is_use_attr() {
    let h = Harness::start();
    let t = h.ticket();
    let mut o = OrganizeClient::new(h.channel(2).await);
    let request = SetSpecialUseRequest {
        owner: OWNER.into(),
        mailbox: "Stuff".into(),
        attributes: vec!["\\Bogus".into()],
        create: true,
    };
    let err = o
        .set_special_use(with_ticket(request, &t))
        .await
        .unwrap_err();
    assert_eq!(reason_of(&err), ErrorReason::UseAttr, "{err:?}");
    let mut c = h.client(1).await;
    let err = mailbox_status(&mut c, &t, "Stuff").await.unwrap_err();
    assert_eq!(
        reason_of(&err),
        ErrorReason::Nonexistent,
        "nothing was created"
    );
}

#[tokio::test]
async fn every_ticket_refusal_is_no_permission_and_keeps_its_code() {
    let h = Harness::start();
    let mut c = h.client(1).await;
    let list = |t: &str| {
        with_ticket(
            ListMailboxesRequest {
                owner: OWNER.into(),
            },
            t,
        )
    };
    let expired = sign(
        &h.key,
        &Claims::new(
            OWNER,
            Scope::Session,
            now_unix() - 7200,
            3600,
            common::ISSUER,
        ),
    );
    let bob = h.ticket_for("bob", Scope::Session);
    let deliver = h.ticket_for(OWNER, Scope::Deliver);
    let forged = common::forged_ticket();
    let cases = [
        (
            c.list_mailboxes(list(&forged)).await.map(|_| ()),
            Code::Unauthenticated,
        ),
        (
            c.list_mailboxes(list(&expired)).await.map(|_| ()),
            Code::Unauthenticated,
        ),
        (
            c.list_mailboxes(tonic::Request::new(ListMailboxesRequest {
                owner: OWNER.into(),
            }))
            .await
            .map(|_| ()),
            Code::Unauthenticated,
        ),
        (
            c.list_mailboxes(list(&deliver)).await.map(|_| ()),
            Code::PermissionDenied,
        ),
    ];
    for (i, (result, code)) in cases.into_iter().enumerate() {
        let err = result.expect_err("refused");
        assert_eq!(reason_of(&err), ErrorReason::NoPermission, "case {i}");
        assert_eq!(err.code(), code, "case {i}: {err:?}");
    }
    // Bob's good ticket for an owner this process does not serve is not a
    // refusal of the ticket: it is "ask the broker for bob's process"
    // (what a session's first call on a warm channel of a process that
    // let the owner go gets, and then does).
    let err = c
        .list_mailboxes(with_ticket(
            ListMailboxesRequest {
                owner: "bob".into(),
            },
            &bob,
        ))
        .await
        .expect_err("bob is not served here");
    assert_eq!(reason_of(&err), ErrorReason::Unavailable);
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
}

/// With `max_mailboxes = 2` an owner has INBOX and one more: the next
/// CREATE is refused with the reason `Limit` (which IMAP answers with
/// `NO [LIMIT]`), and a DELETE makes room again.
#[tokio::test]
async fn creating_beyond_the_mailbox_limit_is_limit() {
    let home = tempfile::tempdir().unwrap();
    let key = common::TestKey::generate();
    let settings = mailkeep_storage_server::StorageSettings {
        owner: common::OWNER.into(),
        home: home.path().to_path_buf(),
        maildir: None,
    };
    let tuning = mailkeep_storage_server::Tuning {
        max_mailboxes: 2,
        ..mailkeep_storage_server::Tuning::default()
    };
    let process = common::Process::start_with(settings, tuning, &key);
    let mut c = process.client(1).await;
    let t = common::ticket_signed_with(&key, common::OWNER, Scope::Session);
    create_mailbox(&mut c, &t, "One").await.unwrap();
    let err = create_mailbox(&mut c, &t, "Two").await.unwrap_err();
    assert_eq!(reason_of(&err), ErrorReason::Limit, "{err:?}");
    delete_mailbox(&mut c, &t, "One").await.unwrap();
    create_mailbox(&mut c, &t, "Two").await.unwrap();
}

/// An enum value the storage process does not know (a SORT key, a THREAD
/// algorithm) is refused with its reason in the status's details, as
/// every other refusal (found by the `storage_request` fuzz target: these
/// two were bare statuses, read right only by `reason_of`'s fallback on
/// the gRPC code).
#[tokio::test]
async fn an_unknown_sort_key_or_thread_algorithm_is_invalid_argument() {
    use mailkeep_storage_rpc::storage::search_client::SearchClient;
    let h = Harness::start();
    let mut search = SearchClient::new(h.channel(1).await);
    let t = h.ticket();
    let sort = SortRequest {
        owner: OWNER.into(),
        mailbox: "INBOX".into(),
        criteria: vec![SortCriterion {
            key: 999,
            reverse: false,
        }],
        ..Default::default()
    };
    let err = search.sort(with_ticket(sort, &t)).await.unwrap_err();
    assert!(!err.details().is_empty(), "no reason in {err:?}");
    assert_eq!(reason_of(&err), ErrorReason::InvalidArgument, "{err:?}");
    let thread = ThreadRequest {
        owner: OWNER.into(),
        mailbox: "INBOX".into(),
        algorithm: ThreadAlgorithm::Unspecified as i32,
        ..Default::default()
    };
    let err = search.thread(with_ticket(thread, &t)).await.unwrap_err();
    assert!(!err.details().is_empty(), "no reason in {err:?}");
    assert_eq!(reason_of(&err), ErrorReason::InvalidArgument, "{err:?}");
}
