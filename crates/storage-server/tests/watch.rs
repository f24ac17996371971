//! The Watch stream (issue 4 item 5), in-process: storage processes served
//! over control socket pairs standing in for the master, watchers and
//! mutators on passed connections, tickets signed with a test key.

#[allow(dead_code)]
mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{
    Harness, OWNER, Process, create_mailbox, delete_mailbox, next_event, one_uid, rename_mailbox,
    watch,
};
use hyper_util::rt::TokioIo;
use mailkeep_storage_rpc::metadata::with_ticket;
use mailkeep_storage_rpc::storage::mailbox_event::Event;
use mailkeep_storage_rpc::storage::storage_client::StorageClient;
use mailkeep_storage_rpc::storage::watch_client::WatchClient;
use mailkeep_storage_rpc::storage::*;
use mailkeep_ticket::Scope;
use tokio::time::{Instant, timeout};
use tonic::Code;
use tonic::transport::{Channel, Endpoint};

/// A channel to `process` whose streams accept only `window` unread bytes:
/// a watcher that does not read stalls the server's sending quickly.
async fn slow_channel(process: &Process, id: u64, window: u32) -> Channel {
    let slot = Arc::new(tokio::sync::Mutex::new(Some(process.socket(id).await)));
    Endpoint::from_static("http://mailkeep.invalid")
        .initial_stream_window_size(Some(window))
        .connect_with_connector(tower::service_fn(move |_uri| {
            let slot = Arc::clone(&slot);
            async move {
                let stream =
                    slot.lock().await.take().ok_or_else(|| {
                        std::io::Error::new(std::io::ErrorKind::NotConnected, "used")
                    })?;
                Ok::<_, std::io::Error>(TokioIo::new(stream))
            }
        }))
        .await
        .unwrap()
}

/// Appends a small message to `mailbox`.
async fn append(c: &mut StorageClient<Channel>, ticket: &str, mailbox: &str) -> AppendResponse {
    common::append(c, ticket, mailbox, b"Subject: hi\r\n\r\nhello\r\n").await
}

