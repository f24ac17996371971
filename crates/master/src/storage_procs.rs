//! The table of running storage processes: which owners each serves, its
//! control channel, which protocol process already holds a connection to it
//! (so the broker can say "reuse"), and how many connections it has open
//! (so an idle one can linger and then exit).

use std::collections::{HashMap, HashSet, VecDeque};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use mailkeep_storage_rpc::broker::{ControlMessage, ControlReply};
use mailkeep_storage_rpc::framing::{FrameError, send_frame};
use mailkeep_storage_rpc::quiet_stream::QuietStream;
use tokio::sync::{Mutex as AsyncMutex, oneshot, watch};

/// The master's end of a storage process's (or the relay's) control
/// socket. Frames are written under a lock; a reader task (see `serve`,
/// `relay`) routes the process's replies to whoever waits for them.
pub struct ControlChannel {
    /// The socket.
    pub stream: QuietStream,
    write: AsyncMutex<()>,
    pending: StdMutex<HashMap<u64, oneshot::Sender<ControlReply>>>,
    /// The process closed its end, or a write found no peer: the process
    /// is gone (or going) even if its exit has not been reaped yet.
    closed: AtomicBool,
}

impl ControlChannel {
    /// Wraps the master's end of a control socket.
    pub fn new(stream: QuietStream) -> ControlChannel {
        ControlChannel {
            stream,
            write: AsyncMutex::new(()),
            pending: StdMutex::new(HashMap::new()),
            closed: AtomicBool::new(false),
        }
    }

    /// Marks the channel closed (its reader saw the end, see `serve`) and
    /// answers every request still waiting with "went away" at once,
    /// rather than after its timeout.
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        if let Ok(mut pending) = self.pending.lock() {
            pending.clear();
        }
    }

    /// Whether the process at the other end is gone: its channel ended or
    /// could not be written.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Sends one message (a `ControlMessage`; the relay's channel: a
    /// `RelayControl`), with a descriptor if given.
    pub async fn send<M: prost::Message>(
        &self,
        message: &M,
        fd: Option<&OwnedFd>,
    ) -> Result<(), FrameError> {
        let _writing = self.write.lock().await;
        let sent = send_frame(&self.stream, message, fd).await;
        // Only a lost peer closes the channel: a message too big, or a
        // descriptor the kernel would not pass, fails alone.
        if let Err(FrameError::Io(e)) = &sent
            && matches!(
                e.kind(),
                std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::NotConnected
            )
        {
            self.closed.store(true, Ordering::SeqCst);
        }
        sent
    }

    /// Sends a message that the process answers with a `ControlReply`
    /// carrying `request_id`, and waits for that reply.
    pub async fn request(
        &self,
        request_id: u64,
        message: &ControlMessage,
        timeout: Duration,
    ) -> Result<ControlReply, String> {
        self.request_with(request_id, message, None, timeout).await
    }

    /// [`ControlChannel::request`] for any message, with a descriptor if
    /// given.
    pub async fn request_with<M: prost::Message>(
        &self,
        request_id: u64,
        message: &M,
        fd: Option<&OwnedFd>,
        timeout: Duration,
    ) -> Result<ControlReply, String> {
        let (tx, rx) = oneshot::channel();
        if let Ok(mut pending) = self.pending.lock() {
            pending.insert(request_id, tx);
        }
        // Checked after the insertion: a `close` from now on drops it.
        if self.is_closed() {
            self.forget(request_id);
            return Err("the process went away before answering".into());
        }
        if let Err(e) = self.send(message, fd).await {
            self.forget(request_id);
            return Err(format!("control channel: {e}"));
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(_)) => Err("the process went away before answering".into()),
            Err(_) => {
                self.forget(request_id);
                Err(format!("the process did not answer within {timeout:?}"))
            }
        }
    }

    /// Hands a reply to the request waiting for it.
    pub fn deliver(&self, reply: ControlReply) {
        let waiter = self
            .pending
            .lock()
            .ok()
            .and_then(|mut p| p.remove(&reply.request_id));
        match waiter {
            Some(tx) => {
                let _ = tx.send(reply);
            }
            None => tracing::warn!(request_id = reply.request_id, "unexpected control reply"),
        }
    }

    fn forget(&self, request_id: u64) {
        if let Ok(mut p) = self.pending.lock() {
            p.remove(&request_id);
        }
    }
}

