//! The table of running storage processes: which owner each serves, its
//! control channel, and which protocol process already holds a connection
//! to it (so the broker can say "reuse").

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use tokio::net::UnixStream;
use tokio::sync::Mutex as AsyncMutex;

/// One running storage process.
#[derive(Clone)]
pub struct StorageProc {
    /// Its pid.
    pub pid: u32,
    /// The channel on which it receives new connections.
    pub control: Arc<AsyncMutex<UnixStream>>,
    /// Protocol-process id → the connection id handed to it.
    pub connections: HashMap<u64, u64>,
    /// The owners it serves (one in per-user mode; all who attached with
    /// its uid in per-uid mode).
    pub owners: HashSet<String>,
}

/// Storage processes by the key that selects them (the owner, in
/// per-user mode).
#[derive(Default)]
pub struct StorageTable {
    by_key: HashMap<String, StorageProc>,
}

impl StorageTable {
    /// The process serving `key`, if one runs.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut StorageProc> {
        self.by_key.get_mut(key)
    }

    /// Records a newly started process.
    pub fn insert(&mut self, key: String, proc_: StorageProc) {
        self.by_key.insert(key, proc_);
    }

    /// Forgets the process `pid` (it exited), if it still is the one for its key.
    pub fn remove_pid(&mut self, pid: u32) {
        self.by_key.retain(|_, p| p.pid != pid);
    }

    /// Forgets the connections held by protocol process `client` (it exited).
    pub fn forget_client(&mut self, client: u64) {
        for p in self.by_key.values_mut() {
            p.connections.remove(&client);
        }
    }

    /// Every running storage process's pid.
    pub fn pids(&self) -> Vec<u32> {
        self.by_key.values().map(|p| p.pid).collect()
    }
}
