//! The accept loop of a protocol process: several listeners, one task per
//! client, a limit on clients at once, and the TLS handshake of
//! implicit-TLS listeners done (under a timeout) before the protocol sees
//! the connection.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tracing::Instrument;

use crate::admission::{Admission, ClientPolicy, ClientTable};
use crate::conn_info::{ConnInfo, Endpoint, PlaintextLogins};
use crate::connection::{ConnLimits, Connection};
use crate::listen::{Accepted, AcceptedStream, Listener, ListenerKind};
use crate::proxy_header::read_client_address;
use crate::tls::{ServerTls, tls_info};

/// How a protocol process accepts clients.
#[derive(Debug, Clone)]
pub struct AcceptSettings {
    /// Clients served at once by this process; more are refused.
    pub max_connections: usize,
    /// What a refused client reads on a plain-text listener, e.g. IMAP's
    /// `* BYE Too many connections\r\n`. An implicit-TLS client is just
    /// disconnected: it cannot read plain text, and a handshake for a
    /// client we turn away is work we are too busy for.
    pub refusal: Vec<u8>,
    /// The rule for plaintext logins, carried into every [`ConnInfo`].
    pub plaintext_logins: PlaintextLogins,
    /// Each connection's limits.
    pub limits: ConnLimits,
    /// The per-address limits, their exempt networks and the proxies
    /// trusted to name the client. A client over a limit is refused as
    /// when the process is full.
    pub clients: ClientPolicy,
}

/// How many clients a process serves now (for the master's `admin ps`).
#[derive(Clone)]
pub struct ConnectionCount {
    slots: Arc<Semaphore>,
    max: usize,
}

impl ConnectionCount {
    /// Clients connected now, handshakes included.
    pub fn active(&self) -> usize {
        self.max.saturating_sub(self.slots.available_permits())
    }
}

/// Accepts clients on a set of listeners and hands each to the protocol.
pub struct Acceptor {
    listeners: Vec<Listener>,
    tls: ServerTls,
    settings: Arc<AcceptSettings>,
    count: ConnectionCount,
    clients: Arc<ClientTable>,
}

impl Acceptor {
    /// An acceptor over `listeners`, with `tls` for implicit-TLS listeners
    /// (and for the protocol's STARTTLS).
    pub fn new(listeners: Vec<Listener>, tls: ServerTls, settings: AcceptSettings) -> Acceptor {
        let max = settings.max_connections.max(1);
        Acceptor {
            listeners,
            tls,
            clients: ClientTable::new(settings.clients.clone()),
            settings: Arc::new(settings),
            count: ConnectionCount {
                slots: Arc::new(Semaphore::new(max)),
                max,
            },
        }
    }

    /// The TLS configuration, for the protocol's STARTTLS.
    pub fn tls(&self) -> ServerTls {
        self.tls.clone()
    }

    /// A handle that counts the clients served.
    pub fn connections(&self) -> ConnectionCount {
        self.count.clone()
    }

    /// Accepts clients until every listener has failed for good (which
    /// does not happen to a healthy socket): each client runs
    /// `handler(connection)` in its own task, so one failing client never
    /// stops the others. A client counts against `max_connections` until
    /// its handler returns.
    pub async fn serve<H, F>(self, handler: H)
    where
        H: Fn(Connection) -> F + Send + Sync + 'static,
        F: Future<Output = ()> + Send + 'static,
    {
        let handler = Arc::new(handler);
        let mut loops = tokio::task::JoinSet::new();
        for listener in self.listeners {
            loops.spawn(accept_loop(
                listener,
                self.tls.clone(),
                Arc::clone(&self.settings),
                self.count.clone(),
                Arc::clone(&self.clients),
                Arc::clone(&handler),
            ));
        }
        while loops.join_next().await.is_some() {}
    }
}

