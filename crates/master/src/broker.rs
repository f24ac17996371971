//! The broker: answers protocol processes' requests for connections to
//! auth and to the storage process of an owner (DESIGN §3). Requests are
//! small framed messages; nothing is done for an attach before its ticket
//! verifies.

use std::sync::Arc;

use mailkeep_auth::userdb::UserEntry;
use mailkeep_storage_rpc::broker::{
    Acknowledged, AddOwner, AttachStorage, AuthConnected, BrokerError, BrokerReply, BrokerRequest,
    ControlMessage, NewConnection, RefusalCode, SharingOwnersReply, StorageAttached, broker_reply,
    broker_request, control_message,
};
use mailkeep_storage_rpc::framing::{FrameError, recv_frame, send_frame};
use mailkeep_storage_rpc::quiet_stream::QuietStream;
use mailkeep_ticket::Scope;
use tokio::sync::{Mutex as AsyncMutex, Semaphore, watch};
use tokio::task::JoinSet;

use crate::serve::Shared;
use crate::storage_procs::{ControlChannel, PendingAdd, Pick};

/// Requests of one protocol process answered at once; the next is read
/// when one of them is answered (back pressure on a flooding client).
const MAX_REQUESTS_IN_FLIGHT: usize = 32;

/// Who is on the other end of a broker channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    /// A protocol process (or a program on the client socket): its
    /// sessions start and end here.
    Protocol,
    /// The storage gateway, for other hosts' sessions: it gets storage of
    /// owners homed here only (never a relayed connection), no auth, and
    /// the sessions it reports ended are not passed on again.
    Gateway,
}

/// Serves one protocol process's broker channel until it closes. Requests
/// are answered as they complete, each reply carrying its request's id, so
/// a slow one (a store being opened) holds up no other. `role` is the role
/// the master started the process in (`""` for programs on the client
/// socket): auth learns it with every connection made for the process.
pub async fn serve_client(
    shared: Arc<Shared>,
    client_id: u64,
    role: &'static str,
    stream: QuietStream,
) {
    serve(shared, client_id, stream, Caller::Protocol, role).await;
}

/// Serves the storage gateway's broker channel until it closes.
pub async fn serve_gateway(shared: Arc<Shared>, client_id: u64, stream: QuietStream) {
    serve(shared, client_id, stream, Caller::Gateway, "").await;
}

async fn serve(
    shared: Arc<Shared>,
    client_id: u64,
    stream: QuietStream,
    caller: Caller,
    role: &'static str,
) {
    let stream = Arc::new(stream);
    let writing = Arc::new(AsyncMutex::new(()));
    let slots = Arc::new(Semaphore::new(MAX_REQUESTS_IN_FLIGHT));
    let mut answering: JoinSet<bool> = JoinSet::new();
    loop {
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            break;
        };
        let request: BrokerRequest = match recv_frame(&*stream).await {
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
        let (shared, stream, writing) = (
            Arc::clone(&shared),
            Arc::clone(&stream),
            Arc::clone(&writing),
        );
        answering.spawn(async move {
            let _slot = slot;
            let (reply, fd) = answer(&shared, caller, client_id, role, request).await;
            let _writing = writing.lock().await;
            match send_frame(&*stream, &reply, fd.as_ref()).await {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!(client_id, "broker reply: {e}");
                    false
                }
            }
        });
        let mut broken = false;
        while let Some(done) = answering.try_join_next() {
            broken |= !matches!(done, Ok(true));
        }
        if broken {
            break;
        }
    }
    // Nobody reads the replies any more; no answer may record a
    // connection after the client is forgotten.
    answering.abort_all();
    while answering.join_next().await.is_some() {}
    shared.storage.lock().await.forget_client(client_id);
    crate::relay::forget_client(&shared, client_id);
    // Its sessions are over, however it ended: a crash revokes them too.
    crate::revoke::end_sessions_of_client(&shared, client_id).await;
}