/// Changes one flag of INBOX's message `uid` by `mode`.
async fn store_flags(
    c: &mut StorageClient<Channel>,
    ticket: &str,
    uid: u32,
    mode: StoreMode,
    flag: &str,
) -> StoreFlagsResponse {
    common::store_flags(c, ticket, "INBOX", 0, uid, mode, &[flag])
        .await
        .unwrap()
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

/// A bound on waiting for an event that must come (not a pause).
const LIMIT: Duration = Duration::from_secs(10);

/// An append that claims its messages as recent (a session appending to
/// the mailbox it has selected) says from which UID it claimed, and its
/// delta tells the other watchers everything up to its message is
/// claimed, so that none of them asks ClaimRecent; a plain append (a
/// delivery) says neither, and the next claiming append takes it too.
#[tokio::test]
async fn a_claiming_append_says_so_in_its_answer_and_its_delta() {
    let h = Harness::start();
    let t = h.ticket();
    let mut events = watch(h.channel(1).await, &t, "INBOX").await;
    let mut c = h.client(2).await;
    let body = b"Subject: sent\r\n\r\ncopy\r\n";
    let claiming = || {
        let mut header = common::append_header("INBOX", &[], body.len() as u64);
        header.claim_recent = true;
        common::append_stream(header, body)
    };

    let delivered = append(&mut c, &t, "INBOX").await;
    assert_eq!(delivered.first_recent_uid, 0, "not asked, not claimed");
    let delta = changed(next_event(&mut events, LIMIT).await)
        .delta
        .expect("whole");
    assert_eq!(delta.recent_claimed_through, 0);

    let sent = common::send_append(&mut c, &t, claiming()).await.unwrap();
    assert_eq!(
        sent.first_recent_uid, delivered.uid,
        "the delivery is taken too"
    );
    let delta = changed(next_event(&mut events, LIMIT).await)
        .delta
        .expect("whole");
    assert_eq!(delta.recent_claimed_through, sent.uid);

    // Nothing is left to claim.
    let claim = ClaimRecentRequest {
        owner: OWNER.into(),
        mailbox: "INBOX".into(),
        uidvalidity: sent.uidvalidity,
        up_to_uid: sent.uid,
    };
    let left = c
        .claim_recent(with_ticket(claim, &t))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(left.first_recent_uid, sent.uid + 1);
}

/// The owner's new message, flag change and expunge come whole: a watcher
/// whose view is where a delta starts is where it ends once it applies
/// it, without asking Changes.
#[tokio::test]
async fn an_owners_append_flag_change_and_expunge_come_to_the_owners_watcher_whole() {
    let h = Harness::start();
    let t = h.ticket();
    let mut events = watch(h.channel(1).await, &t, "INBOX").await;
    let mut c = h.client(2).await;

    let a = append(&mut c, &t, "INBOX").await;
    let e = changed(next_event(&mut events, LIMIT).await);
    assert_eq!(e.kind(), WatchChangeKind::NewMessages);
    let delta = e.delta.expect("an append by the owner comes whole");
    assert_eq!(delta.previous_highestmodseq + 1, a.modseq);
    assert_eq!(delta.highestmodseq, a.modseq);
    assert_eq!(delta.changed.len(), 1);
    assert_eq!(delta.changed[0].uid, a.uid);
    assert!(delta.changed[0].flags.is_empty());
    assert_eq!(delta.changed[0].modseq, a.modseq);
    assert!(delta.vanished.is_empty());

    // A call that does not name the UIDVALIDITY gets no delta: the event's
    // UIDVALIDITY is then only the last one announced.
    store_flags(&mut c, &t, a.uid, StoreMode::Add, "$Unnamed").await;
    let e = changed(next_event(&mut events, LIMIT).await);
    assert_eq!(e.delta, None, "no UIDVALIDITY named, no delta");
    let a = AppendResponse {
        modseq: e.highestmodseq,
        ..a
    };

    let stored = common::store_flags(
        &mut c,
        &t,
        "INBOX",
        a.uidvalidity,
        a.uid,
        StoreMode::Add,
        &["$Later"],
    )
    .await
    .unwrap();
    let e = changed(next_event(&mut events, LIMIT).await);
    let delta = e.delta.expect("a flag change by the owner comes whole");
    assert_eq!(delta.previous_highestmodseq, stored.previous_highestmodseq);
    assert_eq!(delta.highestmodseq, stored.highestmodseq);
    assert_eq!(delta.previous_highestmodseq, a.modseq);
    assert_eq!(delta.changed.len(), 1);
    assert_eq!(delta.changed[0].uid, a.uid);
    assert_eq!(delta.changed[0].flags, stored.updated[0].flags);
    assert!(delta.changed[0].flags.contains(&"$Later".to_owned()));
    assert_eq!(delta.changed[0].modseq, stored.highestmodseq);
    assert!(delta.vanished.is_empty());

    store_flags(&mut c, &t, a.uid, StoreMode::Add, "\\Deleted").await;
    let before = changed(next_event(&mut events, LIMIT).await).highestmodseq;
    let expunged = common::expunge_deleted(&mut c, &t, "INBOX", a.uidvalidity)
        .await
        .unwrap();
    let e = changed(next_event(&mut events, LIMIT).await);
    assert_eq!(e.kind(), WatchChangeKind::Expunge);
    let delta = e.delta.expect("an expunge by the owner comes whole");
    assert_eq!(delta.previous_highestmodseq, before);
    assert_eq!(delta.highestmodseq, expunged.highestmodseq);
    assert_eq!(delta.vanished, [a.uid]);
    assert!(delta.changed.is_empty());
}

#[tokio::test]
async fn watcher_sees_append_flags_and_expunge_of_another_connection_at_once() {
    let h = Harness::start();
    let t = h.ticket();
    let mut events = watch(h.channel(1).await, &t, "INBOX").await;
    let mut c = h.client(2).await;

    let started = Instant::now();
    let a = append(&mut c, &t, "INBOX").await;
    let e = changed(next_event(&mut events, AT_ONCE).await);
    assert_eq!(e.mailbox, "INBOX");
    assert_eq!(e.uidvalidity, a.uidvalidity);
    assert_eq!(e.highestmodseq, a.modseq);
    assert_eq!(e.kind(), WatchChangeKind::NewMessages);
    let appended_in = started.elapsed();

    let stored = store_flags(&mut c, &t, a.uid, StoreMode::Add, "\\Deleted").await;
    let e = changed(next_event(&mut events, AT_ONCE).await);
    assert_eq!(e.kind(), WatchChangeKind::Flags);
    assert_eq!(e.uidvalidity, a.uidvalidity);
    assert_eq!(e.highestmodseq, stored.updated[0].modseq);

    let expunged = common::expunge_deleted(&mut c, &t, "INBOX", a.uidvalidity)
        .await
        .unwrap();
    assert_eq!(expunged.expunged, [a.uid]);
    let e = changed(next_event(&mut events, AT_ONCE).await);
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
    let h = Harness::start();
    let t = h.ticket();
    let mut events = watch(h.channel(1).await, &t, "").await;
    let second = h.another_process();
    let mut c = second.client(1).await;

    let started = Instant::now();
    let a = append(&mut c, &t, "INBOX").await;
    let e = changed(next_event(&mut events, Duration::from_secs(1)).await);
    let took = started.elapsed();
    assert_eq!(e.mailbox, "INBOX");
    assert_eq!(e.uidvalidity, a.uidvalidity);
    assert_eq!(e.highestmodseq, a.modseq);
    assert_eq!(e.kind(), WatchChangeKind::NewMessages);

    // A mailbox created through the second process is a list event.
    create_mailbox(&mut c, &t, "Elsewhere").await.unwrap();
    let l = list(next_event(&mut events, Duration::from_secs(1)).await);
    assert_eq!(l.kind(), ListChangeKind::Created);
    assert_eq!(l.name, "Elsewhere");
    eprintln!("cross-process append reached the watcher in {took:?}");
}

#[tokio::test]
async fn mailbox_create_rename_delete_give_list_events() {
    let h = Harness::start();
    let t = h.ticket();
    let mut events = watch(h.channel(1).await, &t, "").await;
    let mut c = h.client(2).await;

    create_mailbox(&mut c, &t, "Work").await.unwrap();
    let l = list(next_event(&mut events, AT_ONCE).await);
    assert_eq!(
        (l.kind(), l.name.as_str()),
        (ListChangeKind::Created, "Work")
    );

    rename_mailbox(&mut c, &t, "Work", "Done").await.unwrap();
    let l = list(next_event(&mut events, AT_ONCE).await);
    assert_eq!(l.kind(), ListChangeKind::Renamed);
    assert_eq!((l.name.as_str(), l.new_name.as_str()), ("Work", "Done"));

    delete_mailbox(&mut c, &t, "Done").await.unwrap();
    let l = list(next_event(&mut events, AT_ONCE).await);
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
    let h = Harness::start();
    let t = h.ticket();
    let mut events = watch(slow_channel(&h.process, 1, 1024).await, &t, "INBOX").await;
    let mut c = h.client(2).await;
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
    let e = changed(next_event(&mut events, Duration::from_secs(1)).await);
    assert_eq!(e.kind(), WatchChangeKind::Flags);
}

#[tokio::test]
async fn watch_refuses_bad_tickets_and_unknown_mailboxes() {
    let h = Harness::start();
    let mut w = WatchClient::new(h.channel(1).await);
    let request = || WatchRequest {
        owner: OWNER.into(),
        mailbox: String::new(),
    };

    let err = w.watch(request()).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);

    let forged = common::forged_ticket();
    let err = w.watch(with_ticket(request(), &forged)).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);

    let deliver = h.ticket_for(OWNER, Scope::Deliver);
    let err = w.watch(with_ticket(request(), &deliver)).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    // A guest may watch every mailbox (seeing what the ACLs show them,
    // see watch_guest.rs), but not a mailbox not shared with them.
    let bob = h.ticket_for("bob", Scope::Session);
    let unshared = WatchRequest {
        owner: OWNER.into(),
        mailbox: "INBOX".into(),
    };
    let err = w.watch(with_ticket(unshared, &bob)).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

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