async fn accept_loop<H, F>(
    listener: Listener,
    tls: ServerTls,
    settings: Arc<AcceptSettings>,
    count: ConnectionCount,
    clients: Arc<ClientTable>,
    handler: Arc<H>,
) where
    H: Fn(Connection) -> F + Send + Sync + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    let name = listener.name_arc();
    let kind = listener.kind();
    let proxied = listener.proxy_protocol();
    loop {
        let accepted = match listener.accept().await {
            Ok(a) => a,
            Err(e) => {
                // Out of descriptors and the like: back off, do not spin.
                tracing::warn!(listener = %name, error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&count.slots).try_acquire_owned() else {
            tracing::warn!(listener = %name, peer = %accepted.peer, "too many connections; refused");
            if kind != ListenerKind::ImplicitTls {
                accepted.stream.refuse(&settings.refusal);
            }
            continue;
        };
        let span = tracing::info_span!("conn", listener = %name, peer = %accepted.peer);
        let tls = tls.clone();
        let settings = Arc::clone(&settings);
        let clients = Arc::clone(&clients);
        let handler = Arc::clone(&handler);
        let name = Arc::clone(&name);
        tokio::spawn(
            async move {
                let _permit = permit;
                let mut accepted = accepted;
                if proxied && !take_proxy_header(&mut accepted, &clients, &tls).await {
                    return;
                }
                let admission = match clients.admit(accepted.peer.ip()) {
                    Ok(admission) => admission,
                    Err(refused) => {
                        tracing::warn!(%refused, "connection refused: per-address limit");
                        if kind != ListenerKind::ImplicitTls {
                            accepted.stream.refuse(&settings.refusal);
                        }
                        return;
                    }
                };
                if let Some(conn) =
                    establish(accepted, kind, name, &tls, &settings, admission).await
                {
                    handler(conn).await;
                }
            }
            .instrument(span),
        );
    }
}

/// On a listener behind a load balancer: refuses a peer outside the
/// trusted networks (anyone could otherwise claim any address), reads the
/// PROXY v2 header and takes the client it names as the peer. `false`:
/// the connection is dropped (logged).
async fn take_proxy_header(
    accepted: &mut Accepted,
    clients: &ClientTable,
    tls: &ServerTls,
) -> bool {
    let trusted = accepted
        .peer
        .ip()
        .is_some_and(|ip| clients.policy().trusted.contains(ip));
    if !trusted {
        tracing::warn!(
            "connection refused: PROXY header expected, and the peer is not in trusted_networks"
        );
        return false;
    }
    let AcceptedStream::Tcp(stream) = &mut accepted.stream else {
        return true;
    };
    match read_client_address(stream, tls.handshake_timeout()).await {
        Ok(Some(client)) => {
            tracing::debug!(proxy = %accepted.peer, %client, "client named by the PROXY header");
            accepted.peer = Endpoint::Tcp(client);
            true
        }
        Ok(None) => true,
        Err(error) => {
            tracing::warn!(%error, "connection dropped: bad PROXY header");
            false
        }
    }
}

/// Makes the connection: for implicit TLS, after a handshake within the
/// timeout. `None` when the handshake failed (logged).
async fn establish(
    accepted: Accepted,
    kind: ListenerKind,
    listener: Arc<str>,
    tls: &ServerTls,
    settings: &AcceptSettings,
    admission: Admission,
) -> Option<Connection> {
    let mut info = ConnInfo {
        loopback: accepted.peer.is_local(),
        peer: accepted.peer,
        local: accepted.local,
        listener,
        kind,
        tls: None,
        compressed: false,
        plaintext_logins: settings.plaintext_logins,
    };
    let tcp = accepted.stream.tcp_socket();
    let stream = accepted.stream.into_transport();
    if kind != ListenerKind::ImplicitTls {
        return Some(
            Connection::new(stream, info, settings.limits)
                .with_admission(admission)
                .with_tcp_socket(tcp),
        );
    }
    let timeout = tls.handshake_timeout();
    match tokio::time::timeout(timeout, tls.acceptor().accept(stream)).await {
        Ok(Ok(stream)) => {
            info.tls = Some(tls_info(stream.get_ref().1));
            Some(
                Connection::new(stream, info, settings.limits)
                    .with_admission(admission)
                    .with_tcp_socket(tcp),
            )
        }
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!(?timeout, "TLS handshake timed out");
            None
        }
    }
}
