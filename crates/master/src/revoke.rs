//! Ending sessions everywhere (DESIGN §2): when a session ends (the
//! protocol process says so, or the process is gone) the master records
//! it and tells auth (no more renewals), the storage processes that serve
//! its user (no more calls) and, for a user homed on another host, that
//! host's gateway (which does the same there).

use std::collections::HashMap;
use std::sync::Arc;

use mailkeep_storage_rpc::broker::{ControlMessage, Revoke, RevokedSession, control_message};
use mailkeep_storage_rpc::framing::{MAX_FRAME, send_frame};
use mailkeep_ticket::{Scope, now_unix};

use crate::serve::Shared;
use crate::sessions::KnownSession;

/// Whether ended sessions are passed on to the hosts their users live on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Forward {
    /// Ended here: tell the user's home host too.
    ToHomeHost,
    /// Reported by another host: only this host's processes.
    LocalOnly,
}

/// How long a storage process may take to confirm a revocation.
const REVOKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

fn revoke_message(sessions: Vec<RevokedSession>) -> ControlMessage {
    ControlMessage {
        kind: Some(control_message::Kind::Revoke(Revoke {
            sessions,
            request_id: 0,
        })),
    }
}

/// The bytes one message's list may take: a frame's limit less room for
/// the message's other fields.
const LIST_ROOM: usize = MAX_FRAME - 1024;

/// `items` in order, cut into lists that each fit one frame, by each
/// item's encoded `size`: thousands of sessions ended at once (a
/// protocol process with many clients gone, a day of pollers' sessions
/// told to an auth that restarts) would not fit one, and a message over
/// the limit is refused whole, leaving every session of it working.
pub(crate) fn in_frames<T>(items: Vec<T>, size: impl Fn(&T) -> usize) -> Vec<Vec<T>> {
    let mut lists = Vec::new();
    let mut list = Vec::new();
    let mut bytes = 0;
    for item in items {
        // The field's tag and length prefix besides the item.
        let len = size(&item) + 6;
        if !list.is_empty() && bytes + len > LIST_ROOM {
            lists.push(std::mem::take(&mut list));
            bytes = 0;
        }
        bytes += len;
        list.push(item);
    }
    if !list.is_empty() {
        lists.push(list);
    }
    lists
}

/// `sessions` as Revoke messages that each fit one frame (none for none).
fn revoke_messages(sessions: Vec<RevokedSession>) -> Vec<ControlMessage> {
    in_frames(sessions, prost::Message::encoded_len)
        .into_iter()
        .map(revoke_message)
        .collect()
}

/// Ends the session of `ticket` shown by protocol process `client_id`
/// (or by another host, `None`): a ticket that no longer verifies has no
/// session left to end.
pub(crate) async fn end_session_of_ticket(
    shared: &Arc<Shared>,
    client_id: Option<u64>,
    ticket: &str,
    forward: Forward,
) {
    let claims = match shared.verifier.verify(ticket, now_unix()) {
        Ok(claims) if claims.scope == Scope::Session => claims,
        _ => return,
    };
    let known = KnownSession::of(&claims, ticket);
    if let Some(ended) = shared.sessions.end(client_id, &known, now_unix()) {
        // At debug: the protocol process logs each session's end, and a
        // revocation that fails is a warning of its own below.
        tracing::debug!(user = %ended.user, session = %ended.session, "session ended; its tickets are revoked");
        pass_on(shared, vec![ended], forward).await;
    }
}

/// Ends every session protocol process `client_id` used (it is gone).
pub(crate) async fn end_sessions_of_client(shared: &Arc<Shared>, client_id: u64) {
    let ended = shared.sessions.client_gone(client_id, now_unix());
    if !ended.is_empty() {
        tracing::info!(
            client_id,
            count = ended.len(),
            "protocol process gone; its sessions are revoked"
        );
        pass_on(shared, ended, Forward::ToHomeHost).await;
    }
}