/// The reply to one request, and the descriptor that goes with it.
async fn answer(
    shared: &Arc<Shared>,
    caller: Caller,
    client_id: u64,
    role: &'static str,
    request: BrokerRequest,
) -> (BrokerReply, Option<std::os::fd::OwnedFd>) {
    let (kind, fd) = match request.kind {
        Some(broker_request::Kind::ConnectAuth(_)) if caller == Caller::Gateway => (
            error(RefusalCode::Refused, "the gateway gets no auth connection"),
            None,
        ),
        Some(broker_request::Kind::ConnectAuth(_)) => connect_auth(shared, role).await,
        Some(broker_request::Kind::Status(status)) => {
            shared.record_sessions(client_id, status.sessions);
            (broker_reply::Kind::Acknowledged(Acknowledged {}), None)
        }
        Some(broker_request::Kind::AttachStorage(a)) => {
            let answer = attach(shared, caller, client_id, &a).await;
            if caller == Caller::Protocol && !matches!(answer.0, broker_reply::Kind::Error(_)) {
                note_session(shared, client_id, &a.ticket, &a.owner);
            }
            answer
        }
        Some(broker_request::Kind::SharingOwners(asked)) => {
            match verify_live(shared, &asked.ticket) {
                // A delivery to `+shared.<owner>.<folder>` asks too, to
                // tell the owner from the folder as IMAP does.
                Ok(claims) if reaches_others(claims.scope) => {
                    let mut owners = shared.shares.owners_sharing_with(&claims.user);
                    // A protocol process's user may be shared with by
                    // owners on other hosts too; a gateway asks for this
                    // host's owners only (no asking in circles).
                    if caller == Caller::Protocol {
                        owners.extend(
                            crate::relay::sharing_owners_elsewhere(
                                shared,
                                &claims.user,
                                &asked.ticket,
                            )
                            .await,
                        );
                        owners.sort_unstable();
                        owners.dedup();
                    }
                    (
                        broker_reply::Kind::SharingOwners(SharingOwnersReply { owners }),
                        None,
                    )
                }
                Ok(_) => (
                    error(
                        RefusalCode::Refused,
                        "only a session or a delivery has shared mailboxes",
                    ),
                    None,
                ),
                Err(e) => (error(RefusalCode::Unauthenticated, e.to_string()), None),
            }
        }
        Some(broker_request::Kind::EndSession(end)) => {
            // A session another host ended (through the gateway) is told
            // to this host's processes only; one ended here goes to the
            // user's home host too.
            let (by, forward) = match caller {
                Caller::Protocol => (Some(client_id), crate::revoke::Forward::ToHomeHost),
                Caller::Gateway => (None, crate::revoke::Forward::LocalOnly),
            };
            crate::revoke::end_session_of_ticket(shared, by, &end.ticket, forward).await;
            (broker_reply::Kind::Acknowledged(Acknowledged {}), None)
        }
        None => (error(RefusalCode::Invalid, "empty broker request"), None),
    };
    let reply = BrokerReply {
        id: request.id,
        kind: Some(kind),
    };
    (reply, fd)
}

/// Remembers the session of a ticket protocol process `client_id` used
/// to reach `owner`, so that it ends when that process does, and its end
/// reaches the storage processes of every owner it reached.
fn note_session(shared: &Shared, client_id: u64, ticket: &str, owner: &str) {
    if let Ok(claims) = shared.verifier.verify(ticket, mailkeep_ticket::now_unix())
        && claims.scope == Scope::Session
    {
        shared.sessions.seen(
            client_id,
            crate::sessions::KnownSession::of(&claims, ticket),
            owner,
        );
    }
}

/// A refusal reply.
pub(crate) fn error(code: RefusalCode, message: impl Into<String>) -> broker_reply::Kind {
    broker_reply::Kind::Error(BrokerError {
        code: code as i32,
        message: message.into(),
    })
}

/// A reply, and the descriptor that goes with it.
pub(crate) type Answer = (broker_reply::Kind, Option<std::os::fd::OwnedFd>);

async fn connect_auth(shared: &Shared, role: &'static str) -> Answer {
    let Some(control) = shared.auth_control.lock().await.clone() else {
        return (error(RefusalCode::Unavailable, "auth is restarting"), None);
    };
    let (ours, theirs) = match crate::children::passed_pair() {
        Ok(p) => p,
        Err(e) => return (error(RefusalCode::Unavailable, e.to_string()), None),
    };
    let connection_id = shared.next_connection_id();
    let message = ControlMessage {
        kind: Some(control_message::Kind::NewConnection(NewConnection {
            connection_id,
            role: role.to_owned(),
        })),
    };
    let sent = {
        let guard = control.lock().await;
        send_frame(&*guard, &message, Some(&theirs)).await
    };
    if let Err(e) = sent {
        return (
            error(RefusalCode::Unavailable, format!("auth process: {e}")),
            None,
        );
    }
    (broker_reply::Kind::Auth(AuthConnected {}), Some(ours))
}

