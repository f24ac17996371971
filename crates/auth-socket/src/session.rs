//! One client of the auth socket (an MTA process such as Postfix's smtpd),
//! from the handshake until it hangs up: its requests are relayed step by
//! step to auth through the frontend's SASL relay, which checks the
//! password, applies the penalties and logs; this side only moves bytes.

use std::collections::HashMap;
use std::sync::Arc;

use mailkeep_frontend::{
    AuthFailure, ClientFacts, ConnReader, ConnWriter, Connection, PlaintextLogins, SaslExchange,
    SaslStep,
};
use tokio::time::Instant;

use crate::Process;
use crate::protocol::{AuthRequest, ClientLine, MAX_LINE, ParseError, Reply, handshake, parse};

/// The mechanisms offered: the two an MTA relays from SMTP AUTH with the
/// password in them. Auth itself also knows SCRAM, which an MTA cannot
/// relay without the channel it runs on.
pub const MECHANISMS: &[&str] = &["PLAIN", "LOGIN"];

/// The refusal of a password that travelled in the clear over the network
/// (Dovecot's words for `disable_plaintext_auth`).
const PLAINTEXT_REFUSED: &str =
    "Plaintext authentication disallowed on non-secure (SSL/TLS) connections.";

/// Requests one connection may have open (waiting for a `CONT`) at once;
/// a client needs one per SMTP session it serves at that moment.
const MAX_OPEN_REQUESTS: usize = 64;

/// Why the connection is closed (the protocol has no other error reply).
#[derive(Debug, thiserror::Error)]
enum Hangup {
    #[error("the client went away")]
    Gone,
    #[error("a line over {MAX_LINE} bytes")]
    TooLong,
    #[error("a request before the client's VERSION")]
    NoHandshake,
    #[error("client protocol version {0} is not 1")]
    Version(u32),
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error("writing: {0}")]
    Write(#[from] std::io::Error),
}

/// Serves `connection` until the client hangs up or breaks the protocol.
pub async fn run(process: Arc<Process>, connection: Connection) {
    let plaintext = connection.info().plaintext_logins;
    let (reader, writer) = connection.split();
    let mut session = Session {
        process,
        reader,
        writer,
        plaintext,
        version_seen: false,
        open: HashMap::new(),
    };
    match session.serve().await {
        Err(Hangup::Gone) => {}
        Err(e) => tracing::warn!(error = %e, "auth socket client disconnected"),
        Ok(()) => {}
    }
    for (_, exchange) in session.open.drain() {
        exchange.abort().await;
    }
}

struct Session {
    process: Arc<Process>,
    reader: ConnReader,
    writer: ConnWriter,
    /// When a password may come from the MTA's client in the clear.
    plaintext: PlaintextLogins,
    /// The client sent its VERSION (requests come after it).
    version_seen: bool,
    /// Requests waiting for the client's next response, by id.
    open: HashMap<u32, SaslExchange>,
}

impl Session {
    async fn serve(&mut self) -> Result<(), Hangup> {
        let cuid = self.process.next_connection();
        self.send(&handshake(MECHANISMS, std::process::id(), cuid))
            .await?;
        loop {
            let deadline = Instant::now() + self.process.settings.timeout;
            let line = match self.reader.read_line(MAX_LINE, deadline).await {
                Ok(Some(line)) => line,
                Ok(None) => return Err(Hangup::TooLong),
                Err(_) => return Err(Hangup::Gone),
            };
            let reply = match parse(&line) {
                Ok(ClientLine::Version { major, .. }) if major != crate::protocol::VERSION.0 => {
                    return Err(Hangup::Version(major));
                }
                Ok(ClientLine::Version { .. }) => {
                    self.version_seen = true;
                    None
                }
                Ok(ClientLine::Cpid(pid)) => {
                    tracing::debug!(client_pid = pid, "auth socket client");
                    None
                }
                Ok(_) if !self.version_seen => return Err(Hangup::NoHandshake),
                Ok(ClientLine::Auth(request)) => Some(self.auth(request).await),
                Ok(ClientLine::Cont { id, data }) => Some(self.cont(id, data).await),
                Ok(ClientLine::Cancel(id)) => {
                    if let Some(exchange) = self.open.remove(&id) {
                        exchange.abort().await;
                    }
                    None
                }
                Err(e) => match e.request() {
                    Some(id) => {
                        if let Some(exchange) = self.open.remove(&id) {
                            exchange.abort().await;
                        }
                        Some(fail(id, false, "Invalid base64 data"))
                    }
                    None => return Err(e.into()),
                },
            };
            if let Some(reply) = reply {
                self.send(&reply.encode()).await?;
            }
        }
    }

