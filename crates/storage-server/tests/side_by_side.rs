//! Calls side by side in one storage process, over one connection: a
//! SEARCH over a large mailbox is provably still running (it is blocked
//! reading a message file that is a FIFO nobody has written yet) while
//! short calls on the same connection — a Fetch of flags, MailboxStatus,
//! Changes, StoreFlags — are answered; then the FIFO is fed and the search
//! finishes with the message it held.

#[allow(dead_code)]
mod common;

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

use common::{Harness, OWNER, all_uids, mailbox_status, store_flags};
use mailkeep_storage_rpc::fetch_items::FetchItems;
use mailkeep_storage_rpc::metadata::with_ticket;
use mailkeep_storage_rpc::storage::search_client::SearchClient;
use mailkeep_storage_rpc::storage::*;

const MESSAGES: u32 = 3000;

/// Opens the FIFO for writing once a reader has it open (the search has
/// reached it): a non-blocking open for writing fails with ENXIO until
/// then. Runs on a blocking thread, yielding between tries.
fn writer_once_read(path: std::path::PathBuf) -> std::fs::File {
    loop {
        match OpenOptions::new()
            .write(true)
            .custom_flags(nix::libc::O_NONBLOCK)
            .open(&path)
        {
            Ok(f) => return f,
            Err(e) if e.raw_os_error() == Some(nix::libc::ENXIO) => std::thread::yield_now(),
            Err(e) => panic!("opening the FIFO: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_calls_are_answered_while_a_search_is_running() {
    let h = Harness::start();
    let cur = h.maildir().join("cur");
    std::fs::create_dir_all(&cur).unwrap();
    let name = |i: u32| format!("1700000000.M{i:05}P1.test:2,");
    for i in 0..MESSAGES {
        std::fs::write(
            cur.join(name(i)),
            format!("Subject: m{i}\r\n\r\nordinary words\r\n"),
        )
        .unwrap();
    }
    let ch = h.channel(1).await;
    let t = h.ticket();
    let mut storage = common::storage_client(ch.clone());
    let status = mailbox_status(&mut storage, &t, "INBOX").await.unwrap();
    assert_eq!(status.messages, MESSAGES);
    // The message in the middle becomes a FIFO: reading it blocks until
    // this test writes it.
    let fifo = cur.join(name(MESSAGES / 2));
    std::fs::remove_file(&fifo).unwrap();
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();

    let mut search = SearchClient::new(ch.clone());
    let request = with_ticket(
        SearchRequest {
            owner: OWNER.into(),
            mailbox: "INBOX".into(),
            uidvalidity: status.uidvalidity,
            program: vec![SearchKey {
                key: Some(search_key::Key::Text("needle".into())),
            }],
            charset: String::new(),
        },
        &t,
    );
    let running = tokio::spawn(async move { search.search(request).await });
    let fifo_path = fifo.clone();
    let mut writer = tokio::task::spawn_blocking(move || writer_once_read(fifo_path))
        .await
        .unwrap();
    // The search has read half the mailbox and waits on the FIFO.

    let fetched = storage
        .fetch(with_ticket(
            FetchRequest {
                owner: OWNER.into(),
                mailbox: "INBOX".into(),
                uidvalidity: status.uidvalidity,
                uids: all_uids(),
                body: false,
                cuts: Vec::new(),
                ..Default::default()
            },
            &t,
        ))
        .await
        .unwrap()
        .into_inner();
    let mut fetched = FetchItems::new(fetched);
    let mut count = 0;
    while let Some(item) = fetched.next().await.unwrap() {
        assert!(matches!(item, fetch_item::Item::Message(_)));
        count += 1;
    }
    assert_eq!(count, MESSAGES);
    assert_eq!(
        mailbox_status(&mut storage, &t, "INBOX")
            .await
            .unwrap()
            .messages,
        MESSAGES
    );
    let flagged = store_flags(
        &mut storage,
        &t,
        "INBOX",
        status.uidvalidity,
        1,
        StoreMode::Add,
        &["\\Flagged"],
    )
    .await
    .unwrap();
    assert_eq!(flagged.updated.len(), 1);
    let changes = storage
        .changes(with_ticket(
            ChangesRequest {
                owner: OWNER.into(),
                mailbox: "INBOX".into(),
                uidvalidity: status.uidvalidity,
                since_modseq: status.highestmodseq,
            },
            &t,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(changes.changed.len(), 1);
    assert!(
        !running.is_finished(),
        "the search ended before the FIFO was written"
    );

    writer
        .write_all(b"Subject: held\r\n\r\na needle at last\r\n")
        .unwrap();
    drop(writer);
    let found = running.await.unwrap().unwrap().into_inner();
    assert_eq!(found.uids, vec![MESSAGES / 2 + 1]);
}
