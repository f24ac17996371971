//! The IMAP process's settings, from the configuration.

use std::time::Duration;

/// Settings of the IMAP process.
#[derive(Debug, Clone)]
pub struct ImapSettings {
    /// Parser limits (line length, inline literals, APPEND size).
    pub limits: mailkeep_imap_proto::Limits,
    /// This server's host name, for logs and responses.
    pub hostname: String,
    /// How long an unauthenticated connection may stay (60 s).
    pub login_timeout: Duration,
    /// Autologout after this long without input once logged in (30 min).
    pub idle_timeout: Duration,
    /// How often IDLE says it is still there, so that no NAT drops a quiet
    /// connection (2 min).
    pub idle_keepalive: Duration,
    /// The protocol-side plugins: their capabilities and commands.
    pub plugins: mailkeep_plugin_api::ProtocolPlugins,
    /// The account whose mailboxes form the public namespace `Public.`
    /// (RFC 2342); empty: no public namespace.
    pub public_owner: String,
    /// How often a NOTIFY that watches a subtree of the shared namespace
    /// asks again who shares with the user, so that an owner who shares
    /// with them after NOTIFY SET is picked up (60 s; other hosts'
    /// answers are cached by the master, see DESIGN §3).
    pub notify_owners_refresh: Duration,
    /// How long a storage channel stays open after its last session
    /// (`[storage] keep_warm_secs`, capped at the linger time): clients
    /// that log in per check then reuse it. Zero keeps nothing.
    pub keep_warm: Duration,
    /// How long a reply waits for news the mailbox's watch is about to
    /// bring before it asks storage (`[imap] own_append_wait_ms`,
    /// `watch_open_wait_ms`).
    pub watch_waits: crate::WatchWaits,
    /// What the process may keep, in bytes, of the messages its sessions
    /// fetched that never changes (size, date, envelope, body structure,
    /// small header sections), to answer the next FETCH of it without
    /// storage (`[imap] fetch_cache_mb`; 16 MiB). Zero keeps nothing.
    pub fetch_cache_bytes: usize,
}

impl Default for ImapSettings {
    fn default() -> Self {
        ImapSettings {
            limits: mailkeep_imap_proto::Limits::default(),
            hostname: "localhost".into(),
            login_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(30 * 60),
            idle_keepalive: Duration::from_secs(2 * 60),
            plugins: mailkeep_plugin_api::ProtocolPlugins::default(),
            public_owner: String::new(),
            notify_owners_refresh: Duration::from_secs(60),
            keep_warm: Duration::from_secs(5),
            watch_waits: crate::WatchWaits::default(),
            fetch_cache_bytes: 16 << 20,
        }
    }
}
