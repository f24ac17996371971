//! The broker: answers protocol processes' requests for connections to
//! auth and to the storage process of an owner (DESIGN §3). Requests are
//! small framed messages; nothing is done for an attach before its ticket
//! verifies.

use std::sync::Arc;

use mailkeep_storage_rpc::broker::{
    Acknowledged, AddOwner, AuthConnected, BrokerError, BrokerReply, BrokerRequest, ControlMessage,
    NewConnection, RefusalCode, StorageAttached, broker_reply, broker_request, control_message,
};
use mailkeep_storage_rpc::framing::{FrameError, recv_frame, send_frame};
use mailkeep_ticket::Scope;
use tokio::net::UnixStream;

use crate::serve::Shared;
use crate::storage_procs::{ControlChannel, Pick};

/// Serves one protocol process's broker channel until it closes.
pub async fn serve_client(shared: Arc<Shared>, client_id: u64, stream: UnixStream) {
    loop {
        let request: BrokerRequest = match recv_frame(&stream).await {
            Ok((request, None)) => request,
            Ok((_, Some(_))) => {
                tracing::warn!(
                    client_id,
                    "broker request came with a descriptor; closing channel"
                );
                break;
            }
            Err(FrameError::Closed) => break,
            Err(e) => {
                tracing::warn!(client_id, "broker channel: {e}; closing it");
                break;
            }
        };
        let id = request.id;
        let (kind, fd) = match request.kind {
            Some(broker_request::Kind::ConnectAuth(_)) => connect_auth(&shared).await,
            Some(broker_request::Kind::Status(status)) => {
                shared.record_sessions(client_id, status.sessions);
                (broker_reply::Kind::Acknowledged(Acknowledged {}), None)
            }
            Some(broker_request::Kind::AttachStorage(a)) => {
                attach_storage(&shared, client_id, &a.ticket, &a.owner, &a.held_connections).await
            }
            None => (error(RefusalCode::Invalid, "empty broker request"), None),
        };
        let reply = BrokerReply {
            id,
            kind: Some(kind),
        };
        if let Err(e) = send_frame(&stream, &reply, fd.as_ref()).await {
            tracing::warn!(client_id, "broker reply: {e}");
            break;
        }
    }
    shared.storage.lock().await.forget_client(client_id);
}

fn error(code: RefusalCode, message: impl Into<String>) -> broker_reply::Kind {
    broker_reply::Kind::Error(BrokerError {
        code: code as i32,
        message: message.into(),
    })
}

type Answer = (broker_reply::Kind, Option<std::os::fd::OwnedFd>);

async fn connect_auth(shared: &Shared) -> Answer {
    let Some(control) = shared.auth_control.lock().await.clone() else {
        return (error(RefusalCode::Unavailable, "auth is restarting"), None);
    };
    let (ours, theirs) = match crate::children::socket_pair() {
        Ok(p) => p,
        Err(e) => return (error(RefusalCode::Unavailable, e.to_string()), None),
    };
    let connection_id = shared.next_connection_id();
    let message = ControlMessage {
        kind: Some(control_message::Kind::NewConnection(NewConnection {
            connection_id,
        })),
    };
    let sent = {
        let guard = control.lock().await;
        send_frame(&guard, &message, Some(&theirs)).await
    };
    if let Err(e) = sent {
        return (
            error(RefusalCode::Unavailable, format!("auth process: {e}")),
            None,
        );
    }
    let ours = match ours.into_std().map(std::os::fd::OwnedFd::from) {
        Ok(fd) => fd,
        Err(e) => return (error(RefusalCode::Unavailable, e.to_string()), None),
    };
    (broker_reply::Kind::Auth(AuthConnected {}), Some(ours))
}