/// Answers an AttachStorage: a connection to the owner's local storage
/// process, or (for a protocol process) one through the relay to the
/// owner's home host.
async fn attach(shared: &Arc<Shared>, caller: Caller, client_id: u64, a: &AttachStorage) -> Answer {
    let (ticket, owner, held) = (&a.ticket, &a.owner, &a.held_connections);
    match attach_storage(shared, client_id, ticket, owner, held).await {
        Attached::Here(answer) => answer,
        Attached::Elsewhere(gateway) if caller == Caller::Protocol => {
            crate::relay::connect(shared, client_id, ticket, owner, gateway, held).await
        }
        Attached::Elsewhere((address, _)) => (
            error(
                RefusalCode::Refused,
                format!("owner {owner:?} is not homed on this host (see {address})"),
            ),
            None,
        ),
    }
}

/// Whether a ticket of `scope` may reach other owners' storage processes
/// (as a guest, whom they admit by their ACLs) and ask who shares with
/// its user: a session's (IMAP guest access) and a delivery's (posting
/// into a shared mailbox, where the owner granted 'p').
pub(crate) fn reaches_others(scope: Scope) -> bool {
    matches!(scope, Scope::Session | Scope::Deliver)
}

/// What [`attach_storage`] found.
pub(crate) enum Attached {
    /// The answer: a local connection, or a refusal.
    Here(Answer),
    /// The ticket verified for the owner, who lives on another host: the
    /// address and TLS server name of that host's gateway.
    Elsewhere((String, String)),
}

/// Gets `owner` a connection to their storage process on this host, once
/// `ticket` verified for them. The storage table is locked only for short
/// steps, never while a process opens a store: a slow AddOwner holds up
/// only attaches of that same owner.
pub(crate) async fn attach_storage(
    shared: &Arc<Shared>,
    client_id: u64,
    ticket: &str,
    owner: &str,
    held: &[u64],
) -> Attached {
    let refuse = |code: RefusalCode, message: String| Attached::Here((error(code, message), None));
    // Nothing happens before the ticket verifies.
    let claims = match verify_live(shared, ticket) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(client_id, owner, "attach refused: {e}");
            return refuse(RefusalCode::Unauthenticated, e.to_string());
        }
    };
    // A session or deliver ticket may reach another owner's storage
    // process: there the user is a guest, and every call is checked
    // against the owner's ACLs (DESIGN §2); a deliver ticket's user may
    // only post where granted 'p' (a delivery into a shared mailbox).
    // An admin ticket is for its own user only here.
    let guest = claims.user != owner && reaches_others(claims.scope);
    if !guest && let Err(e) = claims.authorize(owner, Scope::Deliver) {
        tracing::warn!(client_id, owner, "attach refused: {e}");
        return refuse(RefusalCode::Refused, e.to_string());
    }
    let entry = match shared.lookup_owner(owner) {
        Ok(entry) => entry,
        Err(refusal) => return refuse(refusal.code, refusal.message),
    };
    match crate::gateway::remote_home(&shared.config, &entry) {
        Ok(None) => {}
        Ok(Some(gateway)) => return Attached::Elsewhere(gateway),
        Err(message) => return refuse(RefusalCode::Refused, message),
    }
    // A process picked may have died a moment ago, before its exit was
    // reaped (a `kill -9`): its channel fails, it leaves the table, and
    // the attach picks again (a new process, if it was the only one).
    let mut attempts = 2;
    loop {
        attempts -= 1;
        let pid = match pick_process(shared, owner, &entry, client_id, held).await {
            Ok(pid) => pid,
            Err(answer) => return Attached::Here(answer),
        };
        if let Err(message) = ensure_owner(shared, pid, owner, &entry).await {
            if attempts > 0 && forget_if_gone(shared, pid).await {
                continue;
            }
            tracing::error!(owner, "adding an owner to a storage process: {message}");
            return refuse(RefusalCode::Unavailable, message);
        }
        let answer = connect(shared, pid, client_id, owner, held).await;
        if is_refusal(&answer) && attempts > 0 && forget_if_gone(shared, pid).await {
            continue;
        }
        return Attached::Here(answer);
    }
}

