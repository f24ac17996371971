//! A client that takes a large section slowly holds no store thread while
//! it does: the section is read from its file a chunk at a time, each once
//! the client has room for it. Before, each such stream kept a store thread
//! waiting on the client; a few slow downloads took every store thread of
//! the process (and counted as work, sending every session's settled
//! reads to the threads too). Here the process has two store threads and
//! three clients stop reading their sections; another call must still be
//! answered. And a file cut short while it is streamed still ends the
//! stream with DATA_LOSS.

#[allow(dead_code)]
mod common;

use std::time::Duration;

use common::{Harness, OWNER};
use mailkeep_storage_rpc::metadata::with_ticket;
use mailkeep_storage_rpc::storage::content_client::ContentClient;
use mailkeep_storage_rpc::storage::maildrop_client::MaildropClient;
use mailkeep_storage_rpc::storage::*;

/// The attachment: more than a stalled stream's queue and the transport's
/// windows hold, so that its reader must wait for the client.
const PART: usize = 12 << 20;

/// How long the calls may take before the test fails instead of hanging
/// (they are answered at once when the test passes).
const GUARD: Duration = Duration::from_secs(60);

fn message() -> Vec<u8> {
    let mut raw = b"From: a@example.org\r\nSubject: big\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n\
Content-Type: text/plain\r\n\r\nsee attached\r\n--B\r\n\
Content-Type: application/octet-stream\r\n\r\n"
        .to_vec();
    for i in 0..PART / 64 {
        raw.extend_from_slice(format!("{i:062}\r\n").as_bytes());
    }
    raw.extend_from_slice(b"--B--\r\n");
    raw
}

fn section(uidvalidity: u32, uid: u32, part: u32) -> FetchSectionRequest {
    FetchSectionRequest {
        owner: OWNER.into(),
        mailbox: "INBOX".into(),
        uidvalidity,
        uid,
        parts: vec![part],
        text: SectionTextKind::Full as i32,
        ..Default::default()
    }
}

/// What the stalled clients ask for.
#[derive(Clone, Copy)]
enum Stall {
    /// The attachment (FetchSection of part 2).
    Section,
    /// The whole message (Fetch with its body).
    Message,
    /// The whole message as POP3 takes it (Maildrop.Retrieve).
    Maildrop,
}

#[test]
fn clients_that_stop_reading_large_sections_hold_no_store_thread() {
    stalled_clients_leave_room(Stall::Section);
}

#[test]
fn clients_that_stop_reading_large_messages_hold_no_store_thread() {
    stalled_clients_leave_room(Stall::Message);
}

#[test]
fn pop3_clients_that_stop_reading_large_messages_hold_no_store_thread() {
    stalled_clients_leave_room(Stall::Maildrop);
}

/// Three clients stall (see [`Stall`]) on a process of two store
/// threads; another call is answered all the same.
fn stalled_clients_leave_room(stall: Stall) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    // A failure leaves store threads blocked for good: it is reported
    // after a shutdown that does not wait for them.
    let outcome =
        runtime.block_on(async { tokio::time::timeout(GUARD, stalled_and_one_more(stall)).await });
    runtime.shutdown_timeout(Duration::from_secs(1));
    assert!(
        outcome.is_ok(),
        "the calls waited for store threads the stalled streams hold"
    );
}

