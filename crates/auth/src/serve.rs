//! The auth process's main loop: take the connections the master hands
//! over on the control socket and serve the Auth gRPC service on each.

use std::io;
use std::sync::Arc;

use mailkeep_storage_rpc::auth::auth_server::AuthServer;
use mailkeep_storage_rpc::broker::ControlMessage;
use mailkeep_storage_rpc::broker::control_message::Kind;
use mailkeep_storage_rpc::framing::{FrameError, recv_frame};
use mailkeep_storage_rpc::quiet_stream::QuietStream;
use mailkeep_ticket::{HostKey, SessionId};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Server;

use crate::AuthError;
use crate::conn::{AuthConnection, ConnectionTag, PeerRole};
use crate::exchanges::{ConnectionKey, Exchanges};
use crate::service::AuthService;
use crate::settings::AuthSettings;
use crate::vouch::Vouching;

/// The largest Auth request accepted: SASL responses are small.
const MAX_REQUEST: usize = 64 * 1024;

/// Serves the Auth RPC on every connection the master sends over `control`
/// (`ControlMessage::NewConnection` with the socket attached), signing
/// tickets with `key` (this host's, held by no other process) and
/// refusing renewals of the sessions the master reports revoked
/// (`ControlMessage::Revoke`). Returns `Ok` when the master closes the control
/// socket (it is shutting down or restarting auth), an error when the
/// control channel or the server fails.
pub async fn serve(
    settings: AuthSettings,
    key: HostKey,
    control: QuietStream,
) -> Result<(), AuthError> {
    let exchanges = Arc::new(Exchanges::default());
    tracing::info!(passwd_file = %settings.passwd_file.display(), issuer = %settings.issuer,
        "auth service starting");
    let control = Arc::new(control);
    let service = AuthService::new(settings, key, Arc::clone(&exchanges))
        .vouching_through(Vouching::start(Arc::clone(&control)));
    let revocations = service.clone();
    let chains = service.chains();
    let (connections, incoming) = mpsc::channel::<Result<AuthConnection, io::Error>>(16);
    let server = Server::builder()
        .add_service(AuthServer::new(service).max_decoding_message_size(MAX_REQUEST))
        .serve_with_incoming(ReceiverStream::new(incoming));
    let mut server = tokio::spawn(server);
    let mut next_key = 1u64;
    loop {
        tokio::select! {
            // Only reached when the server ends on its own.
            ended = &mut server => {
                return match ended {
                    Ok(result) => result.map_err(AuthError::from),
                    Err(error) => Err(AuthError::Task(error.to_string())),
                };
            }
            frame = recv_frame::<ControlMessage>(&*control) => {
                let (message, fd) = match frame {
                    Ok(frame) => frame,
                    // Reset: the master closed it with events of ours
                    // (`crate::vouch`) unread, a close all the same.
                    Err(error) if closed(&error) => {
                        tracing::info!("control channel closed; auth service stops");
                        server.abort();
                        return Ok(());
                    }
                    Err(error) => {
                        server.abort();
                        return Err(error.into());
                    }
                };
                match (message.kind, fd) {
                    (Some(Kind::NewConnection(new)), Some(fd)) => {
                        let stream = match QuietStream::new(fd) {
                            Ok(stream) => stream,
                            Err(error) => {
                                tracing::warn!(connection_id = new.connection_id, %error,
                                    "cannot use a handed-over connection");
                                continue;
                            }
                        };
                        let tag = ConnectionTag {
                            key: ConnectionKey(next_key),
                            role: PeerRole::from_master(&new.role),
                        };
                        next_key = next_key.wrapping_add(1);
                        tracing::debug!(connection_id = new.connection_id, role = %new.role,
                            "new auth connection");
                        let connection = AuthConnection::new(
                            stream,
                            tag,
                            Arc::clone(&exchanges),
                            Arc::clone(&chains),
                        );
                        // Fails only when the server has ended; the next turn
                        // of the loop reports why.
                        let _ = connections.send(Ok(connection)).await;
                    }
                    (Some(Kind::NewConnection(new)), None) => {
                        tracing::warn!(connection_id = new.connection_id,
                            "control message NewConnection came without a socket");
                    }
                    (Some(Kind::Revoke(revoke)), _) => {
                        let sessions: Vec<(SessionId, i64)> = revoke
                            .sessions
                            .iter()
                            .filter_map(|r| Some((SessionId::from_slice(&r.session)?, r.until_unix)))
                            .collect();
                        tracing::debug!(count = sessions.len(), "sessions revoked");
                        revocations.revoke(sessions);
                    }
                    (Some(Kind::AddOwner(_) | Kind::Expire(_) | Kind::TicketIssued(_)), _) => {
                        tracing::warn!("control message for storage processes; ignored");
                    }
                    (None, _) => {
                        tracing::warn!("unknown control message ignored");
                    }
                }
            }
        }
    }
}

/// Whether a control socket error is the master closing it.
fn closed(error: &FrameError) -> bool {
    match error {
        FrameError::Closed => true,
        FrameError::Io(error) => error.kind() == io::ErrorKind::ConnectionReset,
        _ => false,
    }
}
