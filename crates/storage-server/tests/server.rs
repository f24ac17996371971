//! The storage process in-process: a control socket pair standing in for
//! the master, one passed connection, and a real gRPC client over it.

#[allow(dead_code)]
mod common;

use common::{
    Harness, OWNER, all_uids, append_header, create_mailbox, delete_mailbox, expunge_deleted,
    mailbox_status, rename_mailbox, send_append, store_flags,
};
use mailkeep_storage_rpc::fetch_items::FetchItems;
use mailkeep_storage_rpc::metadata::with_ticket;
use mailkeep_storage_rpc::storage::append_request::Part;
use mailkeep_storage_rpc::storage::fetch_item::Item;
use mailkeep_storage_rpc::storage::storage_client::StorageClient;
use mailkeep_storage_rpc::storage::*;
use mailkeep_ticket::{Claims, Scope, now_unix, sign};
use tonic::Code;
use tonic::transport::Channel;

/// Files in the Maildir's tmp/: appends under way or left behind.
fn tmp_files(h: &Harness) -> usize {
    std::fs::read_dir(h.maildir().join("tmp")).unwrap().count()
}

/// An APPEND stream announcing `announced` bytes (which need not be the
/// body's length), with an internal date in a zone west of UTC.
fn append_stream(mailbox: &str, flags: &[&str], body: &[u8], announced: u64) -> Vec<AppendRequest> {
    let header = AppendHeader {
        internal_date: 1_700_000_000,
        internal_date_offset_minutes: -300,
        ..append_header(mailbox, flags, announced)
    };
    common::append_stream(header, body)
}

async fn fetch_all(
    client: &mut StorageClient<Channel>,
    ticket: &str,
    mailbox: &str,
    uidvalidity: u32,
) -> Result<Vec<(FetchedMessage, Vec<u8>)>, tonic::Status> {
    let req = FetchRequest {
        owner: OWNER.into(),
        mailbox: mailbox.into(),
        uidvalidity,
        uids: all_uids(),
        body: true,
        cuts: Vec::new(),
        ..Default::default()
    };
    let stream = client.fetch(with_ticket(req, ticket)).await?.into_inner();
    let mut out: Vec<(FetchedMessage, Vec<u8>)> = Vec::new();
    let mut stream = FetchItems::new(stream);
    while let Some(item) = stream.next().await? {
        match item {
            Item::Message(m) => out.push((m, Vec::new())),
            Item::BodyChunk(c) => out.last_mut().unwrap().1.extend_from_slice(&c),
            other => panic!("no cuts were asked for: {other:?}"),
        }
    }
    Ok(out)
}