/// Three clients stop reading after the first stream message; then
/// another section is asked for and read, and the three read theirs to
/// the end.
async fn stalled_and_one_more(stall: Stall) {
    let h = Harness::start();
    let t = h.ticket();
    let channel = h.channel(1).await;
    let mut storage = common::storage_client(channel.clone());
    let appended = common::append(&mut storage, &t, "INBOX", &message()).await;
    let (uid, uidvalidity) = (appended.uid, appended.uidvalidity);

    // Three clients ask and take the first stream message only, each on
    // a connection of its own.
    let mut stalled = Vec::new();
    for id in 2..5 {
        let channel = h.channel(id).await;
        let stream = match stall {
            Stall::Section => {
                let mut content = ContentClient::new(channel);
                let mut stream = content
                    .fetch_section(with_ticket(section(uidvalidity, uid, 2), &t))
                    .await
                    .expect("FetchSection")
                    .into_inner();
                let first = stream.message().await.expect("a chunk").expect("a chunk");
                assert_eq!(
                    first.total_size,
                    PART as u64 - 2,
                    "the part, without the CRLF before the boundary"
                );
                Stalled::Section(stream)
            }
            Stall::Message => {
                let mut storage = common::storage_client(channel);
                let request = FetchRequest {
                    owner: OWNER.into(),
                    mailbox: "INBOX".into(),
                    uidvalidity,
                    uids: common::one_uid(uid),
                    body: true,
                    ..Default::default()
                };
                let mut stream = storage
                    .fetch(with_ticket(request, &t))
                    .await
                    .expect("Fetch")
                    .into_inner();
                let first = stream.message().await.expect("a batch").expect("a batch");
                Stalled::Message(stream, body_bytes(&first))
            }
            Stall::Maildrop => {
                let mut maildrop = MaildropClient::new(channel);
                let request = RetrieveMaildropRequest {
                    owner: OWNER.into(),
                    mailbox: "INBOX".into(),
                    uidvalidity,
                    uids: vec![uid],
                };
                let mut stream = maildrop
                    .retrieve(with_ticket(request, &t))
                    .await
                    .expect("Retrieve")
                    .into_inner();
                let first = stream.message().await.expect("a batch").expect("a batch");
                Stalled::Maildrop(stream, retrieved_bytes(&first))
            }
        };
        stalled.push(stream);
    }

    // Another section (read on a store thread) is answered all the same.
    let mut content = ContentClient::new(channel);
    let mut stream = content
        .fetch_section(with_ticket(section(uidvalidity, uid, 1), &t))
        .await
        .expect("FetchSection")
        .into_inner();
    let mut text = Vec::new();
    while let Some(chunk) = stream.message().await.expect("a chunk") {
        text.extend_from_slice(&chunk.data);
    }
    assert_eq!(text, b"see attached");

    // The stalled streams go on where they stopped, and end whole.
    for stream in stalled {
        let len = match stream {
            Stalled::Section(mut stream) => {
                let mut len = 0;
                while let Some(chunk) = stream.message().await.expect("a chunk") {
                    len += chunk.data.len();
                }
                len
            }
            Stalled::Message(mut stream, mut len) => {
                while let Some(batch) = stream.message().await.expect("a batch") {
                    len += body_bytes(&batch);
                }
                len
            }
            Stalled::Maildrop(mut stream, mut len) => {
                while let Some(batch) = stream.message().await.expect("a batch") {
                    len += retrieved_bytes(&batch);
                }
                len
            }
        };
        assert!(len > PART - (1 << 20), "{len}");
    }
}

/// A stalled client's stream.
enum Stalled {
    Section(tonic::Streaming<SectionChunk>),
    /// With the body bytes read so far.
    Message(tonic::Streaming<FetchResponse>, usize),
    /// With the message bytes read so far.
    Maildrop(tonic::Streaming<RetrieveMaildropResponse>, usize),
}

/// The message bytes a Retrieve stream message carries.
fn retrieved_bytes(batch: &RetrieveMaildropResponse) -> usize {
    batch
        .items
        .iter()
        .map(|item| match &item.item {
            Some(retrieve_maildrop_item::Item::Message(m)) => m.data.len(),
            Some(retrieve_maildrop_item::Item::More(data)) => data.len(),
            None => 0,
        })
        .sum()
}

/// The message bytes a Fetch stream message carries.
fn body_bytes(batch: &FetchResponse) -> usize {
    batch
        .items
        .iter()
        .map(|item| match &item.item {
            Some(fetch_item::Item::BodyChunk(data)) => data.len(),
            _ => 0,
        })
        .sum()
}

/// A file cut short while its section is read ends the stream with
/// DATA_LOSS after the bytes that were there (the index and the Maildir
/// disagree), however many chunks a visit to the store reads.
#[tokio::test]
async fn a_file_cut_short_while_streamed_ends_with_data_loss() {
    let h = Harness::start();
    let t = h.ticket();
    let channel = h.channel(1).await;
    let mut storage = common::storage_client(channel.clone());
    let appended = common::append(&mut storage, &t, "INBOX", &message()).await;
    let mut content = ContentClient::new(channel);
    let mut stream = content
        .fetch_section(with_ticket(
            section(appended.uidvalidity, appended.uid, 2),
            &t,
        ))
        .await
        .expect("FetchSection")
        .into_inner();
    let first = stream.message().await.expect("a chunk").expect("a chunk");
    let total = first.total_size;

    let cur = h.maildir().join("cur");
    let file = std::fs::read_dir(&cur)
        .expect("cur")
        .next()
        .expect("the message's file")
        .expect("an entry")
        .path();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .expect("the file")
        .set_len((PART / 2) as u64)
        .expect("cut short");

    let mut len = first.data.len() as u64;
    let status = loop {
        match stream.message().await {
            Ok(Some(chunk)) => len += chunk.data.len() as u64,
            Ok(None) => panic!("the stream ended without an error after {len} of {total} bytes"),
            Err(status) => break status,
        }
    };
    assert_eq!(status.code(), tonic::Code::DataLoss, "{status:?}");
    assert!(len < total, "{len} of {total}");
}