/// One running storage process.
pub struct StorageProc {
    /// Its pid.
    pub pid: u32,
    /// The channel on which it receives new connections and owners.
    pub control: Arc<ControlChannel>,
    /// The connections handed to each protocol process.
    pub connections: HandedConnections,
    /// The owners it serves (one in per-user mode; all who attached with
    /// its uid in per-uid mode).
    pub owners: HashSet<String>,
    /// Connections open now, as the process last reported.
    pub open_connections: u32,
    /// Since when it has had no connection: it lingers from then on.
    pub idle_since: Option<Instant>,
    /// Calls running now, as last reported.
    pub in_flight: u32,
    /// Its oldest call has run past the busy threshold while no call
    /// finished for as long (last report).
    pub busy: bool,
    /// It holds more than half its open-file limit (last report): owners
    /// it does not serve yet go elsewhere; its owners' sessions, which
    /// open no more files, still come.
    pub pressed: bool,
    /// Owners being added (AddOwner sent, no reply yet): later attaches
    /// of such an owner wait for that reply instead of sending another,
    /// without holding the table.
    pub adding: HashMap<String, PendingAdd>,
    /// The directories beneath which it can touch files (its Landlock
    /// rules, fixed when it started): an owner whose home or Maildir lies
    /// elsewhere goes to another process. Empty: anywhere.
    pub reach: Vec<PathBuf>,
}

impl StorageProc {
    /// Whether it serves `owner` (or is being told to: AddOwner sent).
    pub fn serves(&self, owner: &str) -> bool {
        self.owners.contains(owner) || self.adding.contains_key(owner)
    }

    /// Whether every one of `places` (an owner's home and Maildir) lies
    /// beneath a directory it can touch.
    pub fn reaches(&self, places: &[PathBuf]) -> bool {
        self.reach.is_empty()
            || places
                .iter()
                .all(|place| self.reach.iter().any(|dir| beneath(place, dir)))
    }
}

/// Whether `place` is `dir` or lies beneath it, by path components (a
/// `..` in either never counts as beneath).
fn beneath(place: &Path, dir: &Path) -> bool {
    let dots = |p: &Path| p.components().any(|c| c == std::path::Component::ParentDir);
    !dots(place) && !dots(dir) && place.starts_with(dir)
}

/// How long a connection handed to a protocol process is remembered
/// while that process does not list it as held: an attach's list is made
/// when the login starts, so under a burst of logins it lacks the
/// connections handed to the logins still in flight. Past this, a
/// connection it does not list is one it let go of.
const UNLISTED_KEPT_FOR: Duration = Duration::from_secs(60);

/// The most connection ids remembered per protocol process, whatever it
/// lists: a bound, far above the connections a protocol process holds to
/// one storage process (one, plus those opened by the logins of the first
/// burst before any was held).
const CONNECTIONS_KEPT: usize = 1024;

/// The connections a storage process was handed for each protocol process,
/// oldest first. A protocol process reports the connections it still holds
/// with each attach; any of them that goes to the chosen process is
/// reused. A connection is remembered for as long as the protocol process
/// lists it, not merely while it is among the newest: under a burst of
/// logins every attach's list was made before the connections of the
/// logins then in flight reached the protocol process, and if only the
/// newest were remembered, each attach would miss them, open one more,
/// and push the held ones out (one connection per owner, about 30 KB of
/// HTTP/2 buffers on each side, was what 5,000 idle users cost).
#[derive(Default)]
pub struct HandedConnections {
    by_client: HashMap<u64, VecDeque<Handed>>,
}

/// A connection handed to a protocol process, and when.
#[derive(Debug, Clone, Copy)]
struct Handed {
    id: u64,
    at: Instant,
}