/// Whether process `pid` is gone: out of the table already, or its
/// control channel ended or lost its peer, when it is taken out (and
/// stopped, should it still run) now.
async fn forget_if_gone(shared: &Shared, pid: u32) -> bool {
    let closed = match shared.storage.lock().await.by_pid_mut(pid) {
        None => return true,
        Some(process) => process.control.is_closed(),
    };
    if !closed {
        return false;
    }
    shared
        .retire_storage(pid, nix::sys::signal::Signal::SIGTERM)
        .await;
    tracing::info!(
        pid,
        "storage process gone before its exit was reaped; picking again"
    );
    true
}

/// Whether `answer` refuses the attach.
fn is_refusal(answer: &Answer) -> bool {
    matches!(answer.0, broker_reply::Kind::Error(_))
}

/// The control channel of a storage process of this host serving
/// `owner` (started if none runs), for work the master asks of it on an
/// administrator's behalf (`mailkeep admin expunge`).
pub(crate) async fn storage_control_for(
    shared: &Arc<Shared>,
    owner: &str,
) -> Result<Arc<crate::storage_procs::ControlChannel>, String> {
    let entry = shared.lookup_owner(owner).map_err(|r| r.message)?;
    if let Ok(Some((address, _))) = crate::gateway::remote_home(&shared.config, &entry) {
        return Err(format!(
            "{owner:?} is homed on another host (gateway {address}); run it there"
        ));
    }
    let client_id = shared.next_connection_id();
    let pid = pick_process(shared, owner, &entry, client_id, &[])
        .await
        .map_err(|(kind, _)| format!("no storage process for {owner:?}: {kind:?}"))?;
    ensure_owner(shared, pid, owner, &entry).await?;
    let mut table = shared.storage.lock().await;
    table
        .by_pid_mut(pid)
        .map(|p| Arc::clone(&p.control))
        .ok_or_else(|| "the storage process vanished".to_owned())
}

/// Verifies `ticket` with the trusted hosts' keys and checks that its
/// session has not ended.
pub(crate) fn verify_live(
    shared: &Shared,
    ticket: &str,
) -> Result<mailkeep_ticket::Claims, mailkeep_ticket::TicketError> {
    let claims = shared
        .verifier
        .verify(ticket, mailkeep_ticket::now_unix())?;
    if shared.sessions.is_revoked(&claims.session) {
        return Err(mailkeep_ticket::TicketError::Revoked);
    }
    Ok(claims)
}

/// The pid of the storage process that should serve `owner`'s new session
/// (one of its key, or a new one).
async fn pick_process(
    shared: &Arc<Shared>,
    owner: &str,
    entry: &UserEntry,
    client_id: u64,
    held: &[u64],
) -> Result<u32, Answer> {
    let key = shared.storage_key(owner, entry);
    let places = crate::serve::owner_places(entry);
    let mut table = shared.storage.lock().await;
    let max_per_key = shared.config.storage.max_processes_per_key;
    match table.pick(&key, owner, client_id, held, max_per_key, &places) {
        Pick::Existing(pid) => Ok(pid),
        Pick::StartNew => {
            if table.count(&key) > 0 {
                tracing::info!(
                    owner,
                    key,
                    "every storage process of this key is busy, or none can reach the owner's \
                     home (started before it was in the users file): starting another"
                );
            }
            match shared.start_storage(owner, entry) {
                Ok(p) => {
                    let pid = p.pid;
                    // Before its first connection: the owner's ended sessions.
                    crate::revoke::tell_owner(shared, owner, &p.control, pid).await;
                    table.insert(key, p);
                    Ok(pid)
                }
                Err(e) => {
                    tracing::error!(owner, "starting storage process: {e}");
                    Err((
                        error(
                            RefusalCode::Unavailable,
                            format!("cannot start storage: {e}"),
                        ),
                        None,
                    ))
                }
            }
        }
    }
}

/// What an attach does about an owner process `pid` does not serve yet.
enum Adding {
    /// Another attach sent AddOwner: wait for its outcome.
    Join(PendingAdd),
    /// Send AddOwner, then tell the others through the sender.
    Send(watch::Sender<Option<Result<(), String>>>, PendingAdd),
}

