//! MULTIAPPEND and REPLACE over the storage RPC: several messages in one
//! Append stream, committed all or none, and an append that expunges the
//! message it replaces in the same transaction.

#[allow(dead_code)]
mod common;

use common::{
    Harness, OWNER, all_uids, append, append_header, append_stream, mailbox_status, message_parts,
    send_append,
};
use mailkeep_storage_rpc::errors::{ErrorReason, reason_of};
use mailkeep_storage_rpc::fetch_items::FetchItems;
use mailkeep_storage_rpc::metadata::with_ticket;
use mailkeep_storage_rpc::storage::fetch_item::Item;
use mailkeep_storage_rpc::storage::*;
use mailkeep_ticket::Scope;

/// One Append stream carrying every `(header, body)` in turn, then the
/// commit.
fn batch(messages: &[(AppendHeader, &[u8])]) -> Vec<AppendRequest> {
    let mut parts: Vec<AppendRequest> = messages
        .iter()
        .flat_map(|(h, body)| message_parts(h.clone(), body))
        .collect();
    parts.push(AppendRequest::commit());
    parts
}

fn tmp_files(h: &Harness) -> usize {
    std::fs::read_dir(h.maildir().join("tmp")).unwrap().count()
}

fn replace(mailbox: &str, uidvalidity: u32, uid: u32) -> Option<ReplaceMessage> {
    Some(ReplaceMessage {
        mailbox: mailbox.into(),
        uidvalidity,
        uid,
    })
}

#[tokio::test]
async fn multiappend_indexes_every_message_and_returns_their_uids() {
    let h = Harness::start();
    let mut c = h.client(1).await;
    let t = h.ticket();
    // No line ends: a bare LF would be served as CRLF.
    let big: Vec<u8> = (0..200_003u32)
        .map(|i| match (i % 251) as u8 {
            b'\n' | b'\r' => b'x',
            b => b,
        })
        .collect();
    let parts = batch(&[
        (append_header("INBOX", &["\\Seen"], 7), b"first\r\n"),
        (append_header("INBOX", &[], big.len() as u64), &big),
        // Later headers may leave owner and mailbox empty.
        (
            AppendHeader {
                owner: String::new(),
                mailbox: String::new(),
                ..append_header("", &["$Label"], 7)
            },
            b"third\r\n",
        ),
    ]);
    let r = send_append(&mut c, &t, parts).await.unwrap();
    assert_eq!(r.uids, [1, 2, 3]);
    assert_eq!(r.uid, 1);
    assert_eq!(r.replaced_highestmodseq, 0);

    let request = FetchRequest {
        owner: OWNER.into(),
        mailbox: "INBOX".into(),
        uidvalidity: r.uidvalidity,
        uids: all_uids(),
        body: true,
        cuts: Vec::new(),
        ..Default::default()
    };
    let stream = c
        .fetch(with_ticket(request, &t))
        .await
        .unwrap()
        .into_inner();
    let mut got: Vec<(FetchedMessage, Vec<u8>)> = Vec::new();
    let mut stream = FetchItems::new(stream);
    while let Some(item) = stream.next().await.unwrap() {
        match item {
            Item::Message(m) => got.push((m, Vec::new())),
            Item::BodyChunk(b) => got.last_mut().unwrap().1.extend_from_slice(&b),
            other => panic!("no cuts were asked for: {other:?}"),
        }
    }
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].1, b"first\r\n");
    assert!(got[1].1 == big, "the big message differs");
    assert_eq!(got[2].0.flags, ["$Label"]);
    assert!(got.iter().all(|(m, _)| m.modseq == r.modseq));
}

