//! The admin socket: a root-only UNIX socket on which `mailkeep admin`
//! asks the master about its processes, tells it of ACL changes made
//! while it runs, and has an owner's storage process expire messages. One framed request and one framed
//! reply per connection; peers that are not root (or the master's own uid,
//! when it runs without root) are refused.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use mailkeep_storage_rpc::broker::{
    AdminReply, AdminRequest, ControlMessage, ExpireMessages, ProcessInfo, admin_request,
    control_message,
};
use mailkeep_storage_rpc::framing::{recv_frame, send_frame};
use tokio::net::{UnixListener, UnixStream};

use crate::MasterError;
use crate::serve::Shared;

/// How long an expiry may run in the owner's storage process.
const EXPIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

/// The admin socket's file name inside the run directory.
pub const ADMIN_SOCKET: &str = "admin.sock";

/// Binds the admin socket at `path` (replacing a stale one), mode 0600.
pub fn bind(path: &Path) -> Result<UnixListener, MasterError> {
    if path.exists() {
        std::fs::remove_file(path)
            .map_err(|e| MasterError::io(format!("removing stale {}", path.display()), e))?;
    }
    let listener = UnixListener::bind(path)
        .map_err(|e| MasterError::io(format!("binding admin socket {}", path.display()), e))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| MasterError::io(format!("chmod {}", path.display()), e))?;
    Ok(listener)
}

/// Answers admin requests until the master stops.
pub async fn serve(shared: Arc<Shared>, listener: UnixListener) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            if let Err(e) = answer(&shared, stream).await {
                tracing::warn!("admin request: {e}");
            }
        });
    }
}

async fn answer(shared: &Arc<Shared>, stream: UnixStream) -> Result<(), String> {
    let peer = stream.peer_cred().map_err(|e| e.to_string())?;
    let own_uid = nix::unistd::Uid::effective().as_raw();
    if peer.uid() != 0 && peer.uid() != own_uid {
        let reply = AdminReply {
            error: "the admin socket is for root only".into(),
            ..AdminReply::default()
        };
        return send_frame(&stream, &reply, None)
            .await
            .map_err(|e| e.to_string());
    }
    let (request, _fd): (AdminRequest, _) = recv_frame(&stream).await.map_err(|e| e.to_string())?;
    let reply = match request.kind {
        Some(admin_request::Kind::ListProcesses(_)) => AdminReply {
            processes: list_processes(shared).await,
            ..AdminReply::default()
        },
        Some(admin_request::Kind::Shares(reported)) => {
            shared.shares_changed(&reported.owner, reported.grantees);
            AdminReply::default()
        }
        Some(admin_request::Kind::Expire(asked)) => expire(shared, asked).await,
        None => AdminReply {
            error: "empty admin request".into(),
            ..AdminReply::default()
        },
    };
    send_frame(&stream, &reply, None)
        .await
        .map_err(|e| e.to_string())
}

/// `mailkeep admin expunge`: done by the owner's storage process (started
/// if none runs), as the owner; the master only passes it on.
async fn expire(shared: &Arc<Shared>, mut asked: ExpireMessages) -> AdminReply {
    let control = match crate::broker::storage_control_for(shared, &asked.owner).await {
        Ok(control) => control,
        Err(error) => {
            return AdminReply {
                error,
                ..AdminReply::default()
            };
        }
    };
    asked.request_id = shared.next_connection_id();
    let (request_id, owner) = (asked.request_id, asked.owner.clone());
    let message = ControlMessage {
        kind: Some(control_message::Kind::Expire(asked)),
    };
    match control.request(request_id, &message, EXPIRE_TIMEOUT).await {
        Ok(reply) if reply.error.is_empty() => {
            tracing::info!(%owner, count = reply.count, "admin expunge done by the owner's storage process");
            AdminReply {
                count: reply.count,
                ..AdminReply::default()
            }
        }
        Ok(reply) => AdminReply {
            error: reply.error,
            ..AdminReply::default()
        },
        Err(error) => AdminReply {
            error,
            ..AdminReply::default()
        },
    }
}

/// Every process: the master, its supervised children, and the storage
/// processes with their load and linger state.
async fn list_processes(shared: &Shared) -> Vec<ProcessInfo> {
    let now = Instant::now();
    let mut out = vec![ProcessInfo {
        role: "master".into(),
        pid: std::process::id(),
        uid: nix::unistd::Uid::effective().as_raw(),
        idle_secs: -1.0,
        linger_left_secs: -1.0,
        uptime_secs: now.saturating_duration_since(shared.started).as_secs_f64(),
        ..Default::default()
    }];
    let table = shared.storage.lock().await;
    let policy = match shared.linger.lock() {
        Ok(p) => p,
        Err(poisoned) => poisoned.into_inner(),
    };
    for child in shared.live_children() {
        let mut info = ProcessInfo {
            role: child.role.to_owned(),
            pid: child.pid,
            uid: child.uid,
            idle_secs: -1.0,
            linger_left_secs: -1.0,
            uptime_secs: now.saturating_duration_since(child.started).as_secs_f64(),
            sessions: child.sessions,
            ..Default::default()
        };
        if let Some((key, p)) = table.iter_keyed().find(|(_, p)| p.pid == child.pid) {
            info.key = key.to_owned();
            let mut owners: Vec<String> = p.owners.iter().cloned().collect();
            owners.sort();
            info.owners = owners;
            info.connections = p.open_connections;
            info.in_flight = p.in_flight;
            info.busy = p.busy;
            if let Some(since) = p.idle_since {
                let idle = now.saturating_duration_since(since);
                let linger = policy.after_close_for_all(p.owners.iter());
                info.idle_secs = idle.as_secs_f64();
                info.linger_left_secs = linger.saturating_sub(idle).as_secs_f64();
            }
        }
        out.push(info);
    }
    out.sort_by_key(|p| (role_rank(&p.role), p.pid));
    out
}

fn role_rank(role: &str) -> u8 {
    match role {
        "master" => 0,
        "auth" => 1,
        "imap" | "pop3" => 2,
        _ => 3,
    }
}