/// A watch of one mailbox tells the mailbox's UIDVALIDITY and MODSEQ as
/// they were once the watcher was subscribed (what a watcher compares its
/// view with instead of asking for changes); a watch of every mailbox
/// tells none.
#[tokio::test]
async fn a_watch_of_one_mailbox_tells_its_modseq_at_the_start() {
    use mailkeep_storage_rpc::metadata::{WatchStart, watch_start_of};
    let h = Harness::start();
    let t = h.ticket();
    let mut c = h.client(2).await;
    let a = append(&mut c, &t, "INBOX").await;
    let mut w = WatchClient::new(h.channel(1).await);
    let one = |mailbox: &str| {
        with_ticket(
            WatchRequest {
                owner: OWNER.into(),
                mailbox: mailbox.into(),
            },
            &t,
        )
    };
    let response = w.watch(one("INBOX")).await.expect("watch of INBOX");
    assert_eq!(
        watch_start_of(&response),
        Some(WatchStart {
            uidvalidity: a.uidvalidity,
            highest_modseq: a.modseq,
        })
    );
    // A change since: the next watch starts from it.
    let b = append(&mut c, &t, "INBOX").await;
    assert!(b.modseq > a.modseq);
    let again = w.watch(one("INBOX")).await.expect("watch of INBOX");
    assert_eq!(
        watch_start_of(&again).map(|s| s.highest_modseq),
        Some(b.modseq)
    );
    let every = w.watch(one("")).await.expect("watch of every mailbox");
    assert_eq!(watch_start_of(&every), None);
}

