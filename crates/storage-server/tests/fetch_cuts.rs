//! Sections cut in the Fetch stream: every message's cuts follow its
//! metadata in the order asked, before its body, with their CRLF sizes;
//! a BINARY cut of an unknown transfer encoding fails that message's cuts
//! only, with its reason, and the stream goes on with the next message.

#[allow(dead_code)]
mod common;

use common::{Harness, OWNER, all_uids, mailbox_status};
use mailkeep_storage_rpc::metadata::with_ticket;
use mailkeep_storage_rpc::storage::fetch_item::Item;
use mailkeep_storage_rpc::storage::*;

const PLAIN: &[u8] = b"From: a@example.org\nSubject: first\nX-Other: no\n\nbody one\n";

const UNKNOWN_CTE: &[u8] = b"Subject: second\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
Content-Transfer-Encoding: x-unknown\r\n\r\nzzz\r\n--b--\r\n";

fn subject_cut() -> SectionCut {
    SectionCut {
        text: SectionTextKind::HeaderFields as i32,
        header_names: vec!["Subject".into()],
        ..SectionCut::default()
    }
}

fn binary_size_of_part_one() -> SectionCut {
    SectionCut {
        parts: vec![1],
        binary: true,
        size_only: true,
        ..SectionCut::default()
    }
}

#[tokio::test]
async fn cuts_follow_each_message_in_order_and_fail_per_message() {
    let h = Harness::start();
    let ch = h.channel(1).await;
    let t = h.ticket();
    let mut storage = common::storage_client(ch);
    common::append(&mut storage, &t, "INBOX", PLAIN).await;
    common::append(&mut storage, &t, "INBOX", UNKNOWN_CTE).await;
    let status = mailbox_status(&mut storage, &t, "INBOX").await.unwrap();

    let req = FetchRequest {
        owner: OWNER.into(),
        mailbox: "INBOX".into(),
        uidvalidity: status.uidvalidity,
        uids: all_uids(),
        body: true,
        cuts: vec![subject_cut(), binary_size_of_part_one()],
        ..Default::default()
    };
    let mut items = common::fetch_all(&mut storage, &t, req).await.into_iter();

    // The first message: its metadata, the Subject field (CRLF, with the
    // blank line that ends a HEADER.FIELDS section), the size of part 1
    // (the whole body of a single-part message: "body one\r\n") without
    // data, then its body.
    assert!(matches!(items.next(), Some(Item::Message(m)) if m.uid == 1));
    let subject = b"Subject: first\r\n\r\n";
    assert!(
        matches!(items.next(), Some(Item::CutStart(s)) if s.total_size == subject.len() as u64)
    );
    assert!(matches!(items.next(), Some(Item::CutChunk(c)) if c == subject));
    assert!(matches!(items.next(), Some(Item::CutStart(s)) if s.total_size == 10));
    let mut body = Vec::new();
    let mut next = items.next();
    while let Some(Item::BodyChunk(c)) = next {
        body.extend_from_slice(&c);
        next = items.next();
    }
    assert_eq!(body, mailkeep_store::to_crlf(PLAIN).as_ref());

    // The second: the unknown encoding fails its cuts, with the reason;
    // its body still follows.
    assert!(matches!(next, Some(Item::Message(m)) if m.uid == 2));
    match items.next() {
        Some(Item::CutFailed(f)) => assert_eq!(f.reason(), ErrorReason::UnknownCte),
        other => panic!("expected the cuts to fail: {other:?}"),
    }
    let mut body = Vec::new();
    for item in items {
        match item {
            Item::BodyChunk(c) => body.extend_from_slice(&c),
            other => panic!("only the body may follow: {other:?}"),
        }
    }
    assert_eq!(body, UNKNOWN_CTE);
}

/// Small items travel together: the metadata of 100 messages, each with a
/// Subject cut, comes in a few stream messages (batches of about a chunk)
/// rather than 300, and in order.
#[tokio::test]
async fn small_items_come_in_batches_in_order() {
    let h = Harness::start();
    let ch = h.channel(1).await;
    let t = h.ticket();
    let mut storage = common::storage_client(ch);
    const MESSAGES: u32 = 100;
    for _ in 0..MESSAGES {
        common::append(&mut storage, &t, "INBOX", PLAIN).await;
    }
    let status = mailbox_status(&mut storage, &t, "INBOX").await.unwrap();
    let req = FetchRequest {
        owner: OWNER.into(),
        mailbox: "INBOX".into(),
        uidvalidity: status.uidvalidity,
        uids: all_uids(),
        body: false,
        cuts: vec![subject_cut()],
        ..Default::default()
    };
    let mut stream = storage
        .fetch(with_ticket(req, &t))
        .await
        .unwrap()
        .into_inner();
    let (mut batches, mut items) = (0, Vec::new());
    while let Some(batch) = stream.message().await.unwrap() {
        batches += 1;
        items.extend(batch.items.into_iter().map(|i| i.item.unwrap()));
    }
    assert!(
        batches <= 2,
        "{batches} stream messages for 300 small items"
    );
    assert_eq!(items.len(), 3 * MESSAGES as usize);
    for (uid, item) in (1..=MESSAGES).zip(items.chunks(3)) {
        assert!(matches!(&item[0], Item::Message(m) if m.uid == uid));
        assert!(matches!(&item[1], Item::CutStart(s) if s.total_size == 18));
        assert!(matches!(&item[2], Item::CutChunk(c) if c == b"Subject: first\r\n\r\n"));
    }
}
