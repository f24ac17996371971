//! The master's side of the relay (DESIGN §3): the process that holds
//! this host's cluster TLS client key and connects to other hosts' storage
//! gateways. The broker asks it for a connection when an owner lives on
//! another host, after the ticket verified, and hands the protocol process
//! the other end of the socket pair the relay splices; the master asks it
//! to pass ended sessions on to their users' home hosts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use mailkeep_storage_rpc::broker::{
    RefusalCode, RelayConnect, RelayControl, RelayEvent, RelayRevoke, RelaySharingOwners,
    StorageAttached, broker_reply, relay_control, relay_event,
};
use mailkeep_storage_rpc::framing::recv_frame;

use crate::MasterError;
use crate::broker::{Answer, error};
use crate::children::{passed_pair, socket_pair};
use crate::serve::Shared;
use crate::storage_procs::ControlChannel;

/// Descriptor numbers the relay finds its channel and material at.
const FD_CONTROL: i32 = 3;
const FD_TLS: i32 = 4;

/// How long a LIST waits for another host to say who shares with the
/// user: a host that does not answer in time only leaves its owners out
/// (its late answer is dropped).
const SHARING_ASK_TIMEOUT: Duration = Duration::from_secs(3);

/// How long a connect may take in the relay: its own bound (connecting,
/// TLS, hello) and a little more.
const CONNECT_TIMEOUT: Duration =
    Duration::from_secs(mailkeep_storage_rpc::tls::HANDSHAKE_TIMEOUT.as_secs() + 5);

/// The running relay: its control channel, and which connection each
/// protocol process holds through it for each owner (so that the broker
/// can say "reuse", as it does for local storage).
pub struct RelayLink {
    control: ControlChannel,
    /// (protocol process id, owner) → connection id, while it is open.
    connections: StdMutex<HashMap<(u64, String), u64>>,
}

impl RelayLink {
    /// The link over the master's end of a relay's control channel.
    pub(crate) fn new(control: ControlChannel) -> RelayLink {
        RelayLink {
            control,
            connections: StdMutex::new(HashMap::new()),
        }
    }

    /// Routes the relay's replies to the waiting requests, and forgets the
    /// connections it reports ended (a reader task per relay).
    pub(crate) async fn read_events(self: Arc<Self>) {
        loop {
            let event: RelayEvent = match recv_frame(&self.control.stream).await {
                Ok((event, None)) => event,
                Ok((_, Some(_))) => {
                    tracing::warn!("the relay sent a descriptor; ignoring it");
                    continue;
                }
                Err(_) => {
                    // What waits for the relay's answers is told at once.
                    self.control.close();
                    return;
                }
            };
            match event.kind {
                Some(relay_event::Kind::Reply(reply)) => self.control.deliver(reply),
                Some(relay_event::Kind::Closed(closed)) => self.closed(closed.connection_id),
                None => {}
            }
        }
    }

    fn held(&self, client_id: u64, owner: &str) -> Option<u64> {
        self.connections
            .lock()
            .ok()?
            .get(&(client_id, owner.to_owned()))
            .copied()
    }

    fn record(&self, client_id: u64, owner: &str, connection_id: u64) {
        if let Ok(mut c) = self.connections.lock() {
            c.insert((client_id, owner.to_owned()), connection_id);
        }
    }

    fn closed(&self, connection_id: u64) {
        if let Ok(mut c) = self.connections.lock() {
            c.retain(|_, id| *id != connection_id);
        }
    }
}

/// Whether this host runs a relay: it has the cluster CA and other hosts
/// to reach.
pub fn wanted(config: &mailkeep_config::Config) -> bool {
    config.gateway.ca_file.is_some() && !config.cluster.hosts.is_empty()
}

/// Starts the relay and restarts it whenever it exits, until the master
/// stops.
pub async fn supervise(shared: Arc<Shared>) {
    let again = Arc::clone(&shared);
    crate::cluster_roles::keep_running(shared, "relay", move || run_once(Arc::clone(&again))).await;
}

async fn run_once(shared: Arc<Shared>) -> Result<std::process::ExitStatus, MasterError> {
    let (control, theirs) = socket_pair()?;
    let args = vec!["--fd-control".into(), FD_CONTROL.to_string()];
    let mut child = crate::cluster_roles::start(
        &shared,
        crate::cluster_roles::RELAY,
        vec![(theirs, FD_CONTROL)],
        args,
        FD_TLS,
    )?;
    let pid = child.id().unwrap_or(0);
    let link = Arc::new(RelayLink::new(ControlChannel::new(control)));
    set_link(&shared, Some(Arc::clone(&link)));
    let reader = tokio::spawn(Arc::clone(&link).read_events());
    let status = child.wait().await;
    set_link(&shared, None);
    reader.abort();
    shared.live_remove(pid);
    status.map_err(|e| MasterError::io("waiting for the relay", e))
}

/// Installs (or, `None`, removes) the running relay's link.
pub(crate) fn set_link(shared: &Shared, link: Option<Arc<RelayLink>>) {
    if let Ok(mut current) = shared.relay.lock() {
        *current = link;
    }
}

fn link(shared: &Shared) -> Option<Arc<RelayLink>> {
    shared.relay.lock().ok()?.clone()
}