/// COPY, MOVE and subscription changes made through the Organize service
/// reach watchers at once, like appends and expunges, and the poller does
/// not announce them a second time.
#[tokio::test]
async fn copy_move_and_subscriptions_reach_the_watchers_at_once() {
    use mailkeep_storage_rpc::storage::organize_client::OrganizeClient;

    let h = Harness::start();
    let t = h.ticket();
    let mut c = h.client(1).await;
    create_mailbox(&mut c, &t, "Archive").await.unwrap();
    let a = append(&mut c, &t, "INBOX").await;
    let b = append(&mut c, &t, "INBOX").await;
    let mut archive = watch(h.channel(2).await, &t, "Archive").await;
    let mut inbox = watch(h.channel(3).await, &t, "INBOX").await;
    let mut o = OrganizeClient::new(h.channel(4).await);
    let request = |uid: u32| {
        with_ticket(
            CopyRequest {
                owner: OWNER.into(),
                mailbox: "INBOX".into(),
                uidvalidity: a.uidvalidity,
                uids: one_uid(uid),
                target: "Archive".into(),
            },
            &t,
        )
    };

    let copied = o.copy(request(a.uid)).await.unwrap().into_inner();
    let e = changed(next_event(&mut archive, AT_ONCE).await);
    let status = common::mailbox_status(&mut c, &t, "Archive").await.unwrap();
    assert_eq!(e.mailbox, "Archive");
    assert_eq!(e.kind(), WatchChangeKind::NewMessages);
    assert_eq!(e.uidvalidity, copied.uidvalidity);
    assert_eq!(e.highestmodseq, status.highestmodseq);

    let moved = o.r#move(request(b.uid)).await.unwrap().into_inner();
    let e = changed(next_event(&mut archive, AT_ONCE).await);
    assert_eq!(e.kind(), WatchChangeKind::NewMessages);
    assert!(e.highestmodseq > status.highestmodseq, "{e:?}");
    let e = changed(next_event(&mut inbox, AT_ONCE).await);
    assert_eq!(e.mailbox, "INBOX");
    assert_eq!(e.kind(), WatchChangeKind::Expunge);
    assert_eq!(e.uidvalidity, a.uidvalidity);
    assert_eq!(e.highestmodseq, moved.source_highestmodseq);

    for (kind, call) in [
        (ListChangeKind::Subscribed, "subscribe"),
        (ListChangeKind::Unsubscribed, "unsubscribe"),
    ] {
        let request = with_ticket(
            SubscriptionRequest {
                owner: OWNER.into(),
                mailbox: "Archive".into(),
            },
            &t,
        );
        if call == "subscribe" {
            o.subscribe(request).await.unwrap();
        } else {
            o.unsubscribe(request).await.unwrap();
        }
        // List events go to every watcher, whatever mailbox it watches.
        for events in [&mut archive, &mut inbox] {
            let l = list(next_event(events, AT_ONCE).await);
            assert_eq!((l.kind(), l.name.as_str()), (kind, "Archive"), "{call}");
        }
    }

    // The poller, which runs too, must not repeat any of it.
    for events in [&mut archive, &mut inbox] {
        let extra = timeout(Duration::from_millis(600), events.message()).await;
        assert!(extra.is_err(), "no further event expected: {extra:?}");
    }
}

/// A watcher that goes away ends its stream; the owner's poller stops and
/// a later watcher starts a new one that again sees other processes.
#[tokio::test]
async fn watching_again_after_the_watcher_left_still_sees_other_processes() {
    let h = Harness::start();
    let t = h.ticket();
    let events = watch(h.channel(1).await, &t, "").await;
    drop(events);
    // Past a poll tick: the poller noticed nobody watches and stopped.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut events = watch(h.channel(2).await, &t, "INBOX").await;
    let second = h.another_process();
    let mut c = second.client(1).await;
    let a = append(&mut c, &t, "INBOX").await;
    let e = changed(next_event(&mut events, Duration::from_secs(1)).await);
    assert_eq!(e.highestmodseq, a.modseq);
}