/// Makes sure process `pid` serves `owner` (per-uid and shared modes add
/// owners as they attach), so the caller's first call is not refused. The
/// first attach of the owner sends AddOwner and waits for the reply with
/// the table unlocked; attaches of the same owner meanwhile wait for that
/// same reply; attaches of other owners go on.
async fn ensure_owner(
    shared: &Arc<Shared>,
    pid: u32,
    owner: &str,
    entry: &UserEntry,
) -> Result<(), String> {
    loop {
        let (adding, control) = {
            let mut table = shared.storage.lock().await;
            let Some(proc_) = table.by_pid_mut(pid) else {
                return Err("storage process vanished".into());
            };
            if proc_.owners.contains(owner) {
                return Ok(());
            }
            let control = Arc::clone(&proc_.control);
            // A pending add whose sender is gone was abandoned: replace it.
            match proc_.adding.get(owner) {
                Some(pending) if pending.has_changed().is_ok() => {
                    (Adding::Join(pending.clone()), control)
                }
                _ => {
                    let (tx, rx) = watch::channel(None);
                    proc_.adding.insert(owner.to_owned(), rx.clone());
                    (Adding::Send(tx, rx), control)
                }
            }
        };
        match adding {
            Adding::Join(mut pending) => {
                let outcome = match pending.wait_for(Option::is_some).await {
                    Ok(outcome) => outcome.clone(),
                    // Abandoned before it was answered: try again.
                    Err(_) => continue,
                };
                return outcome.unwrap_or_else(|| Err("owner add abandoned".into()));
            }
            Adding::Send(tx, mine) => {
                crate::revoke::tell_owner(shared, owner, &control, pid).await;
                let result = match shared.prepare_home(entry) {
                    Ok(home) => {
                        let ids = (entry.uid.unwrap_or(u32::MAX), entry.gid.unwrap_or(u32::MAX));
                        // lookup_owner checked the mail location already.
                        let maildir = entry.maildir().ok().flatten();
                        let location = (home.as_path(), maildir.as_deref());
                        add_owner(shared, &control, owner, location, ids, &entry.extra).await
                    }
                    Err(e) => Err(e.to_string()),
                };
                {
                    let mut table = shared.storage.lock().await;
                    if let Some(proc_) = table.by_pid_mut(pid) {
                        if proc_
                            .adding
                            .get(owner)
                            .is_some_and(|p| p.same_channel(&mine))
                        {
                            proc_.adding.remove(owner);
                        }
                        if result.is_ok() {
                            proc_.owners.insert(owner.to_owned());
                        }
                    }
                }
                let _ = tx.send(Some(result.clone()));
                return result;
            }
        }
    }
}

/// Hands the caller a connection to process `pid` (which serves `owner`
/// now), or tells it to reuse the one it holds.
async fn connect(
    shared: &Arc<Shared>,
    pid: u32,
    client_id: u64,
    owner: &str,
    held: &[u64],
) -> Answer {
    let mut table = shared.storage.lock().await;
    let Some(proc_) = table.by_pid_mut(pid) else {
        return (
            error(RefusalCode::Unavailable, "storage process vanished"),
            None,
        );
    };
    let now = std::time::Instant::now();
    if let Ok(mut policy) = shared.linger.lock() {
        policy.record_attach(owner, now);
    }
    proc_.connections.forget_unheld(client_id, held, now);
    if let Some(connection_id) = proc_.connections.held_by(client_id, held) {
        return (
            broker_reply::Kind::Storage(StorageAttached {
                connection_id,
                reuse: true,
            }),
            None,
        );
    }
    let (ours, theirs) = match crate::children::passed_pair() {
        Ok(p) => p,
        Err(e) => return (error(RefusalCode::Unavailable, e.to_string()), None),
    };
    let connection_id = shared.next_connection_id();
    let control = Arc::clone(&proc_.control);
    proc_.connections.record(client_id, connection_id, now);
    // Busy from now on, before the process itself reports the connection,
    // so that the reaper does not stop it meanwhile.
    proc_.idle_since = None;
    drop(table);
    let message = ControlMessage {
        kind: Some(control_message::Kind::NewConnection(NewConnection {
            connection_id,
            role: String::new(),
        })),
    };
    if let Err(e) = control.send(&message, Some(&theirs)).await {
        shared.storage.lock().await.forget_client(client_id);
        return (
            error(RefusalCode::Unavailable, format!("storage process: {e}")),
            None,
        );
    }
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
    userdb: &[(String, String)],
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
            userdb_fields: userdb.iter().map(|(k, v)| format!("{k}={v}")).collect(),
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

#[cfg(test)]
#[path = "tests/broker.rs"]
mod tests;