impl HandedConnections {
    /// Notes that connection `id` was handed to protocol process `client`
    /// at `now`.
    pub fn record(&mut self, client: u64, id: u64, now: Instant) {
        let ids = self.by_client.entry(client).or_default();
        if ids.len() >= CONNECTIONS_KEPT {
            ids.pop_front();
        }
        ids.push_back(Handed { id, at: now });
    }

    /// The newest connection handed to `client` that it says it still
    /// holds (`held`).
    pub fn held_by(&self, client: u64, held: &[u64]) -> Option<u64> {
        self.by_client
            .get(&client)?
            .iter()
            .rev()
            .map(|h| h.id)
            .find(|id| held.contains(id))
    }

    /// Forgets the connections `client` does not list in `held` (its list
    /// of every connection it holds, made when its attach started) and
    /// was handed longer than [`UNLISTED_KEPT_FOR`] before `now`: it let
    /// go of them.
    pub fn forget_unheld(&mut self, client: u64, held: &[u64], now: Instant) {
        let Some(ids) = self.by_client.get_mut(&client) else {
            return;
        };
        let held: HashSet<u64> = held.iter().copied().collect();
        ids.retain(|h| {
            held.contains(&h.id) || now.saturating_duration_since(h.at) < UNLISTED_KEPT_FOR
        });
        if ids.is_empty() {
            self.by_client.remove(&client);
        }
    }

    /// Forgets every connection handed to `client` (it exited, or the
    /// connection could not be passed).
    pub fn forget_client(&mut self, client: u64) {
        self.by_client.remove(&client);
    }
}

/// The outcome of an AddOwner in flight: `None` until the process
/// answers; then `Ok` or why not. A closed channel without an outcome:
/// the attach that sent it was abandoned.
pub type PendingAdd = watch::Receiver<Option<Result<(), String>>>;

/// Which process should serve a new session.
#[derive(Debug, PartialEq, Eq)]
pub enum Pick {
    /// This running process.
    Existing(u32),
    /// None fits: start another.
    StartNew,
}

/// Storage processes by the key that selects them (the owner in per-user
/// mode, the uid in per-uid mode); a key may have several when they were
/// busy.
#[derive(Default)]
pub struct StorageTable {
    by_key: HashMap<String, Vec<StorageProc>>,
}

impl StorageTable {
    /// Chooses the process for a new session of `owner` from protocol
    /// process `client` (which still holds the connections `held`) under
    /// `key`: one that is not busy (nor under open-file pressure, unless it
    /// serves the owner already), preferring one the client is already
    /// connected to, then the least connected; if none is, a new one while
    /// fewer than `max_per_key` run; else the least loaded. Only processes
    /// that can reach the owner's `places` (home and Maildir) count: with
    /// none, a new one (which is started for that owner, so reaches them).
    pub fn pick(
        &self,
        key: &str,
        owner: &str,
        client: u64,
        held: &[u64],
        max_per_key: usize,
        places: &[PathBuf],
    ) -> Pick {
        let Some(all) = self.by_key.get(key) else {
            return Pick::StartNew;
        };
        let procs: Vec<&StorageProc> = all.iter().filter(|p| p.reaches(places)).collect();
        if procs.is_empty() {
            return Pick::StartNew;
        }
        let holds = |p: &&&StorageProc| p.connections.held_by(client, held).is_some();
        let calm = || {
            procs
                .iter()
                .filter(|p| !p.busy && (!p.pressed || p.serves(owner)))
        };
        if let Some(p) = calm().find(holds) {
            return Pick::Existing(p.pid);
        }
        if let Some(p) = calm().min_by_key(|p| p.open_connections) {
            return Pick::Existing(p.pid);
        }
        if procs.len() < max_per_key.max(1) {
            return Pick::StartNew;
        }
        match procs
            .iter()
            .min_by_key(|p| (p.in_flight, p.open_connections))
        {
            Some(p) => Pick::Existing(p.pid),
            None => Pick::StartNew,
        }
    }

