//! The storage gateway: other hosts' relays reach this host's storage over
//! TCP+TLS.
//!
//! On each accepted connection the gateway terminates TLS, reads one
//! framed `GatewayHello { ticket, owner }` and asks the broker for a
//! connection to the owner's storage process with that ticket, as a
//! protocol process would. The broker verifies the ticket with the public
//! key of the host that issued it, checks its session was not ended and
//! that the owner lives on this host; the gateway then answers
//! `GatewayReply` and splices bytes both ways. The storage process still
//! checks the ticket on every call, so the gateway adds no trust: it only
//! lets a remote host reach a UNIX socket it cannot reach. A hello that
//! carries `revoke` instead passes each ended session to the broker; one
//! with `sharing_owners` is answered with the owners here who share
//! something with the ticket's user.

use std::time::Duration;

use mailkeep_storage_rpc::broker::{GatewayHello, GatewayReply, RefusalCode};
use mailkeep_storage_rpc::broker_client::{BrokerClient, BrokerError};
use mailkeep_storage_rpc::tls::{TlsAcceptor, TlsError, read_frame, write_frame};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

/// How long a connecting host may take for the TLS handshake and its hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts gateway connections until the process ends. `broker` is this
/// process's channel to the master's broker.
pub async fn serve(listener: TcpListener, tls: TlsAcceptor, broker: BrokerClient) {
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Out of descriptors, most likely: let some close first.
                tracing::warn!("gateway accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let (tls, broker) = (tls.clone(), broker.clone());
        tokio::spawn(async move {
            if let Err(e) = serve_connection(tcp, tls, broker).await {
                tracing::warn!(%peer, "gateway connection: {e}");
            }
        });
    }
}

/// Why one gateway connection ended early.
#[derive(Debug, thiserror::Error)]
enum ConnectionError {
    #[error("TLS handshake: {0}")]
    Handshake(std::io::Error),
    #[error("no hello within {HELLO_TIMEOUT:?}")]
    Timeout,
    #[error(transparent)]
    Frame(#[from] TlsError),
    #[error("refused ({code:?}): {message}")]
    Refused { code: RefusalCode, message: String },
    #[error("splicing: {0}")]
    Splice(std::io::Error),
}

async fn serve_connection(
    tcp: TcpStream,
    tls: TlsAcceptor,
    broker: BrokerClient,
) -> Result<(), ConnectionError> {
    let _ = tcp.set_nodelay(true);
    let (mut stream, hello) = tokio::time::timeout(HELLO_TIMEOUT, async {
        let mut stream = tls.accept(tcp).await.map_err(ConnectionError::Handshake)?;
        let hello: GatewayHello = read_frame(&mut stream).await?;
        Ok::<_, ConnectionError>((stream, hello))
    })
    .await
    .map_err(|_| ConnectionError::Timeout)??;
    if !hello.revoke.is_empty() {
        // Another host passing on sessions that ended there. Each ticket
        // is its own proof: the broker ends only sessions whose ticket
        // verifies.
        let count = hello.revoke.len();
        for ticket in &hello.revoke {
            if let Err(e) = broker.end_session(ticket).await {
                tracing::warn!("gateway: passing an ended session to the broker: {e}");
            }
        }
        tracing::info!(count, "gateway: another host ended sessions");
        write_frame(&mut stream, &GatewayReply::default()).await?;
        let _ = stream.shutdown().await;
        return Ok(());
    }
    if hello.sharing_owners {
        // Another host's user listing their shared namespace: the owners
        // here who share with them (the broker verifies the ticket).
        let reply = match broker.sharing_owners(&hello.ticket).await {
            Ok(owners) => GatewayReply {
                owners,
                ..GatewayReply::default()
            },
            Err(e) => {
                let (code, message) = match e {
                    BrokerError::Refused { code, message } => (code, message),
                    other => (RefusalCode::Unavailable, other.to_string()),
                };
                GatewayReply {
                    code: code as i32,
                    error: message,
                    ..GatewayReply::default()
                }
            }
        };
        write_frame(&mut stream, &reply).await?;
        let _ = stream.shutdown().await;
        return Ok(());
    }
    let mut local = match broker.storage_socket(&hello.ticket, &hello.owner).await {
        Ok(socket) => socket,
        Err(e) => {
            let (code, message) = match e {
                BrokerError::Refused { code, message } => (code, message),
                other => (RefusalCode::Unavailable, other.to_string()),
            };
            tracing::warn!(owner = hello.owner, "gateway refused: {code:?}: {message}");
            let reply = GatewayReply {
                code: code as i32,
                error: message.clone(),
                ..GatewayReply::default()
            };
            // Best effort: the peer gets a clear refusal, not a hang.
            let _ = write_frame(&mut stream, &reply).await;
            let _ = stream.shutdown().await;
            return Err(ConnectionError::Refused { code, message });
        }
    };
    write_frame(&mut stream, &GatewayReply::default()).await?;
    tracing::info!(owner = hello.owner, "gateway: forwarding to local storage");
    tokio::io::copy_bidirectional(&mut stream, &mut local)
        .await
        .map_err(ConnectionError::Splice)?;
    Ok(())
}