/// Gets protocol process `client_id` a connection to `owner`'s storage on
/// the host whose gateway is `gateway` (address, TLS server name), through
/// the relay. The caller verified `ticket` for `owner`. Says "reuse" when
/// the caller still holds one for that owner.
pub(crate) async fn connect(
    shared: &Shared,
    client_id: u64,
    ticket: &str,
    owner: &str,
    (address, server_name): (String, String),
    held: &[u64],
) -> Answer {
    let Some(link) = link(shared) else {
        return (
            error(RefusalCode::Unavailable, "the relay is not running"),
            None,
        );
    };
    if let Some(connection_id) = link.held(client_id, owner)
        && held.contains(&connection_id)
    {
        let attached = StorageAttached {
            connection_id,
            reuse: true,
        };
        return (broker_reply::Kind::Storage(attached), None);
    }
    let (ours, theirs) = match passed_pair() {
        Ok(p) => p,
        Err(e) => return (error(RefusalCode::Unavailable, e.to_string()), None),
    };
    let connection_id = shared.next_connection_id();
    let request = RelayControl {
        kind: Some(relay_control::Kind::Connect(RelayConnect {
            request_id: connection_id,
            address,
            server_name,
            ticket: ticket.to_owned(),
            owner: owner.to_owned(),
        })),
    };
    let reply = link
        .control
        .request_with(connection_id, &request, Some(&theirs), CONNECT_TIMEOUT)
        .await;
    drop(theirs);
    match reply {
        Ok(r) if r.error.is_empty() => {}
        Ok(r) => {
            let code = match r.code() {
                RefusalCode::Unspecified => RefusalCode::Unavailable,
                code => code,
            };
            return (error(code, r.error), None);
        }
        Err(message) => return (error(RefusalCode::Unavailable, message), None),
    }
    link.record(client_id, owner, connection_id);
    let attached = StorageAttached {
        connection_id,
        reuse: false,
    };
    (broker_reply::Kind::Storage(attached), Some(ours))
}

/// Forgets the relayed connections of protocol process `client_id` (it
/// is gone).
pub(crate) fn forget_client(shared: &Shared, client_id: u64) {
    if let Some(link) = link(shared)
        && let Ok(mut c) = link.connections.lock()
    {
        c.retain(|(client, _), _| *client != client_id);
    }
}

/// Has the relay tell the gateway `gateway` (address, TLS server name)
/// that the sessions of `tickets` ended, in the background.
pub(crate) fn revoke(
    shared: &Shared,
    (address, server_name): (String, String),
    tickets: Vec<String>,
) {
    let Some(link) = link(shared) else {
        tracing::error!(%address, "cannot tell another host of ended sessions: the relay is not running");
        return;
    };
    // One request per frame's worth of tickets.
    let requests: Vec<(u64, usize, RelayControl)> = crate::revoke::in_frames(tickets, String::len)
        .into_iter()
        .map(|tickets| {
            let request_id = shared.next_connection_id();
            let count = tickets.len();
            let request = RelayControl {
                kind: Some(relay_control::Kind::Revoke(RelayRevoke {
                    request_id,
                    address: address.clone(),
                    server_name: server_name.clone(),
                    tickets,
                })),
            };
            (request_id, count, request)
        })
        .collect();
    tokio::spawn(async move {
        for (request_id, count, request) in requests {
            match link
                .control
                .request_with(request_id, &request, None, CONNECT_TIMEOUT)
                .await
            {
                Ok(r) if r.error.is_empty() => {
                    tracing::info!(%address, count, "ended sessions passed to their home host")
                }
                Ok(r) => tracing::warn!(%address, "passing ended sessions on: {}", r.error),
                Err(e) => tracing::warn!(%address, "passing ended sessions on: {e}"),
            }
        }
    });
}

/// Asks each other host of the cluster (`[cluster.hosts]`, this host left
/// out) which of its owners share something with `user` (whose session
/// `ticket` is), through the relay, all at once; a host that answered
/// lately is not asked again (`shares_elsewhere.rs`). A host that does
/// not answer adds nothing (its shared mailboxes are then missing from
/// the listing, the user's own mail is not affected).
pub(crate) async fn sharing_owners_elsewhere(
    shared: &Shared,
    user: &str,
    ticket: &str,
) -> Vec<String> {
    let mut owners = Vec::new();
    let mut hosts: Vec<String> = Vec::new();
    for (_, address) in shared
        .config
        .cluster
        .hosts
        .iter()
        .filter(|(name, _)| **name != shared.config.server.hostname)
    {
        match shared.shares_elsewhere.get(user, address) {
            Some(cached) => owners.extend(cached),
            None => hosts.push(address.clone()),
        }
    }
    if hosts.is_empty() {
        return owners;
    }
    let Some(link) = link(shared) else {
        tracing::warn!("cannot ask other hosts for shared mailboxes: the relay is not running");
        return owners;
    };
    let generation = shared.shares_elsewhere.generation();
    let mut asks = tokio::task::JoinSet::new();
    for address in hosts {
        let link = Arc::clone(&link);
        let request_id = shared.next_connection_id();
        let request = RelayControl {
            kind: Some(relay_control::Kind::SharingOwners(RelaySharingOwners {
                request_id,
                server_name: crate::gateway::server_name_of(&address),
                address: address.clone(),
                ticket: ticket.to_owned(),
            })),
        };
        asks.spawn(async move {
            match link
                .control
                .request_with(request_id, &request, None, SHARING_ASK_TIMEOUT)
                .await
            {
                Ok(r) if r.error.is_empty() => Some((address, r.owners)),
                Ok(r) => {
                    tracing::warn!(%address, "asking for shared mailboxes: {}", r.error);
                    None
                }
                Err(e) => {
                    tracing::warn!(%address, "asking for shared mailboxes: {e}");
                    None
                }
            }
        });
    }
    while let Some(answer) = asks.join_next().await {
        if let Ok(Some((address, answered))) = answer {
            shared
                .shares_elsewhere
                .keep(user, &address, answered.clone(), generation);
            owners.extend(answered);
        }
    }
    owners
}