/// Tells auth, the storage processes of the sessions' users and (with
/// [`Forward::ToHomeHost`]) the users' home hosts.
async fn pass_on(shared: &Arc<Shared>, ended: Vec<KnownSession>, forward: Forward) {
    let targets: Vec<_> = {
        let table = shared.storage.lock().await;
        table
            .iter()
            .filter_map(|p| {
                let theirs: Vec<RevokedSession> = ended
                    .iter()
                    .filter(|known| {
                        // Looked up by the session's owners, not by each of
                        // the process's (thousands in per-uid mode).
                        known.owners().any(|owner| p.serves(owner))
                    })
                    .map(KnownSession::to_wire)
                    .collect();
                (!theirs.is_empty()).then(|| (p.pid, Arc::clone(&p.control), theirs))
            })
            .collect()
    };
    // Each storage process answers once it refuses the sessions: a LOGOUT
    // is acknowledged only after its tickets stopped working there.
    let tell_storage = async {
        let mut told = tokio::task::JoinSet::new();
        let alone = targets.len() == 1;
        for (pid, control, theirs) in targets {
            let messages: Vec<(u64, ControlMessage)> = revoke_messages(theirs)
                .into_iter()
                .map(|mut message| {
                    let request_id = shared.next_connection_id();
                    if let Some(control_message::Kind::Revoke(revoke)) = &mut message.kind {
                        revoke.request_id = request_id;
                    }
                    (request_id, message)
                })
                .collect();
            let tell = async move {
                for (request_id, message) in messages {
                    if let Err(e) = control.request(request_id, &message, REVOKE_TIMEOUT).await {
                        tracing::warn!(pid, "telling a storage process of ended sessions: {e}");
                    }
                }
            };
            // One process (a LOGOUT's usual case) is waited for here: a
            // task of its own would add a hand-over to the LOGOUT's answer.
            if alone {
                tell.await;
            } else {
                told.spawn(tell);
            }
        }
        while told.join_next().await.is_some() {}
    };
    // Auth refuses their renewals; told while the storage processes'
    // answers are awaited (polled second: the request that is waited for
    // goes out first).
    let tell_auth = async {
        let wire: Vec<RevokedSession> = ended.iter().map(KnownSession::to_wire).collect();
        let auth = shared.auth_control.lock().await.clone();
        if let Some(control) = auth {
            let guard = control.lock().await;
            for message in revoke_messages(wire) {
                if let Err(e) = send_frame(&*guard, &message, None).await {
                    tracing::warn!("telling auth of ended sessions: {e}");
                }
            }
        }
    };
    tokio::join!(tell_storage, tell_auth);
    if forward == Forward::ToHomeHost {
        forward_to_home_hosts(shared, ended);
    }
}

/// Sends each ended session whose user lives on another host to that
/// host's gateway through the relay, in the background (a slow peer holds
/// up nothing here).
fn forward_to_home_hosts(shared: &Arc<Shared>, ended: Vec<KnownSession>) {
    if shared.config.cluster.hosts.is_empty() {
        return;
    }
    let mut by_host: HashMap<(String, String), Vec<String>> = HashMap::new();
    for known in ended {
        let Ok(entry) = shared.lookup_owner(&known.user) else {
            continue;
        };
        if let Ok(Some(gateway)) = crate::gateway::remote_home(&shared.config, &entry) {
            by_host
                .entry(gateway)
                .or_default()
                .push(known.ticket.to_string());
        }
    }
    for (gateway, tickets) in by_host {
        crate::relay::revoke(shared, gateway, tickets);
    }
}

/// Tells storage process `pid` (on `control`) of the ended sessions of
/// `owner`, before it serves them; a failure is logged (the process's
/// channel is then gone, and so is the process).
pub(crate) async fn tell_owner(
    shared: &Shared,
    owner: &str,
    control: &crate::storage_procs::ControlChannel,
    pid: u32,
) {
    for message in revoke_messages(shared.sessions.revoked_of(owner)) {
        if let Err(e) = control.send(&message, None).await {
            tracing::warn!(pid, "telling a storage process of ended sessions: {e}");
        }
    }
}

/// Every ended session, as messages for an auth process that starts.
pub(crate) fn revoked_for_auth(shared: &Shared) -> Vec<ControlMessage> {
    revoke_messages(shared.sessions.revoked_all())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Five thousand ended sessions (over 200 KB) go as several Revoke
    /// messages, each within a frame, with every session once, in order.
    #[test]
    fn many_ended_sessions_are_told_in_messages_that_each_fit_a_frame() {
        let sessions: Vec<RevokedSession> = (0..5_000u32)
            .map(|i| RevokedSession {
                session: i.to_be_bytes().repeat(4),
                until_unix: 2_000_000_000,
                user: format!("user-number-{i}"),
            })
            .collect();
        let messages = revoke_messages(sessions.clone());
        assert!(messages.len() > 1, "{} message(s)", messages.len());
        let mut told = Vec::new();
        for message in messages {
            let len = prost::Message::encoded_len(&message);
            assert!(len <= MAX_FRAME, "a message of {len} bytes");
            match message.kind {
                Some(control_message::Kind::Revoke(revoke)) => told.extend(revoke.sessions),
                other => panic!("not a Revoke: {other:?}"),
            }
        }
        assert_eq!(told, sessions);
        assert!(revoke_messages(Vec::new()).is_empty());
    }
}