    async fn send(&self, text: &str) -> std::io::Result<()> {
        self.writer.write(text.as_bytes()).await?;
        self.writer.flush().await
    }

    /// A new request: refused at once for a mechanism not offered or too
    /// many open requests, else its first step.
    async fn auth(&mut self, request: AuthRequest) -> Reply {
        let id = request.id;
        if let Some(old) = self.open.remove(&id) {
            // A reused id starts over, as in auth itself.
            old.abort().await;
        }
        if !MECHANISMS.contains(&request.mechanism.as_str()) {
            return fail(id, false, "Unsupported authentication mechanism");
        }
        if !plaintext_allowed(
            self.plaintext,
            request.secured,
            request.remote_ip.as_deref(),
        ) {
            return fail(id, false, PLAINTEXT_REFUSED);
        }
        if self.open.len() >= MAX_OPEN_REQUESTS {
            return fail(id, true, "Too many authentication requests at once");
        }
        let facts = ClientFacts {
            remote_ip: request.remote_ip.unwrap_or_default(),
            protocol: if request.service.is_empty() {
                "smtp".to_owned()
            } else {
                request.service
            },
            channel_binding: None,
        };
        let exchange = SaslExchange::new(Arc::clone(&self.process.auth), &request.mechanism, facts)
            .without_ticket();
        self.step(id, exchange, request.initial).await
    }

    /// The client's next response in request `id`.
    async fn cont(&mut self, id: u32, data: Vec<u8>) -> Reply {
        match self.open.remove(&id) {
            Some(exchange) => self.step(id, exchange, Some(data)).await,
            None => fail(id, false, "No such authentication request"),
        }
    }

    async fn step(&mut self, id: u32, mut exchange: SaslExchange, data: Option<Vec<u8>>) -> Reply {
        match exchange.step(data).await {
            SaslStep::Challenge(challenge) => {
                self.open.insert(id, exchange);
                Reply::Cont { id, challenge }
            }
            // Auth issues no ticket to this role: nothing to keep or revoke.
            SaslStep::Success(login) => Reply::Ok {
                id,
                user: login.user.clone(),
            },
            SaslStep::Failure(failure) => match failure {
                AuthFailure::Temporary => fail(id, true, "Authentication service unavailable"),
                AuthFailure::ContactAdmin(reason) => fail(id, false, &reason),
                AuthFailure::Rejected
                | AuthFailure::Malformed
                | AuthFailure::MechanismUnavailable => fail(id, false, "Authentication failed"),
            },
        }
    }
}

/// Whether a password may be checked for the MTA's client: PLAIN and LOGIN
/// carry it, so as in imap and pop3 it must have come over TLS (`secured`)
/// unless `rule` allows it from a loopback client address or always. The
/// address is the one the MTA names (`rip`); none counts as not loopback.
pub(crate) fn plaintext_allowed(rule: PlaintextLogins, secured: bool, rip: Option<&str>) -> bool {
    let loopback = || {
        rip.and_then(|r| r.parse::<std::net::IpAddr>().ok())
            .is_some_and(|ip| ip.is_loopback())
    };
    secured
        || match rule {
            PlaintextLogins::Always => true,
            PlaintextLogins::Never => false,
            PlaintextLogins::Loopback => loopback(),
        }
}

fn fail(id: u32, temporary: bool, reason: &str) -> Reply {
    Reply::Fail {
        id,
        temporary,
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plaintext_passwords_need_tls_unless_the_rule_allows_them() {
        use PlaintextLogins::{Always, Loopback, Never};
        for rule in [Loopback, Never, Always] {
            assert!(plaintext_allowed(rule, true, Some("192.0.2.1")), "{rule:?}");
        }
        assert!(plaintext_allowed(Loopback, false, Some("127.0.0.1")));
        assert!(plaintext_allowed(Loopback, false, Some("::1")));
        assert!(!plaintext_allowed(Loopback, false, Some("192.0.2.1")));
        assert!(!plaintext_allowed(Loopback, false, None));
        assert!(!plaintext_allowed(Loopback, false, Some("localhost")));
        assert!(!plaintext_allowed(Never, false, Some("127.0.0.1")));
        assert!(plaintext_allowed(Always, false, Some("192.0.2.1")));
        assert!(plaintext_allowed(Always, false, None));
    }
}
