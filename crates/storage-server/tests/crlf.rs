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

/// A 2 MB message as Dovecot stores mail: bare LFs, a text part and a
/// base64 attachment.
fn large_dovecot_message() -> Vec<u8> {
    let mut m = b"From: a@example.org\nSubject: large\nMIME-Version: 1.0\n\
Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nsee attached\n\
--b\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
        .to_vec();
    for i in 0..27_000u32 {
        // 76 letters a line, "QUJD" (ABC) with the line's number in it.
        let line = format!("{:0>8}{}\n", i, "QUJD".repeat(17));
        m.extend_from_slice(line.as_bytes());
    }
    m.extend_from_slice(b"--b--\n");
    m
}

/// Reads a FetchSection answer whole: its announced size and its bytes.
async fn section(
    content: &mut ContentClient<tonic::transport::Channel>,
    t: &str,
    req: FetchSectionRequest,
) -> (u64, Vec<u8>) {
    let mut chunks = content
        .fetch_section(with_ticket(req, t))
        .await
        .unwrap()
        .into_inner();
    let first = chunks.message().await.unwrap().unwrap();
    let mut data = first.data;
    while let Some(more) = chunks.message().await.unwrap() {
        data.extend_from_slice(&more.data);
    }
    (first.total_size, data)
}

#[tokio::test]
async fn a_large_bare_lf_message_is_cut_in_crlf_coordinates_from_its_file() {
    let h = Harness::start();
    let stored = large_dovecot_message();
    let cur = h.maildir().join("cur");
    std::fs::create_dir_all(&cur).unwrap();
    std::fs::write(cur.join("1700000001.M2P2.dovecot:2,S"), &stored).unwrap();
    let served = to_crlf(&stored).into_owned();
    let body = mailkeep_store::parse_structure(&served).body;
    let ch = h.channel(1).await;
    let t = h.ticket();
    let mut storage = common::storage_client(ch.clone());
    let mut content = ContentClient::new(ch);
    let status = mailbox_status(&mut storage, &t, "INBOX").await.unwrap();
    assert_eq!(status.size, served.len() as u64);
    let far = served.len() as u64 - 100_000;
    let cases = [
        (vec![2], SectionTextKind::Full, false, None),
        (vec![2], SectionTextKind::Full, true, None),
        (vec![], SectionTextKind::Text, false, None),
        (vec![], SectionTextKind::Full, false, Some((far, 65_536))),
        (
            vec![2],
            SectionTextKind::Full,
            false,
            Some((far - 500, 200_000)),
        ),
        (
            vec![2],
            SectionTextKind::Full,
            true,
            Some((1_000_001, 65_536)),
        ),
    ];
    for (parts, text, binary, partial) in cases {
        let req = FetchSectionRequest {
            owner: OWNER.into(),
            mailbox: "INBOX".into(),
            uidvalidity: status.uidvalidity,
            uid: 1,
            parts: parts.clone(),
            text: text as i32,
            header_names: vec![],
            binary,
            partial: partial.is_some(),
            partial_offset: partial.map_or(0, |p| p.0),
            partial_count: partial.map_or(0, |p| p.1),
            size_only: false,
        };
        let spec = mailkeep_store::CutSpec {
            section: mailkeep_store::SectionSpec {
                parts,
                text: match text {
                    SectionTextKind::Text => mailkeep_store::SectionText::Text,
                    _ => mailkeep_store::SectionText::Full,
                },
                partial,
            },
            binary,
        };
        let expected = mailkeep_store::cut_all(&served, Some(&body), std::slice::from_ref(&spec))
            .unwrap()
            .unwrap()
            .remove(0);
        // By its own call (FetchSection) ...
        let (total, data) = section(&mut content, &t, req.clone()).await;
        assert_eq!(total, expected.len() as u64, "{spec:?}");
        assert!(
            data == expected,
            "{spec:?}: not the section of the CRLF message"
        );
        // ... and in the Fetch stream, as small windows come.
        let fetch = FetchRequest {
            owner: OWNER.into(),
            mailbox: "INBOX".into(),
            uidvalidity: status.uidvalidity,
            uids: all_uids(),
            cuts: vec![SectionCut {
                parts: req.parts,
                text: req.text,
                binary: req.binary,
                partial: req.partial,
                partial_offset: req.partial_offset,
                partial_count: req.partial_count,
                ..SectionCut::default()
            }],
            ..Default::default()
        };
        let mut streamed = Vec::new();
        for item in common::fetch_all(&mut storage, &t, fetch).await {
            if let Item::CutChunk(c) = item {
                streamed.extend_from_slice(&c);
            }
        }
        assert!(streamed == expected, "{spec:?} in the Fetch stream");
    }
    // The file is as Dovecot left it.
    assert_eq!(
        std::fs::read(cur.join("1700000001.M2P2.dovecot:2,S")).unwrap(),
        stored
    );
}
