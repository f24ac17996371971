//! The table of running storage processes: which owners each serves, its
//! control channel, which protocol process already holds a connection to it
//! (so the broker can say "reuse"), and how many connections it has open
//! (so an idle one can linger and then exit).

use std::collections::{HashMap, HashSet};
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use mailkeep_storage_rpc::broker::{ControlMessage, ControlReply};
use mailkeep_storage_rpc::framing::{FrameError, send_frame};
use tokio::net::UnixStream;
use tokio::sync::{Mutex as AsyncMutex, oneshot};

/// The master's end of a storage process's control socket. Frames are
/// written under a lock; a reader task (see `serve`) routes the process's
/// replies to whoever waits for them.
pub struct ControlChannel {
    /// The socket.
    pub stream: UnixStream,
    write: AsyncMutex<()>,
    pending: StdMutex<HashMap<u64, oneshot::Sender<ControlReply>>>,
}

impl ControlChannel {
    /// Wraps the master's end of a control socket.
    pub fn new(stream: UnixStream) -> ControlChannel {
        ControlChannel {
            stream,
            write: AsyncMutex::new(()),
            pending: StdMutex::new(HashMap::new()),
        }
    }

    /// Sends one message, with a descriptor if given.
    pub async fn send(
        &self,
        message: &ControlMessage,
        fd: Option<&OwnedFd>,
    ) -> Result<(), FrameError> {
        let _writing = self.write.lock().await;
        send_frame(&self.stream, message, fd).await
    }

    /// Sends a message that the process answers with a `ControlReply`
    /// carrying `request_id`, and waits for that reply.
    pub async fn request(
        &self,
        request_id: u64,
        message: &ControlMessage,
        timeout: Duration,
    ) -> Result<ControlReply, String> {
        let (tx, rx) = oneshot::channel();
        if let Ok(mut pending) = self.pending.lock() {
            pending.insert(request_id, tx);
        }
        if let Err(e) = self.send(message, None).await {
            self.forget(request_id);
            return Err(format!("storage process: {e}"));
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(_)) => Err("storage process went away before answering".into()),
            Err(_) => {
                self.forget(request_id);
                Err(format!("storage process did not answer within {timeout:?}"))
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
    /// Protocol-process id → the connection id handed to it.
    pub connections: HashMap<u64, u64>,
    /// The owners it serves (one in per-user mode; all who attached with
    /// its uid in per-uid mode).
    pub owners: HashSet<String>,
    /// Connections open now, as the process last reported.
    pub open_connections: u32,
    /// Since when it has had no connection: it lingers from then on.
    pub idle_since: Option<Instant>,
}

/// Storage processes by the key that selects them (the owner in per-user
/// mode, the uid in per-uid mode).
#[derive(Default)]
pub struct StorageTable {
    by_key: HashMap<String, StorageProc>,
}

impl StorageTable {
    /// The process serving `key`, if one runs.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut StorageProc> {
        self.by_key.get_mut(key)
    }

    /// The process with this pid, if it is in the table.
    pub fn by_pid_mut(&mut self, pid: u32) -> Option<&mut StorageProc> {
        self.by_key.values_mut().find(|p| p.pid == pid)
    }

    /// Records a newly started process.
    pub fn insert(&mut self, key: String, proc_: StorageProc) {
        self.by_key.insert(key, proc_);
    }

    /// Forgets the process `pid` (it exited or is being stopped), if it
    /// still is the one for its key.
    pub fn remove_pid(&mut self, pid: u32) {
        self.by_key.retain(|_, p| p.pid != pid);
    }

    /// Forgets the connections held by protocol process `client` (it exited).
    pub fn forget_client(&mut self, client: u64) {
        for p in self.by_key.values_mut() {
            p.connections.remove(&client);
        }
    }

    /// Every process in the table.
    pub fn iter(&self) -> impl Iterator<Item = &StorageProc> {
        self.by_key.values()
    }
}
