//! A large part of a message is sent from its file as the client takes
//! it: BODY[2], BINARY[2] (decoded on the way), windows of them and
//! BINARY.SIZE of a 24 MiB attachment come out whole and right while the
//! process's peak memory grows by far less than the part (before, each
//! was cut whole in memory beside the file's bytes: twice the part or
//! more). Alone in its test binary, so that the peak is this test's.

#[allow(dead_code)]
mod common;

use base64::Engine;
use common::{Harness, OWNER, one_uid};
use mailkeep_storage_rpc::metadata::with_ticket;
use mailkeep_storage_rpc::storage::content_client::ContentClient;
use mailkeep_storage_rpc::storage::fetch_item::Item;
use mailkeep_storage_rpc::storage::*;
use sha2::{Digest, Sha256};
use tonic::transport::Channel;

/// The attachment's size, decoded.
const DECODED: usize = 24 << 20;

/// The attachment's byte at `i`: every value, NUL included.
fn byte_at(i: usize) -> u8 {
    (i.wrapping_mul(7) ^ (i >> 11)) as u8
}

/// A kilobyte figure of this process's status (`VmHWM`, `VmRSS`).
fn status_kb(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// The message (a text part, then the attachment in base64 lines of 76)
/// and the SHA-256 of the attachment's body as sent.
fn message() -> (Vec<u8>, Vec<u8>) {
    let decoded: Vec<u8> = (0..DECODED).map(byte_at).collect();
    let encoded = base64::engine::general_purpose::STANDARD.encode(&decoded);
    let mut body = Vec::with_capacity(encoded.len() / 76 * 78 + 80);
    for line in encoded.as_bytes().chunks(76) {
        body.extend_from_slice(line);
        body.extend_from_slice(b"\r\n");
    }
    let mut raw = b"From: a@example.org\r\nSubject: big\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n\
Content-Type: text/plain\r\n\r\nsee attached\r\n--B\r\n\
Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        .to_vec();
    // The part's body ends before the CRLF that precedes the boundary.
    let sent = &body[..body.len() - 2];
    raw.extend_from_slice(&body);
    raw.extend_from_slice(b"--B--\r\n");
    (raw, Sha256::digest(sent).to_vec())
}

/// Reads one FetchSection answer: its announced size and NUL flag, the
/// length and SHA-256 of its bytes, and the bytes at `keep` offsets.
async fn read_section(
    content: &mut ContentClient<Channel>,
    ticket: &str,
    req: FetchSectionRequest,
) -> (u64, bool, u64, Vec<u8>, bool) {
    let mut stream = content
        .fetch_section(with_ticket(req, ticket))
        .await
        .unwrap()
        .into_inner();
    let first = stream.message().await.unwrap().expect("a first chunk");
    let (total, contains_nul) = (first.total_size, first.contains_nul);
    let mut hash = Sha256::new();
    let mut len = first.data.len() as u64;
    let mut pattern = true;
    let mut check = |at: u64, data: &[u8]| {
        for (k, &b) in data.iter().enumerate() {
            pattern &= b == byte_at(at as usize + k);
        }
    };
    check(0, &first.data);
    hash.update(&first.data);
    while let Some(chunk) = stream.message().await.unwrap() {
        check(len, &chunk.data);
        hash.update(&chunk.data);
        len += chunk.data.len() as u64;
    }
    (total, contains_nul, len, hash.finalize().to_vec(), pattern)
}

#[tokio::test]
async fn a_large_part_is_sent_from_its_file_not_held_in_memory() {
    let h = Harness::start();
    let t = h.ticket();
    let channel = h.channel(1).await;
    let mut storage = common::storage_client(channel.clone());
    let mut content = ContentClient::new(channel);
    let (uid, uidvalidity, body_sha) = {
        let (raw, body_sha) = message();
        let a = common::append(&mut storage, &t, "INBOX", &raw).await;
        (a.uid, a.uidvalidity, body_sha)
    };
    // The structure is parsed (and cached) once, as a client's first
    // BODYSTRUCTURE does; that parse reads the whole message.
    let structure = FetchStructureRequest {
        owner: OWNER.into(),
        mailbox: "INBOX".into(),
        uidvalidity,
        uids: one_uid(uid),
        want_body_structure: true,
        ..Default::default()
    };
    let mut items = content
        .fetch_structure(with_ticket(structure, &t))
        .await
        .unwrap()
        .into_inner();
    while items.message().await.unwrap().is_some() {}

    // From here on, the peak is what sending the part costs.
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    let before = status_kb("VmHWM:");

    let section =
        |binary: bool, partial: Option<(u64, u64)>, size_only: bool| FetchSectionRequest {
            owner: OWNER.into(),
            mailbox: "INBOX".into(),
            uidvalidity,
            uid,
            parts: vec![2],
            text: SectionTextKind::Full as i32,
            header_names: vec![],
            binary,
            partial: partial.is_some(),
            partial_offset: partial.map_or(0, |p| p.0),
            partial_count: partial.map_or(0, |p| p.1),
            size_only,
        };
    let base64_len = DECODED.div_ceil(3) * 4;
    let encoded_len = base64_len + 2 * base64_len.div_ceil(76) - 2;

    // BODY[2]: the base64 text as sent.
    let (total, _, len, sha, _) = read_section(&mut content, &t, section(false, None, false)).await;
    assert_eq!((total, len), (encoded_len as u64, encoded_len as u64));
    assert_eq!(sha, body_sha, "BODY[2] is the part's body as sent");

    // BINARY[2]: decoded on the way, with its NULs announced first.
    let (total, nul, len, _, pattern) =
        read_section(&mut content, &t, section(true, None, false)).await;
    assert_eq!((total, len), (DECODED as u64, DECODED as u64));
    assert!(nul, "the decoded part holds NUL bytes");
    assert!(pattern, "BINARY[2] is the attachment's bytes");

    // A window of the decoded bytes far into the part.
    let offset = 10 << 20;
    let mut req = section(true, Some((offset, 3 << 20)), false);
    let mut stream = content
        .fetch_section(with_ticket(req.clone(), &t))
        .await
        .unwrap()
        .into_inner();
    let first = stream.message().await.unwrap().expect("a first chunk");
    assert_eq!(
        first.total_size,
        3 << 20,
        "the window's size, announced first"
    );
    assert!(
        first.contains_nul,
        "the window holds NUL bytes, announced first"
    );
    let mut window = first.data;
    while let Some(chunk) = stream.message().await.unwrap() {
        window.extend_from_slice(&chunk.data);
    }
    assert_eq!(window.len(), 3 << 20);
    assert!(
        window
            .iter()
            .enumerate()
            .all(|(k, &b)| b == byte_at(offset as usize + k)),
        "BINARY[2]<{offset}.3145728> is those bytes of the attachment"
    );
    drop(window);

    // BINARY.SIZE by its own call and in the Fetch stream.
    req.partial = false;
    req.size_only = true;
    let (total, nul, len, _, _) = read_section(&mut content, &t, req).await;
    assert_eq!((total, nul, len), (DECODED as u64, true, 0));
    let fetch = FetchRequest {
        owner: OWNER.into(),
        mailbox: "INBOX".into(),
        uidvalidity,
        uids: one_uid(uid),
        cuts: vec![SectionCut {
            parts: vec![2],
            binary: true,
            size_only: true,
            ..SectionCut::default()
        }],
        ..Default::default()
    };
    let items = common::fetch_all(&mut storage, &t, fetch).await;
    assert!(matches!(&items[..], [
        Item::Message(m),
        Item::CutStart(CutStart { total_size, contains_nul: true }),
    ] if m.uid == uid && *total_size == DECODED as u64));

    let grew_mb = (status_kb("VmHWM:") - before) as f64 / 1024.0;
    let part_mb = encoded_len as f64 / (1 << 20) as f64;
    eprintln!("peak memory grew by {grew_mb:.1} MB sending a {part_mb:.0} MB part");
    assert!(
        grew_mb < 12.0,
        "sending a {part_mb:.0} MB part grew the peak memory by {grew_mb:.1} MB"
    );
}
