//! The Watch stream (issue 4 item 5), in-process: storage processes served
//! over control socket pairs standing in for the master, watchers and
//! mutators on passed connections, tickets signed with a test key.

use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use mailkeep_storage_rpc::broker::control_message::Kind;
use mailkeep_storage_rpc::broker::{ControlMessage, NewConnection};
use mailkeep_storage_rpc::channel::channel_over;
use mailkeep_storage_rpc::framing::send_frame;
use mailkeep_storage_rpc::metadata::with_ticket;
use mailkeep_storage_rpc::storage::append_request::Part;
use mailkeep_storage_rpc::storage::mailbox_event::Event;
use mailkeep_storage_rpc::storage::storage_client::StorageClient;
use mailkeep_storage_rpc::storage::watch_client::WatchClient;
use mailkeep_storage_rpc::storage::*;
use mailkeep_storage_server::{StorageServerError, StorageSettings, serve};
use mailkeep_ticket::{Claims, Scope, TicketKey, now_unix, sign};
use tokio::net::UnixStream;
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Streaming};

const OWNER: &str = "alice";

/// One storage process serving `OWNER` from `home`.
struct Process {
    master: UnixStream,
    server: JoinHandle<Result<(), StorageServerError>>,
}

impl Process {
    fn start(home: &std::path::Path, key: &TicketKey) -> Process {
        let (master, control) = UnixStream::pair().unwrap();
        let settings = StorageSettings {
            owner: OWNER.into(),
            home: home.to_path_buf(),
        };
        let server = tokio::spawn(serve(settings, key.clone(), control));
        Process { master, server }
    }

    /// A socket connected to this process, passed as the broker does.
    async fn socket(&self, id: u64) -> UnixStream {
        let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        let fd = OwnedFd::from(theirs);
        let msg = ControlMessage {
            kind: Some(Kind::NewConnection(NewConnection { connection_id: id })),
        };
        send_frame(&self.master, &msg, Some(&fd)).await.unwrap();
        drop(fd);
        ours.set_nonblocking(true).unwrap();
        UnixStream::from_std(ours).unwrap()
    }

    async fn channel(&self, id: u64) -> Channel {
        channel_over(self.socket(id).await).await.unwrap()
    }

    /// A channel whose streams accept only `window` unread bytes: a
    /// watcher that does not read stalls the server's sending quickly.
    async fn slow_channel(&self, id: u64, window: u32) -> Channel {
        let slot = Arc::new(tokio::sync::Mutex::new(Some(self.socket(id).await)));
        Endpoint::from_static("http://mailkeep.invalid")
            .initial_stream_window_size(Some(window))
            .connect_with_connector(tower::service_fn(move |_uri| {
                let slot = Arc::clone(&slot);
                async move {
                    let stream = slot.lock().await.take().ok_or_else(|| {
                        std::io::Error::new(std::io::ErrorKind::NotConnected, "used")
                    })?;
                    Ok::<_, std::io::Error>(TokioIo::new(stream))
                }
            }))
            .await
            .unwrap()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.server.abort();
    }
}

struct Harness {
    home: tempfile::TempDir,
    key: TicketKey,
    first: Process,
}

impl Harness {
    async fn start() -> Harness {
        let home = tempfile::tempdir().unwrap();
        let key = TicketKey::generate();
        let first = Process::start(home.path(), &key);
        Harness { home, key, first }
    }

    fn ticket(&self) -> String {
        sign(
            &self.key,
            &Claims::new(OWNER, Scope::Session, now_unix(), 3600, "test"),
        )
    }
}

fn storage(channel: Channel) -> StorageClient<Channel> {
    StorageClient::new(channel)
}

async fn watch(channel: Channel, ticket: &str, mailbox: &str) -> Streaming<MailboxEvent> {
    let request = WatchRequest {
        owner: OWNER.into(),
        mailbox: mailbox.into(),
    };
    WatchClient::new(channel)
        .watch(with_ticket(request, ticket))
        .await
        .unwrap()
        .into_inner()
}