    /// The process with this pid, if it is in the table.
    pub fn by_pid_mut(&mut self, pid: u32) -> Option<&mut StorageProc> {
        self.by_key.values_mut().flatten().find(|p| p.pid == pid)
    }

    /// Records a newly started process under `key`.
    pub fn insert(&mut self, key: String, proc_: StorageProc) {
        self.by_key.entry(key).or_default().push(proc_);
    }

    /// Forgets the process `pid` (it exited or is being stopped).
    pub fn remove_pid(&mut self, pid: u32) {
        for procs in self.by_key.values_mut() {
            procs.retain(|p| p.pid != pid);
        }
        self.by_key.retain(|_, procs| !procs.is_empty());
    }

    /// Forgets the connections held by protocol process `client` (it exited).
    pub fn forget_client(&mut self, client: u64) {
        for p in self.by_key.values_mut().flatten() {
            p.connections.forget_client(client);
        }
    }

    /// Every process in the table.
    pub fn iter(&self) -> impl Iterator<Item = &StorageProc> {
        self.by_key.values().flatten()
    }

    /// Every process in the table with its key.
    pub fn iter_keyed(&self) -> impl Iterator<Item = (&str, &StorageProc)> {
        self.by_key
            .iter()
            .flat_map(|(k, procs)| procs.iter().map(move |p| (k.as_str(), p)))
    }

