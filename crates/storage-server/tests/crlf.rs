//! Bare-LF messages through the storage RPC: a file dropped into the
//! Maildir by another program and an APPEND of bare-LF bytes are streamed
//! with CRLF line ends, announced with their CRLF size, counted so in the
//! mailbox size, and cut into sections in CRLF coordinates.

#[allow(dead_code)]
mod common;

use common::{Harness, OWNER, all_uids, mailbox_status};
use mailkeep_storage_rpc::fetch_items::FetchItems;
use mailkeep_storage_rpc::metadata::with_ticket;
use mailkeep_storage_rpc::storage::content_client::ContentClient;
use mailkeep_storage_rpc::storage::fetch_item::Item;
use mailkeep_storage_rpc::storage::*;
use mailkeep_store::to_crlf;

/// A bare-LF message of about 300 KB: several body chunks, and CRLFs
/// that fall on chunk boundaries somewhere.
fn big_lf_message() -> Vec<u8> {
    let mut m = b"From: a@example.org\nSubject: big\n\n".to_vec();
    for i in 0..20_000 {
        m.extend_from_slice(format!("line {i}\n").as_bytes());
    }
    m
}

#[tokio::test]
async fn bare_lf_messages_stream_with_crlf_and_crlf_sizes() {
    let h = Harness::start();
    let dropped = big_lf_message();
    let cur = h.maildir().join("cur");
    std::fs::create_dir_all(&cur).unwrap();
    let path = cur.join("1700000000.M1P1.elsewhere:2,");
    std::fs::write(&path, &dropped).unwrap();
    let ch = h.channel(1).await;
    let t = h.ticket();
    let mut storage = common::storage_client(ch.clone());
    let appended_bytes = b"Subject: appended\n\nhello\nworld\n";
    let appended = common::append(&mut storage, &t, "INBOX", appended_bytes).await;

    let req = FetchRequest {
        owner: OWNER.into(),
        mailbox: "INBOX".into(),
        uidvalidity: appended.uidvalidity,
        uids: all_uids(),
        body: true,
        cuts: Vec::new(),
        ..Default::default()
    };
    let stream = storage
        .fetch(with_ticket(req, &t))
        .await
        .unwrap()
        .into_inner();
    let mut got: Vec<(FetchedMessage, Vec<u8>)> = Vec::new();
    let mut stream = FetchItems::new(stream);
    while let Some(item) = stream.next().await.unwrap() {
        match item {
            Item::Message(m) => got.push((m, Vec::new())),
            Item::BodyChunk(c) => got.last_mut().unwrap().1.extend_from_slice(&c),
            other => panic!("no cuts were asked for: {other:?}"),
        }
    }
    assert_eq!(got.len(), 2);
    for (meta, body) in &got {
        // The APPEND was indexed before the next sync found the dropped file.
        let file = if meta.uid == appended.uid {
            &appended_bytes[..]
        } else {
            &dropped[..]
        };
        let crlf = to_crlf(file);
        assert!(*body == *crlf, "UID {} not served with CRLF", meta.uid);
        assert_eq!(meta.size, crlf.len() as u64, "UID {}", meta.uid);
    }
    let status = mailbox_status(&mut storage, &t, "INBOX").await.unwrap();
    assert_eq!(status.size, got.iter().map(|(m, _)| m.size).sum::<u64>());
    // The files are as they were.
    assert_eq!(std::fs::read(&path).unwrap(), dropped);

    // A partial window of the TEXT section, in CRLF coordinates.
    let mut content = ContentClient::new(ch);
    let req = FetchSectionRequest {
        owner: OWNER.into(),
        mailbox: "INBOX".into(),
        uidvalidity: appended.uidvalidity,
        uid: appended.uid,
        parts: vec![],
        text: SectionTextKind::Text as i32,
        header_names: vec![],
        binary: false,
        partial: true,
        partial_offset: 3,
        partial_count: 6,
        size_only: false,
    };
    let mut chunks = content
        .fetch_section(with_ticket(req, &t))
        .await
        .unwrap()
        .into_inner();
    let first = chunks.message().await.unwrap().unwrap();
    assert_eq!(first.total_size, 6);
    assert_eq!(first.data, b"lo\r\nwo");
}