#[tokio::test]
async fn mailbox_append_fetch_flags_expunge_changes() {
    let h = Harness::start();
    let mut c = h.client(1).await;
    let t = h.ticket();

    create_mailbox(&mut c, &t, "Work").await.unwrap();
    let err = create_mailbox(&mut c, &t, "Work").await.unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    let err = create_mailbox(&mut c, &t, "a..b").await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let list = c
        .list_mailboxes(with_ticket(
            ListMailboxesRequest {
                owner: OWNER.into(),
            },
            &t,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.delimiter, ".");
    let names: Vec<&str> = list.mailboxes.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["INBOX", "Work"]);

    // ~1 MB in many chunks, back byte for byte (without LFs: a bare LF
    // would be served as CRLF).
    let body: Vec<u8> = (0..1_000_003u32)
        .map(|i| match (i * 7 % 256) as u8 {
            b'\n' => b'.',
            b => b,
        })
        .collect();
    let a = send_append(
        &mut c,
        &t,
        append_stream("Work", &["\\Seen"], &body, body.len() as u64),
    )
    .await
    .unwrap();
    assert_eq!(a.uid, 1);
    let b = send_append(&mut c, &t, append_stream("Work", &[], b"small\r\n", 7))
        .await
        .unwrap();
    assert!(b.uid > a.uid && b.modseq > a.modseq);
    let fetched = fetch_all(&mut c, &t, "Work", a.uidvalidity).await.unwrap();
    assert_eq!(fetched.len(), 2);
    assert_eq!(fetched[0].0.uid, a.uid);
    assert_eq!(fetched[0].0.size, body.len() as u64);
    assert_eq!(fetched[0].0.flags, ["\\Seen"]);
    assert_eq!(fetched[0].0.internal_date, 1_700_000_000);
    assert_eq!(fetched[0].0.internal_date_offset_minutes, -300);
    // SAVEDATE: when it was saved here, not the internal date it was given.
    let saved = fetched[0].0.save_date;
    assert!(
        (saved - mailkeep_ticket::now_unix()).abs() < 120,
        "save date {saved} is not about now"
    );
    assert!(fetched[0].1 == body, "fetched body differs");
    assert_eq!(fetched[1].1, b"small\r\n");

    let sel = c
        .select_mailbox(with_ticket(
            SelectMailboxRequest {
                owner: OWNER.into(),
                name: "Work".into(),
                with_object_ids: false,
                ..Default::default()
            },
            &t,
        ))
        .await
        .unwrap()
        .into_inner();
    let status = sel.status.unwrap();
    assert_eq!((status.messages, status.unseen), (2, 1));
    let mark = status.highestmodseq;

    let stored = store_flags(
        &mut c,
        &t,
        "Work",
        a.uidvalidity,
        a.uid,
        StoreMode::Add,
        &["\\deleted"],
    )
    .await
    .unwrap();
    assert_eq!(stored.updated.len(), 1);
    assert_eq!(stored.updated[0].flags, ["\\Deleted", "\\Seen"]);
    let expunged = expunge_deleted(&mut c, &t, "Work", a.uidvalidity)
        .await
        .unwrap();
    assert_eq!(expunged.expunged, [a.uid]);
    let changes = c
        .changes(with_ticket(
            ChangesRequest {
                owner: OWNER.into(),
                mailbox: "Work".into(),
                uidvalidity: a.uidvalidity,
                since_modseq: mark,
            },
            &t,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(changes.vanished, [a.uid]);
    assert!(changes.changed.is_empty());
    assert_eq!(
        changes.status.unwrap().highestmodseq,
        expunged.highestmodseq
    );
    let stale = c
        .changes(with_ticket(
            ChangesRequest {
                owner: OWNER.into(),
                mailbox: "Work".into(),
                uidvalidity: a.uidvalidity + 1,
                since_modseq: 0,
            },
            &t,
        ))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::FailedPrecondition);

    rename_mailbox(&mut c, &t, "Work", "Job").await.unwrap();
    let st = mailbox_status(&mut c, &t, "Job").await.unwrap();
    assert_eq!(st.messages, 1);
    delete_mailbox(&mut c, &t, "Job").await.unwrap();
    let err = mailbox_status(&mut c, &t, "Job").await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    // The master goes away: serve returns Ok.
    drop(c);
    h.process.stop().await.unwrap();
}

#[tokio::test]
async fn bad_appends_leave_nothing() {
    let h = Harness::start();
    let mut c = h.client(7).await;
    let t = h.ticket();
    // Fewer bytes than announced.
    let err = send_append(&mut c, &t, append_stream("INBOX", &[], b"12345", 10))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    // More bytes than announced.
    let err = send_append(
        &mut c,
        &t,
        append_stream("INBOX", &[], &[b'x'; 200_000], 10),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    // No header first.
    let parts = vec![AppendRequest {
        part: Some(Part::Chunk(b"x".to_vec())),
    }];
    let err = send_append(&mut c, &t, parts).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    // No such mailbox; a bad flag.
    let err = send_append(&mut c, &t, append_stream("Nope", &[], b"x", 1))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = send_append(&mut c, &t, append_stream("INBOX", &["\\Recent"], b"x", 1))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    // A client that goes away mid-append, past the first 256 KB (which
    // the server gathers before it starts writing): its file is being
    // written, and goes.
    let (tx, rx) = tokio::sync::mpsc::channel::<AppendRequest>(8);
    let mut parts = append_stream("INBOX", &[], &[b'y'; 600_000], 600_000).into_iter();
    // The header and five chunks of 64 KB.
    for _ in 0..6 {
        tx.send(parts.next().unwrap()).await.unwrap();
    }
    let mut c2 = c.clone();
    let t2 = t.clone();
    let call = tokio::spawn(async move {
        c2.append(with_ticket(
            tokio_stream::wrappers::ReceiverStream::new(rx),
            &t2,
        ))
        .await
    });
    for _ in 0..50 {
        if tmp_files(&h) == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(tmp_files(&h), 1, "the append should be under way");
    call.abort();
    let _ = call.await;
    drop(tx);
    for _ in 0..50 {
        if tmp_files(&h) == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(tmp_files(&h), 0);
    let st = mailbox_status(&mut c, &t, "INBOX").await.unwrap();
    assert_eq!(st.messages, 0);
}

#[tokio::test]
async fn a_client_that_leaves_within_the_gathered_bytes_leaves_nothing() {
    // The server gathers an append's first 256 KB before its store thread
    // starts: a client whose stream ends there without the commit never
    // started a write, and gets an error, not a message.
    let h = Harness::start();
    let mut c = h.client(8).await;
    let t = h.ticket();
    let mut parts = append_stream("INBOX", &[], &[b'z'; 100_000], 100_000);
    // Everything but the commit, which is the last part.
    parts.pop();
    let err = send_append(&mut c, &t, parts).await.unwrap_err();
    assert_eq!(err.code(), Code::Cancelled, "{err:?}");
    assert_eq!(tmp_files(&h), 0);
    let st = mailbox_status(&mut c, &t, "INBOX").await.unwrap();
    assert_eq!(st.messages, 0);
}

#[tokio::test]
async fn tickets_are_checked_before_anything() {
    let h = Harness::start();
    let mut c = h.client(3).await;
    let list = |t: &str| {
        with_ticket(
            ListMailboxesRequest {
                owner: OWNER.into(),
            },
            t,
        )
    };

    // Forged: signed with another key.
    let forged = common::forged_ticket();
    assert_eq!(
        c.list_mailboxes(list(&forged)).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    // Expired.
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
    let err = c.list_mailboxes(list(&expired)).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert!(err.message().contains("expired"), "{}", err.message());
    // Garbage and none at all.
    assert_eq!(
        c.list_mailboxes(list("garbage")).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    let bare = tonic::Request::new(ListMailboxesRequest {
        owner: OWNER.into(),
    });
    assert_eq!(
        c.list_mailboxes(bare).await.unwrap_err().code(),
        Code::Unauthenticated
    );

    // A delivery ticket may append but not read.
    let deliver = h.ticket_for(OWNER, Scope::Deliver);
    let req = FetchRequest {
        owner: OWNER.into(),
        mailbox: "INBOX".into(),
        uidvalidity: 0,
        uids: all_uids(),
        body: true,
        cuts: Vec::new(),
        ..Default::default()
    };
    let err = c.fetch(with_ticket(req, &deliver)).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert!(err.message().contains("scope"), "{}", err.message());
    send_append(
        &mut c,
        &deliver,
        append_stream("INBOX", &[], b"delivered\r\n", 11),
    )
    .await
    .unwrap();

    // Another user's ticket for this owner's mail: a guest, who sees
    // nothing the owner's ACLs do not grant (see tests/acl.rs).
    let bob = h.ticket_for("bob", Scope::Session);
    let listed = c.list_mailboxes(list(&bob)).await.unwrap().into_inner();
    assert!(listed.mailboxes.is_empty(), "{listed:?}");
    // Bob's own mail is not served by this process.
    let err = c
        .list_mailboxes(with_ticket(
            ListMailboxesRequest {
                owner: "bob".into(),
            },
            &bob,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    // A refused append touches nothing (INBOX is not shared with bob, so
    // to him it does not exist).
    let err = send_append(&mut c, &bob, append_stream("INBOX", &[], b"x", 1))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let t = h.ticket();
    let fetched = fetch_all(&mut c, &t, "INBOX", 0).await.unwrap();
    assert_eq!(fetched.len(), 1);
    assert_eq!(fetched[0].1, b"delivered\r\n");
}

#[tokio::test]
async fn fetch_reports_data_loss_when_the_file_changed() {
    let h = Harness::start();
    let mut c = h.client(9).await;
    let t = h.ticket();
    let a = send_append(&mut c, &t, append_stream("INBOX", &[], b"0123456789", 10))
        .await
        .unwrap();
    // Read once: its file is written from the append journal.
    let fetched = fetch_all(&mut c, &t, "INBOX", a.uidvalidity).await.unwrap();
    assert_eq!(fetched[0].1, b"0123456789");
    let cur = h.maildir().join("cur");
    let file = std::fs::read_dir(&cur)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::write(&file, b"01234").unwrap();
    let err = fetch_all(&mut c, &t, "INBOX", a.uidvalidity)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::DataLoss);
    std::fs::write(&file, b"0123456789ABC").unwrap();
    let err = fetch_all(&mut c, &t, "INBOX", a.uidvalidity)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::DataLoss);
    // A file that is gone is an outside expunge (DESIGN §5): the next sync
    // drops its row, and the fetch finds nothing rather than failing.
    std::fs::remove_file(&file).unwrap();
    let fetched = fetch_all(&mut c, &t, "INBOX", a.uidvalidity).await.unwrap();
    assert!(fetched.is_empty(), "the vanished message is still listed");
}