    /// How many processes run for `key`.
    pub fn count(&self, key: &str) -> usize {
        self.by_key.get(key).map_or(0, Vec::len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request waiting for its answer when the channel's reader sees the
    /// end is told "went away" at once (in paused time its 30 s timeout
    /// would otherwise pass first and say so), and a later request does not
    /// wait at all.
    #[tokio::test(start_paused = true)]
    async fn a_closed_channel_answers_its_waiting_requests_at_once() {
        let (ours, _theirs) = QuietStream::with_peer().expect("a socket pair");
        let channel = Arc::new(ControlChannel::new(ours));
        let waiting = tokio::spawn({
            let channel = Arc::clone(&channel);
            async move {
                channel
                    .request(1, &ControlMessage::default(), Duration::from_secs(30))
                    .await
            }
        });
        // The request is registered and sent once the task has run.
        while channel.pending.lock().map(|p| p.is_empty()).unwrap_or(true) {
            tokio::task::yield_now().await;
        }
        channel.close();
        let answer = waiting.await.expect("the request's task");
        assert_eq!(
            answer,
            Err("the process went away before answering".to_owned())
        );
        let later = channel
            .request(2, &ControlMessage::default(), Duration::from_secs(30))
            .await;
        assert_eq!(
            later,
            Err("the process went away before answering".to_owned())
        );
    }

    /// A message too big for a frame fails alone: the channel stays open.
    #[tokio::test]
    async fn a_message_too_big_does_not_close_the_channel() {
        let (ours, _theirs) = QuietStream::with_peer().expect("a socket pair");
        let channel = ControlChannel::new(ours);
        let sessions = (0..5_000)
            .map(|i| mailkeep_storage_rpc::broker::RevokedSession {
                session: vec![7; 16],
                until_unix: 2_000_000_000,
                user: format!("user{i}"),
            })
            .collect();
        let huge = ControlMessage {
            kind: Some(mailkeep_storage_rpc::broker::control_message::Kind::Revoke(
                mailkeep_storage_rpc::broker::Revoke {
                    sessions,
                    request_id: 0,
                },
            )),
        };
        let sent = channel.send(&huge, None).await;
        assert!(matches!(sent, Err(FrameError::TooLarge(_))), "{sent:?}");
        assert!(!channel.is_closed());
        channel
            .send(&ControlMessage::default(), None)
            .await
            .expect("a small message after it");
    }

    fn proc_(pid: u32, busy: bool, open: u32, client_conn: Option<(u64, u64)>) -> StorageProc {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let (stream, _theirs) = rt
            .block_on(async { QuietStream::with_peer() })
            .expect("a socket pair");
        StorageProc {
            pid,
            control: Arc::new(ControlChannel::new(stream)),
            connections: {
                let mut handed = HandedConnections::default();
                if let Some((client, id)) = client_conn {
                    handed.record(client, id, Instant::now());
                }
                handed
            },
            owners: HashSet::new(),
            open_connections: open,
            idle_since: None,
            in_flight: u32::from(busy),
            busy,
            pressed: false,
            adding: HashMap::new(),
            reach: Vec::new(),
        }
    }

    #[test]
    fn empty_key_starts_a_process() {
        assert_eq!(
            StorageTable::default().pick("k", "o", 1, &[], 4, &[]),
            Pick::StartNew
        );
    }

    #[test]
    fn a_calm_held_process_is_reused_and_a_busy_one_is_avoided() {
        let mut t = StorageTable::default();
        t.insert("k".into(), proc_(10, false, 3, Some((1, 100))));
        t.insert("k".into(), proc_(11, false, 1, None));
        assert_eq!(t.pick("k", "o", 1, &[100], 4, &[]), Pick::Existing(10));
        // The client no longer holds its connection: least connected wins.
        assert_eq!(t.pick("k", "o", 1, &[], 4, &[]), Pick::Existing(11));
        let mut busy = StorageTable::default();
        busy.insert("k".into(), proc_(10, true, 1, Some((1, 100))));
        assert_eq!(busy.pick("k", "o", 1, &[100], 4, &[]), Pick::StartNew);
        busy.insert("k".into(), proc_(11, false, 5, None));
        assert_eq!(busy.pick("k", "o", 1, &[100], 4, &[]), Pick::Existing(11));
    }

    #[test]
    fn an_older_held_connection_is_reused_when_the_newest_is_not_yet_held() {
        let mut t = StorageTable::default();
        let mut p = proc_(10, false, 2, Some((1, 100)));
        p.connections.record(1, 101, Instant::now());
        t.insert("k".into(), p);
        t.insert("k".into(), proc_(11, false, 0, None));
        // The attach's list was made before connection 101 reached the
        // protocol process: it holds 100, which goes to the same process.
        assert_eq!(t.pick("k", "o", 1, &[100, 7], 4, &[]), Pick::Existing(10));
        let handed = &t.by_pid_mut(10).expect("process 10").connections;
        assert_eq!(handed.held_by(1, &[100, 7]), Some(100));
        assert_eq!(handed.held_by(1, &[100, 101]), Some(101));
        assert_eq!(handed.held_by(2, &[100, 101]), None);
    }

    #[test]
    fn a_protocol_process_keeps_a_bounded_list_of_handed_connections() {
        let mut handed = HandedConnections::default();
        let now = Instant::now();
        for id in 0..(CONNECTIONS_KEPT as u64 + 4) {
            handed.record(1, id, now);
        }
        assert_eq!(handed.held_by(1, &[0, 1, 2, 3]), None);
        assert_eq!(handed.held_by(1, &[4]), Some(4));
        handed.forget_client(1);
        assert_eq!(handed.held_by(1, &[4]), None);
    }

    #[test]
    fn a_held_connection_stays_reusable_under_a_burst_of_new_ones() {
        // The attaches of a burst list only the first connection: those
        // handed to the logins in flight have not reached the protocol
        // process yet. However many are handed meanwhile, the one it
        // lists is still found.
        let mut handed = HandedConnections::default();
        let start = Instant::now();
        handed.record(1, 1, start);
        for id in 2..200 {
            handed.forget_unheld(1, &[1], start);
            handed.record(1, id, start);
        }
        assert_eq!(handed.held_by(1, &[1]), Some(1));
        assert_eq!(handed.held_by(1, &[1, 150]), Some(150));
    }

    #[test]
    fn connections_no_longer_listed_are_forgotten_after_a_while() {
        let mut handed = HandedConnections::default();
        let start = Instant::now();
        handed.record(1, 1, start);
        handed.record(1, 2, start);
        // Within the time a login may take, an unlisted one is kept (its
        // attach may be in flight).
        handed.forget_unheld(1, &[1], start + UNLISTED_KEPT_FOR / 2);
        assert_eq!(handed.held_by(1, &[2]), Some(2));
        // Later it is one the protocol process let go of.
        let later = start + UNLISTED_KEPT_FOR * 2;
        handed.forget_unheld(1, &[1], later);
        assert_eq!(handed.held_by(1, &[2]), None);
        assert_eq!(handed.held_by(1, &[1]), Some(1));
        handed.forget_unheld(1, &[], later);
        assert_eq!(handed.held_by(1, &[1]), None);
    }

    #[test]
    fn a_process_short_of_files_takes_sessions_of_its_owners_only() {
        let mut t = StorageTable::default();
        let mut p = proc_(10, false, 0, None);
        p.pressed = true;
        p.owners.insert("served".into());
        t.insert("k".into(), p);
        assert_eq!(t.pick("k", "served", 1, &[], 4, &[]), Pick::Existing(10));
        assert_eq!(t.pick("k", "new", 1, &[], 4, &[]), Pick::StartNew);
        // One being added counts as served.
        let pending = t.by_pid_mut(10).expect("process 10");
        let (_tell, pending_add) = tokio::sync::watch::channel(None);
        pending.adding.insert("joining".into(), pending_add);
        assert_eq!(t.pick("k", "joining", 1, &[], 4, &[]), Pick::Existing(10));
        // Busy, it takes none of them.
        t.by_pid_mut(10).expect("process 10").busy = true;
        assert_eq!(t.pick("k", "served", 1, &[], 4, &[]), Pick::StartNew);
    }

    #[test]
    fn at_the_maximum_the_least_loaded_busy_process_is_used() {
        let mut t = StorageTable::default();
        t.insert("k".into(), proc_(10, true, 1, None));
        t.insert("k".into(), proc_(11, true, 0, None));
        assert_eq!(t.pick("k", "o", 1, &[], 2, &[]), Pick::Existing(11));
        assert_eq!(t.pick("k", "o", 1, &[], 3, &[]), Pick::StartNew);
        t.remove_pid(10);
        t.remove_pid(11);
        assert_eq!(t.count("k"), 0);
    }

    #[test]
    fn an_owner_beyond_every_process_reach_gets_a_new_process() {
        let mut t = StorageTable::default();
        let mut p = proc_(10, false, 0, None);
        p.reach = vec!["/srv/mail/home".into(), "/srv/other".into()];
        t.insert("k".into(), p);
        let home = |h: &str| vec![PathBuf::from(h), PathBuf::from(h).join("Maildir")];
        assert_eq!(
            t.pick("k", "o", 1, &[], 4, &home("/srv/mail/home/a")),
            Pick::Existing(10)
        );
        assert_eq!(
            t.pick("k", "o", 1, &[], 4, &home("/srv/other/b")),
            Pick::Existing(10)
        );
        for far in [
            "/srv/elsewhere/c",
            "/srv/mail/homes/d",
            "/srv/mail/home/../../x",
        ] {
            assert_eq!(
                t.pick("k", "o", 1, &[], 4, &home(far)),
                Pick::StartNew,
                "{far}"
            );
        }
        // A Maildir outside counts too.
        let split = [PathBuf::from("/srv/other/e"), PathBuf::from("/var/mail/e")];
        assert_eq!(t.pick("k", "o", 1, &[], 4, &split), Pick::StartNew);
        // Even at the maximum: the process cannot serve that owner.
        assert_eq!(
            t.pick("k", "o", 1, &[], 1, &home("/srv/elsewhere/c")),
            Pick::StartNew
        );
        // The new one, started for that owner, reaches it; the old one is
        // still picked for owners it reaches.
        let mut q = proc_(11, false, 3, None);
        q.reach = vec!["/srv/elsewhere".into()];
        t.insert("k".into(), q);
        assert_eq!(
            t.pick("k", "o", 1, &[], 4, &home("/srv/elsewhere/c")),
            Pick::Existing(11)
        );
        assert_eq!(
            t.pick("k", "o", 1, &[], 4, &home("/srv/mail/home/a")),
            Pick::Existing(10)
        );
    }
}