#[tokio::test]
async fn a_failing_message_leaves_none_of_the_batch() {
    let h = Harness::start();
    let mut c = h.client(1).await;
    let t = h.ticket();
    // The third message is refused (a flag that cannot be stored) after
    // two complete ones were written.
    let parts = batch(&[
        (append_header("INBOX", &[], 3), b"one"),
        (append_header("INBOX", &[], 3), b"two"),
        (append_header("INBOX", &["\\Recent"], 5), b"three"),
    ]);
    let err = send_append(&mut c, &t, parts).await.unwrap_err();
    assert_eq!(reason_of(&err), ErrorReason::InvalidArgument, "{err:?}");
    // The stream ends inside the last message: too few bytes.
    let parts = batch(&[
        (append_header("INBOX", &[], 3), b"one"),
        (append_header("INBOX", &[], 10), b"cut"),
    ]);
    let err = send_append(&mut c, &t, parts).await.unwrap_err();
    assert_eq!(reason_of(&err), ErrorReason::InvalidArgument, "{err:?}");
    // A later message for another mailbox.
    let parts = batch(&[
        (append_header("INBOX", &[], 3), b"one"),
        (append_header("Other", &[], 3), b"two"),
    ]);
    let err = send_append(&mut c, &t, parts).await.unwrap_err();
    assert_eq!(reason_of(&err), ErrorReason::InvalidArgument, "{err:?}");
    // Whole messages, but the stream ends cleanly without its commit (a
    // client that gave up): nothing is stored.
    let mut parts = batch(&[
        (append_header("INBOX", &[], 3), b"one"),
        (append_header("INBOX", &[], 3), b"two"),
    ]);
    assert!(parts.pop().is_some());
    let err = send_append(&mut c, &t, parts).await.unwrap_err();
    assert_eq!(reason_of(&err), ErrorReason::Cancelled, "{err:?}");

    // The reply came after the writer let go: nothing is left anywhere.
    assert_eq!(
        mailbox_status(&mut c, &t, "INBOX").await.unwrap().messages,
        0
    );
    assert_eq!(tmp_files(&h), 0);
    let cur = std::fs::read_dir(h.maildir().join("cur")).unwrap().count();
    assert_eq!(cur, 0);
}

#[tokio::test]
async fn replace_expunges_the_replaced_message_in_the_same_commit() {
    let h = Harness::start();
    let mut c = h.client(1).await;
    let t = h.ticket();
    let old = append(&mut c, &t, "INBOX", b"draft one\r\n").await;
    let mark = mailbox_status(&mut c, &t, "INBOX")
        .await
        .unwrap()
        .highestmodseq;
    let header = AppendHeader {
        replace: replace("INBOX", old.uidvalidity, old.uid),
        ..append_header("INBOX", &["\\Draft"], 11)
    };
    let r = send_append(&mut c, &t, append_stream(header, b"draft two\r\n"))
        .await
        .unwrap();
    assert_eq!(r.uids, [old.uid + 1]);
    assert!(r.replaced_highestmodseq > r.modseq);
    let changes = c
        .changes(with_ticket(
            ChangesRequest {
                owner: OWNER.into(),
                mailbox: "INBOX".into(),
                uidvalidity: old.uidvalidity,
                since_modseq: mark,
            },
            &t,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(changes.vanished, [old.uid]);
    assert_eq!(changes.status.unwrap().messages, 1);

    // Gone already: refused, and the new message is not kept.
    let header = AppendHeader {
        replace: replace("INBOX", old.uidvalidity, old.uid),
        ..append_header("INBOX", &[], 3)
    };
    let err = send_append(&mut c, &t, append_stream(header, b"new"))
        .await
        .unwrap_err();
    assert_eq!(reason_of(&err), ErrorReason::Expunged, "{err:?}");
    assert_eq!(
        mailbox_status(&mut c, &t, "INBOX").await.unwrap().messages,
        1
    );
}

#[tokio::test]
async fn replace_needs_a_session_and_exactly_one_message() {
    let h = Harness::start();
    let mut c = h.client(1).await;
    let t = h.ticket();
    let old = append(&mut c, &t, "INBOX", b"keep me\r\n").await;
    let header = AppendHeader {
        replace: replace("INBOX", old.uidvalidity, old.uid),
        ..append_header("INBOX", &[], 3)
    };
    let deliver = h.ticket_for(OWNER, Scope::Deliver);
    let err = send_append(&mut c, &deliver, append_stream(header.clone(), b"new"))
        .await
        .unwrap_err();
    assert_eq!(reason_of(&err), ErrorReason::NoPermission, "{err:?}");
    let parts = batch(&[(header, b"new"), (append_header("INBOX", &[], 3), b"two")]);
    let err = send_append(&mut c, &t, parts).await.unwrap_err();
    assert_eq!(reason_of(&err), ErrorReason::InvalidArgument, "{err:?}");
    let status = mailbox_status(&mut c, &t, "INBOX").await.unwrap();
    assert_eq!(status.messages, 1, "the replaced message must stay");
    assert_eq!(tmp_files(&h), 0);
}