/// The next event, within `limit`.
async fn next(events: &mut Streaming<MailboxEvent>, limit: Duration) -> Event {
    timeout(limit, events.message())
        .await
        .expect("no event in time")
        .unwrap()
        .expect("stream ended")
        .event
        .unwrap()
}

async fn append(c: &mut StorageClient<Channel>, ticket: &str, mailbox: &str) -> AppendResponse {
    let body = b"Subject: hi\r\n\r\nhello\r\n";
    let parts = vec![
        AppendRequest {
            part: Some(Part::Header(AppendHeader {
                owner: OWNER.into(),
                mailbox: mailbox.into(),
                flags: vec![],
                internal_date: 0,
                internal_date_offset_minutes: 0,
                size: body.len() as u64,
            })),
        },
        AppendRequest {
            part: Some(Part::Chunk(body.to_vec())),
        },
    ];
    c.append(with_ticket(tokio_stream::iter(parts), ticket))
        .await
        .unwrap()
        .into_inner()
}

async fn store_flags(
    c: &mut StorageClient<Channel>,
    ticket: &str,
    uid: u32,
    mode: StoreMode,
    flag: &str,
) -> StoreFlagsResponse {
    let request = StoreFlagsRequest {
        owner: OWNER.into(),
        mailbox: "INBOX".into(),
        uidvalidity: 0,
        uids: vec![UidRange {
            first: uid,
            last: uid,
        }],
        mode: mode as i32,
        flags: vec![flag.into()],
        unchanged_since: 0,
    };
    c.store_flags(with_ticket(request, ticket))
        .await
        .unwrap()
        .into_inner()
}

fn changed(event: Event) -> MailboxChanged {
    match event {
        Event::Changed(c) => c,
        other => panic!("expected a mailbox event, got {other:?}"),
    }
}

fn list(event: Event) -> MailboxListChanged {
    match event {
        Event::List(l) => l,
        other => panic!("expected a list event, got {other:?}"),
    }
}

const AT_ONCE: Duration = Duration::from_millis(100);

