//! The relay: the one process on a host that holds the cluster TLS client
//! certificate and key. It acts only on what the master sends on its
//! control channel (after the broker verified the session's ticket):
//!
//! * `RelayConnect` with one end of a socket pair attached: open a TLS
//!   connection to another host's gateway, send the hello, answer, then
//!   splice the socket with the TLS stream until either side ends, and say
//!   `RelayClosed` so that the broker hands that connection out no more;
//! * `RelayRevoke`: tell another host's gateway that sessions ended;
//! * `RelaySharingOwners`: ask another host's gateway which owners there
//!   share something with a user (the reply carries them).
//!
//! Every request is answered with a `ControlReply` of its id: empty on
//! success, else the gateway's refusal (its code passed on) or why the
//! gateway could not be reached (`UNAVAILABLE`).

use std::os::fd::OwnedFd;
use std::sync::Arc;

use mailkeep_storage_rpc::broker::{
    ControlReply, GatewayHello, RefusalCode, RelayClosed, RelayConnect, RelayControl, RelayEvent,
    RelayRevoke, RelaySharingOwners, relay_control, relay_event,
};
use mailkeep_storage_rpc::framing::{FrameError, into_unix_stream, recv_frame, send_frame};
use mailkeep_storage_rpc::tls::{TlsError, open_gateway, open_gateway_answered};
use rustls::ClientConfig;
use tokio::net::UnixStream;
use tokio::sync::Mutex;

/// Why the relay stopped.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The control channel failed (other than by the master closing it).
    #[error("relay control channel: {0}")]
    Channel(#[from] FrameError),
}

/// The relay's end of its control channel: read by the serving loop,
/// written (replies, closed connections) by every task under a lock.
struct Control {
    stream: UnixStream,
    write: Mutex<()>,
}

impl Control {
    async fn say(&self, kind: relay_event::Kind) {
        let event = RelayEvent { kind: Some(kind) };
        let _writing = self.write.lock().await;
        if let Err(e) = send_frame(&self.stream, &event, None).await {
            tracing::warn!("relay: telling the master: {e}");
        }
    }

    async fn reply(&self, request_id: u64, outcome: Result<(), TlsError>) {
        let reply = match outcome {
            Ok(()) => ControlReply {
                request_id,
                ..ControlReply::default()
            },
            Err(e) => {
                let code = match &e {
                    TlsError::Refused { code, .. } => *code,
                    _ => RefusalCode::Unavailable,
                };
                ControlReply {
                    request_id,
                    error: e.to_string(),
                    code: code as i32,
                    ..ControlReply::default()
                }
            }
        };
        self.say(relay_event::Kind::Reply(reply)).await;
    }
}

/// Serves the master's requests on `control` with the client TLS
/// configuration `tls` until the master closes the channel.
pub async fn serve(control: UnixStream, tls: Arc<ClientConfig>) -> Result<(), RelayError> {
    let control = Arc::new(Control {
        stream: control,
        write: Mutex::new(()),
    });
    loop {
        let (request, fd): (RelayControl, Option<OwnedFd>) = match recv_frame(&control.stream).await
        {
            Ok(got) => got,
            Err(FrameError::Closed) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let (control, tls) = (Arc::clone(&control), Arc::clone(&tls));
        match request.kind {
            Some(relay_control::Kind::Connect(connect)) => {
                tokio::spawn(relay_one(control, tls, connect, fd));
            }
            Some(relay_control::Kind::Revoke(revoke)) => {
                tokio::spawn(pass_on_revocations(control, tls, revoke));
            }
            Some(relay_control::Kind::SharingOwners(asked)) => {
                tokio::spawn(ask_sharing_owners(control, tls, asked));
            }
            None => tracing::warn!("relay: an empty request from the master; ignored"),
        }
    }
}

/// Connects for one session's connection and splices it.
async fn relay_one(
    control: Arc<Control>,
    tls: Arc<ClientConfig>,
    connect: RelayConnect,
    fd: Option<OwnedFd>,
) {
    let id = connect.request_id;
    let Some(fd) = fd else {
        let e = TlsError::Frame("a connect request without its socket".into());
        control.reply(id, Err(e)).await;
        return;
    };
    let hello = GatewayHello {
        ticket: connect.ticket,
        owner: connect.owner,
        ..GatewayHello::default()
    };
    let opened = open_gateway(tls, &connect.address, &connect.server_name, &hello).await;
    let mut remote = match opened {
        Ok(stream) => stream,
        Err(e) => {
            tracing::warn!(address = connect.address, owner = hello.owner, "relay: {e}");
            control.reply(id, Err(e)).await;
            return;
        }
    };
    control.reply(id, Ok(())).await;
    tracing::info!(
        address = connect.address,
        owner = hello.owner,
        connection = id,
        "relay: connected to the owner's home host"
    );
    match into_unix_stream(fd) {
        Ok(mut local) => {
            if let Err(e) = tokio::io::copy_bidirectional(&mut local, &mut remote).await {
                tracing::info!(connection = id, "relay: connection ended: {e}");
            }
        }
        Err(e) => tracing::warn!(connection = id, "relay: the passed socket: {e}"),
    }
    control
        .say(relay_event::Kind::Closed(RelayClosed { connection_id: id }))
        .await;
}

/// Asks another host's gateway which owners there share with a user.
async fn ask_sharing_owners(
    control: Arc<Control>,
    tls: Arc<ClientConfig>,
    asked: RelaySharingOwners,
) {
    let hello = GatewayHello {
        ticket: asked.ticket,
        sharing_owners: true,
        ..GatewayHello::default()
    };
    match open_gateway_answered(tls, &asked.address, &asked.server_name, &hello).await {
        Ok((_, reply)) => {
            let reply = ControlReply {
                request_id: asked.request_id,
                owners: reply.owners,
                ..ControlReply::default()
            };
            control.say(relay_event::Kind::Reply(reply)).await;
        }
        Err(e) => control.reply(asked.request_id, Err(e)).await,
    }
}

/// Tells another host's gateway that sessions ended.
async fn pass_on_revocations(control: Arc<Control>, tls: Arc<ClientConfig>, revoke: RelayRevoke) {
    let hello = GatewayHello {
        revoke: revoke.tickets,
        ..GatewayHello::default()
    };
    let outcome = open_gateway(tls, &revoke.address, &revoke.server_name, &hello)
        .await
        .map(drop);
    control.reply(revoke.request_id, outcome).await;
}