/// Gets `owner` a connection to their storage process (also used by the
/// storage gateway for connections from other hosts).
pub(crate) async fn attach_storage(
    shared: &Arc<Shared>,
    client_id: u64,
    ticket: &str,
    owner: &str,
    held: &[u64],
) -> Answer {
    // Nothing happens before the ticket verifies.
    let claims = match mailkeep_ticket::verify(&shared.key, ticket, mailkeep_ticket::now_unix()) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(client_id, owner, "attach refused: {e}");
            return (error(RefusalCode::Unauthenticated, e.to_string()), None);
        }
    };
    if let Err(e) = claims.authorize(owner, Scope::Deliver) {
        tracing::warn!(client_id, owner, "attach refused: {e}");
        return (error(RefusalCode::Refused, e.to_string()), None);
    }
    let entry = match shared.lookup_owner(owner) {
        Ok(entry) => entry,
        Err(refusal) => return (error(refusal.code, refusal.message), None),
    };
    // Homed on another host: the caller connects to that host's gateway.
    match crate::gateway::remote_home(&shared.config, &entry) {
        Ok(None) => {}
        Ok(Some((address, server_name))) => {
            let remote = mailkeep_storage_rpc::broker::StorageRemote {
                address,
                server_name,
            };
            return (broker_reply::Kind::Remote(remote), None);
        }
        Err(message) => return (error(RefusalCode::Refused, message), None),
    }
    let key = shared.storage_key(owner, &entry);
    let mut table = shared.storage.lock().await;
    let max_per_key = shared.config.storage.max_processes_per_key;
    let pid = match table.pick(&key, client_id, held, max_per_key) {
        Pick::Existing(pid) => pid,
        Pick::StartNew => {
            if table.count(&key) > 0 {
                tracing::info!(
                    owner,
                    key,
                    "every storage process of this key is busy: starting another"
                );
            }
            match shared.start_storage(owner, &entry) {
                Ok(p) => {
                    let pid = p.pid;
                    table.insert(key.clone(), p);
                    pid
                }
                Err(e) => {
                    tracing::error!(owner, "starting storage process: {e}");
                    return (
                        error(
                            RefusalCode::Unavailable,
                            format!("cannot start storage: {e}"),
                        ),
                        None,
                    );
                }
            }
        }
    };
    let Some(proc_) = table.by_pid_mut(pid) else {
        return (
            error(RefusalCode::Unavailable, "storage process vanished"),
            None,
        );
    };
    if !proc_.owners.contains(owner) {
        // per-uid: this process serves the owner's uid but not the owner
        // yet. Tell it, and wait until it serves them, so the caller's
        // first call is not refused.
        let home = match shared.prepare_home(&entry) {
            Ok(home) => home,
            Err(e) => return (error(RefusalCode::Unavailable, e.to_string()), None),
        };
        let control = Arc::clone(&proc_.control);
        let ids = (entry.uid.unwrap_or(u32::MAX), entry.gid.unwrap_or(u32::MAX));
        // lookup_owner checked the mail location already.
        let maildir = entry.maildir().ok().flatten();
        if let Err(message) =
            add_owner(shared, &control, owner, (&home, maildir.as_deref()), ids).await
        {
            tracing::error!(owner, "adding an owner to a storage process: {message}");
            return (error(RefusalCode::Unavailable, message), None);
        }
        proc_.owners.insert(owner.to_owned());
    }
    if let Ok(mut policy) = shared.linger.lock() {
        policy.record_attach(owner, std::time::Instant::now());
    }
    if let Some(&connection_id) = proc_.connections.get(&client_id)
        && held.contains(&connection_id)
    {
        return (
            broker_reply::Kind::Storage(StorageAttached {
                connection_id,
                reuse: true,
            }),
            None,
        );
    }
    let (ours, theirs) = match crate::children::socket_pair() {
        Ok(p) => p,
        Err(e) => return (error(RefusalCode::Unavailable, e.to_string()), None),
    };
    let connection_id = shared.next_connection_id();
    let control = Arc::clone(&proc_.control);
    proc_.connections.insert(client_id, connection_id);
    // Busy from now on, before the process itself reports the connection,
    // so that the reaper does not stop it meanwhile.
    proc_.idle_since = None;
    drop(table);
    let message = ControlMessage {
        kind: Some(control_message::Kind::NewConnection(NewConnection {
            connection_id,
        })),
    };
    if let Err(e) = control.send(&message, Some(&theirs)).await {
        shared.storage.lock().await.forget_client(client_id);
        return (
            error(RefusalCode::Unavailable, format!("storage process: {e}")),
            None,
        );
    }
    let ours = match ours.into_std().map(std::os::fd::OwnedFd::from) {
        Ok(fd) => fd,
        Err(e) => return (error(RefusalCode::Unavailable, e.to_string()), None),
    };
    (
        broker_reply::Kind::Storage(StorageAttached {
            connection_id,
            reuse: false,
        }),
        Some(ours),
    )
}

/// Sends `AddOwner` on a storage process's control channel and waits for
/// its reply.
async fn add_owner(
    shared: &Shared,
    control: &ControlChannel,
    owner: &str,
    (home, maildir): (&std::path::Path, Option<&std::path::Path>),
    (uid, gid): (u32, u32),
) -> Result<(), String> {
    let request_id = shared.next_connection_id();
    let message = ControlMessage {
        kind: Some(control_message::Kind::AddOwner(AddOwner {
            request_id,
            owner: owner.to_owned(),
            home: home.display().to_string(),
            uid,
            gid,
            maildir: maildir.map(|m| m.display().to_string()).unwrap_or_default(),
        })),
    };
    let reply = control
        .request(request_id, &message, std::time::Duration::from_secs(30))
        .await?;
    if reply.error.is_empty() {
        Ok(())
    } else {
        Err(reply.error)
    }
}