#[tokio::test]
async fn watcher_sees_append_flags_and_expunge_of_another_connection_at_once() {
    let h = Harness::start().await;
    let t = h.ticket();
    let mut events = watch(h.first.channel(1).await, &t, "INBOX").await;
    let mut c = storage(h.first.channel(2).await);

    let started = Instant::now();
    let a = append(&mut c, &t, "INBOX").await;
    let e = changed(next(&mut events, AT_ONCE).await);
    assert_eq!(e.mailbox, "INBOX");
    assert_eq!(e.uidvalidity, a.uidvalidity);
    assert_eq!(e.highestmodseq, a.modseq);
    assert_eq!(e.kind(), WatchChangeKind::NewMessages);
    let appended_in = started.elapsed();

    let stored = store_flags(&mut c, &t, a.uid, StoreMode::Add, "\\Deleted").await;
    let e = changed(next(&mut events, AT_ONCE).await);
    assert_eq!(e.kind(), WatchChangeKind::Flags);
    assert_eq!(e.uidvalidity, a.uidvalidity);
    assert_eq!(e.highestmodseq, stored.updated[0].modseq);

    let expunged = c
        .expunge(with_ticket(
            ExpungeRequest {
                owner: OWNER.into(),
                mailbox: "INBOX".into(),
                uidvalidity: a.uidvalidity,
                uids: vec![],
            },
            &t,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(expunged.expunged, [a.uid]);
    let e = changed(next(&mut events, AT_ONCE).await);
    assert_eq!(e.kind(), WatchChangeKind::Expunge);
    assert_eq!(e.highestmodseq, expunged.highestmodseq);

    // The poller that also runs must not repeat what was announced.
    assert!(
        timeout(Duration::from_millis(600), events.message())
            .await
            .is_err(),
        "no further event expected"
    );
    eprintln!("append reached the watcher in {appended_in:?}");
}

#[tokio::test]
async fn append_through_a_second_process_reaches_a_watcher_of_the_first_within_a_second() {
    let h = Harness::start().await;
    let t = h.ticket();
    let mut events = watch(h.first.channel(1).await, &t, "").await;
    let second = Process::start(h.home.path(), &h.key);
    let mut c = storage(second.channel(1).await);

    let started = Instant::now();
    let a = append(&mut c, &t, "INBOX").await;
    let e = changed(next(&mut events, Duration::from_secs(1)).await);
    let took = started.elapsed();
    assert_eq!(e.mailbox, "INBOX");
    assert_eq!(e.uidvalidity, a.uidvalidity);
    assert_eq!(e.highestmodseq, a.modseq);
    assert_eq!(e.kind(), WatchChangeKind::NewMessages);

    // A mailbox created through the second process is a list event.
    c.create_mailbox(with_ticket(
        CreateMailboxRequest {
            owner: OWNER.into(),
            name: "Elsewhere".into(),
        },
        &t,
    ))
    .await
    .unwrap();
    let l = list(next(&mut events, Duration::from_secs(1)).await);
    assert_eq!(l.kind(), ListChangeKind::Created);
    assert_eq!(l.name, "Elsewhere");
    eprintln!("cross-process append reached the watcher in {took:?}");
}

#[tokio::test]
async fn mailbox_create_rename_delete_give_list_events() {
    let h = Harness::start().await;
    let t = h.ticket();
    let mut events = watch(h.first.channel(1).await, &t, "").await;
    let mut c = storage(h.first.channel(2).await);

    c.create_mailbox(with_ticket(
        CreateMailboxRequest {
            owner: OWNER.into(),
            name: "Work".into(),
        },
        &t,
    ))
    .await
    .unwrap();
    let l = list(next(&mut events, AT_ONCE).await);
    assert_eq!(
        (l.kind(), l.name.as_str()),
        (ListChangeKind::Created, "Work")
    );

    c.rename_mailbox(with_ticket(
        RenameMailboxRequest {
            owner: OWNER.into(),
            from: "Work".into(),
            to: "Done".into(),
        },
        &t,
    ))
    .await
    .unwrap();
    let l = list(next(&mut events, AT_ONCE).await);
    assert_eq!(l.kind(), ListChangeKind::Renamed);
    assert_eq!((l.name.as_str(), l.new_name.as_str()), ("Work", "Done"));

    c.delete_mailbox(with_ticket(
        DeleteMailboxRequest {
            owner: OWNER.into(),
            name: "Done".into(),
        },
        &t,
    ))
    .await
    .unwrap();
    let l = list(next(&mut events, AT_ONCE).await);
    assert_eq!(
        (l.kind(), l.name.as_str()),
        (ListChangeKind::Deleted, "Done")
    );

    // Nothing repeated by the poller.
    assert!(
        timeout(Duration::from_millis(600), events.message())
            .await
            .is_err(),
        "no further event expected"
    );
}

#[tokio::test]
async fn a_watcher_that_does_not_read_gets_resync_and_memory_stays_bounded() {
    let h = Harness::start().await;
    let t = h.ticket();
    let mut events = watch(h.first.slow_channel(1, 1024).await, &t, "INBOX").await;
    let mut c = storage(h.first.channel(2).await);
    let a = append(&mut c, &t, "INBOX").await;

    // Far more events than the bus keeps plus what the stalled stream holds.
    const CHANGES: usize = 1500;
    for i in 0..CHANGES {
        let mode = if i % 2 == 0 {
            StoreMode::Add
        } else {
            StoreMode::Remove
        };
        store_flags(&mut c, &t, a.uid, mode, "\\Seen").await;
    }

    let mut received = 0;
    let mut resyncs = 0;
    while let Ok(Some(event)) = timeout(Duration::from_millis(500), events.message())
        .await
        .map(|r| r.unwrap())
    {
        received += 1;
        if matches!(event.event, Some(Event::Resync(_))) {
            resyncs += 1;
        }
    }
    eprintln!(
        "{} changes; the watcher got {received} events, {resyncs} resync",
        CHANGES + 1
    );
    assert!(resyncs >= 1, "a lagging watcher must get resync");
    assert!(
        received < CHANGES / 2,
        "the server must have dropped events, not buffered them: {received}"
    );

    // After the resync the watcher is current again.
    store_flags(&mut c, &t, a.uid, StoreMode::Add, "\\Flagged").await;
    let e = changed(next(&mut events, Duration::from_secs(1)).await);
    assert_eq!(e.kind(), WatchChangeKind::Flags);
}

#[tokio::test]
async fn watch_refuses_bad_tickets_and_unknown_mailboxes() {
    let h = Harness::start().await;
    let mut w = WatchClient::new(h.first.channel(1).await);
    let request = || WatchRequest {
        owner: OWNER.into(),
        mailbox: String::new(),
    };

    let err = w.watch(request()).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);

    let forged = sign(
        &TicketKey::generate(),
        &Claims::new(OWNER, Scope::Session, now_unix(), 3600, "test"),
    );
    let err = w.watch(with_ticket(request(), &forged)).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);

    let deliver = sign(
        &h.key,
        &Claims::new(OWNER, Scope::Deliver, now_unix(), 3600, "test"),
    );
    let err = w.watch(with_ticket(request(), &deliver)).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    let bob = sign(
        &h.key,
        &Claims::new("bob", Scope::Session, now_unix(), 3600, "test"),
    );
    let err = w.watch(with_ticket(request(), &bob)).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    let missing = WatchRequest {
        owner: OWNER.into(),
        mailbox: "Nope".into(),
    };
    let err = w
        .watch(with_ticket(missing, &h.ticket()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}

/// Services that do not publish yet (Organize) still reach watchers:
/// the poller sees this process's own commits too, within a second.
#[tokio::test]
async fn copy_and_subscribe_through_organize_reach_the_watcher_within_a_second() {
    use mailkeep_storage_rpc::storage::organize_client::OrganizeClient;

    let h = Harness::start().await;
    let t = h.ticket();
    let mut c = storage(h.first.channel(1).await);
    c.create_mailbox(with_ticket(
        CreateMailboxRequest {
            owner: OWNER.into(),
            name: "Archive".into(),
        },
        &t,
    ))
    .await
    .unwrap();
    let a = append(&mut c, &t, "INBOX").await;
    let mut events = watch(h.first.channel(2).await, &t, "Archive").await;
    let mut o = OrganizeClient::new(h.first.channel(3).await);

    o.copy(with_ticket(
        CopyRequest {
            owner: OWNER.into(),
            mailbox: "INBOX".into(),
            uidvalidity: a.uidvalidity,
            uids: vec![UidRange {
                first: a.uid,
                last: a.uid,
            }],
            target: "Archive".into(),
        },
        &t,
    ))
    .await
    .unwrap();
    let e = changed(next(&mut events, Duration::from_secs(1)).await);
    assert_eq!(e.mailbox, "Archive");
    assert_eq!(e.kind(), WatchChangeKind::NewMessages);

    o.subscribe(with_ticket(
        SubscriptionRequest {
            owner: OWNER.into(),
            mailbox: "Archive".into(),
        },
        &t,
    ))
    .await
    .unwrap();
    let l = list(next(&mut events, Duration::from_secs(1)).await);
    assert_eq!(
        (l.kind(), l.name.as_str()),
        (ListChangeKind::Subscribed, "Archive")
    );
}

/// A watcher that goes away ends its stream; the owner's poller stops and
/// a later watcher starts a new one that again sees other processes.
#[tokio::test]
async fn watching_again_after_the_watcher_left_still_sees_other_processes() {
    let h = Harness::start().await;
    let t = h.ticket();
    let events = watch(h.first.channel(1).await, &t, "").await;
    drop(events);
    // Past a poll tick: the poller noticed nobody watches and stopped.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut events = watch(h.first.channel(2).await, &t, "INBOX").await;
    let second = Process::start(h.home.path(), &h.key);
    let mut c = storage(second.channel(1).await);
    let a = append(&mut c, &t, "INBOX").await;
    let e = changed(next(&mut events, Duration::from_secs(1)).await);
    assert_eq!(e.highestmodseq, a.modseq);
}
