//! Append: for each message an AppendHeader, then its chunks, written to
//! the store's [`AppendWriter`](mailkeep_store::AppendWriter) on a blocking
//! thread. The first [`GATHER`] bytes are gathered here before that thread
//! starts, so a small append (a delivery, most APPENDs) is handed over
//! once, whole, instead of waking the thread for every part; a bigger one
//! then streams as it arrives (a bounded channel keeps memory bounded; no
//! big message is buffered whole). Several messages (MULTIAPPEND) wait fsynced
//! in `tmp/` and are committed together at the stream's AppendCommit, with
//! the message a REPLACE names expunged in the same transaction; the reply
//! comes after that commit. A stream that ends without AppendCommit (the
//! client gave up, or went away mid-stream), or a message that fails,
//! drops every writer and staged message, which removes their temporary
//! files: none of the batch is kept. The explicit commit matters because a
//! stream can end cleanly without the client meaning it to.

use mailkeep_storage_rpc::errors::{self, ErrorReason};
use mailkeep_storage_rpc::metadata::ticket_of;
use mailkeep_storage_rpc::storage as pb;
use mailkeep_storage_rpc::storage::append_request::Part;
use mailkeep_store::{
    AppendWriter, AppendedBatch, Flags, InternalDate, ReplaceTarget, StagedMessage, Store,
    StoreError,
};
use mailkeep_ticket::Scope;
use tokio::sync::mpsc;
use tonic::{Request, Response, Status, Streaming};

use crate::convert::{invalid, server_bug, status_of};
use crate::gate::Gate;
use crate::guest::{Actor, GuestNeed, flag_rights};
use mailkeep_store::Rights;

/// Chunks that may wait for the disk.
const QUEUE: usize = 4;

/// Bytes of chunks gathered before the store thread starts: every part of
/// an append up to this size goes over in one hand-over (each hand-over
/// is a thread wakeup, a good part of a small delivery's cost).
const GATHER: usize = 256 * 1024;

/// Most messages one Append call may carry.
pub(crate) const MAX_MESSAGES: usize = 10_000;

/// What one AppendHeader asks for, checked.
pub(crate) struct MessageStart {
    flags: Flags,
    date: Option<InternalDate>,
    /// `None`: announced as unknown (CATENATE).
    size: Option<u64>,
    /// The batch claims the recent messages (the first header's
    /// `claim_recent`; further headers' is not read).
    claim_recent: bool,
}

/// What the receiving side hands the writer thread.
pub(crate) enum Piece {
    Start(MessageStart),
    Chunk(Vec<u8>),
    Commit,
}

/// What a message's start counts for in [`GATHER`] beside its keywords:
/// a MULTIAPPEND of many empty messages is gathered no further than one
/// of few big ones.
const START_SIZE: usize = 256;

impl Piece {
    /// The bytes this piece counts for while gathered.
    fn gathered_size(&self) -> usize {
        match self {
            Piece::Start(start) => {
                START_SIZE + start.flags.keywords.iter().map(String::len).sum::<usize>()
            }
            Piece::Chunk(chunk) => chunk.len(),
            Piece::Commit => 0,
        }
    }
}

/// The checked start of a message from its header.
fn message_start(header: &pb::AppendHeader) -> Result<MessageStart, Status> {
    Ok(MessageStart {
        flags: Flags::parse(&header.flags).map_err(status_of)?,
        date: (header.internal_date != 0).then_some(InternalDate {
            secs: header.internal_date,
            offset_minutes: header.internal_date_offset_minutes,
        }),
        size: (!header.size_unknown).then_some(header.size),
        claim_recent: false,
    })
}

/// Serves one Append call.
pub(crate) async fn append(
    gate: &Gate,
    request: Request<Streaming<pb::AppendRequest>>,
) -> Result<Response<pb::AppendResponse>, Status> {
    let ticket = ticket_of(&request).map(str::to_owned);
    let mut stream = request.into_inner();
    let header = match stream.message().await? {
        Some(pb::AppendRequest {
            part: Some(Part::Header(h)),
        }) => h,
        _ => {
            return Err(invalid("the first Append message must be the AppendHeader"));
        }
    };
    // Delivery tickets may add messages; only a session may expunge one,
    // or claim recent messages (as only it may ask ClaimRecent).
    let need = if header.replace.is_some() || header.claim_recent {
        Scope::Session
    } else {
        Scope::Deliver
    };
    let (store, actor) = gate.admit_actor(ticket.as_deref(), &header.owner, need, "Append")?;
    let by_owner = matches!(actor, Actor::Owner);
    if let Some(guest_need) = guest_need(&actor, &header) {
        gate.check_guest(&header.owner, &store, &actor, "Append", guest_need)
            .await?;
    }
    let first = MessageStart {
        claim_recent: header.claim_recent,
        ..message_start(&header)?
    };
    let replace = header.replace.as_ref().map(|r| ReplaceTarget {
        mailbox: r.mailbox.clone(),
        uidvalidity: r.uidvalidity,
        uid: r.uid,
    });
    let (owner, mailbox) = (header.owner, header.mailbox);
    let (done_tx, writer) = tokio::sync::oneshot::channel();
    let launch = {
        let (owner, mailbox, plugins) = (owner.clone(), mailbox.clone(), gate.plugins());
        let guest = actor.guest().map(str::to_owned);
        move |pieces: Vec<Piece>, rx: Option<mpsc::Receiver<Piece>>| {
            if rx.is_none() && replace.is_none() {
                // Whole, and no REPLACE: committed with the others that
                // wait (see `crate::committer`).
                return crate::committer::enqueue(
                    gate,
                    crate::committer::Whole {
                        store,
                        owner,
                        mailbox,
                        plugins,
                        guest,
                        pieces,
                        done: done_tx,
                    },
                );
            }
            gate.spawn(&owner.clone(), move || {
                let target = Target {
                    owner: &owner,
                    mailbox: &mailbox,
                    plugins: &plugins,
                    guest: guest.as_deref(),
                };
                let _ = done_tx.send(write_batch(&store, target, replace.as_ref(), pieces, rx));
            })
        }
    };
    let replacing = header.replace.is_some();
    // A guest's further messages may set only flags whose rights the first
    // header's check covered.
    let flags_checked = match actor {
        Actor::Owner => None,
        Actor::Guest(_) | Actor::Deliverer(_) => Some(flag_rights(&header.flags, false)),
    };
    let mut feed = Feed::Gathering {
        pieces: Vec::new(),
        bytes: 0,
        launch: Some(Box::new(launch)),
    };
    let outcome = receive(
        &mut stream,
        &mut feed,
        first,
        (&owner, &mailbox),
        (replacing, flags_checked),
    )
    .await;
    let launched = feed.launched();
    drop(feed);
    let written = match (launched, outcome) {
        (Err(status), _) => return Err(status),
        // Nothing was handed to the store: nothing was written.
        (Ok(false), Err(status)) => return Err(status),
        (Ok(false), Ok(())) => return Err(server_bug("append ended without a commit")),
        (Ok(true), outcome) => (
            outcome,
            writer.await.map_err(|_| server_bug("append task failed"))?,
        ),
    };
    match written {
        (_, Err(e)) => Err(status_of(e)),
        (Err(status), Ok(_)) => Err(status),
        (Ok(()), Ok(Some(batch))) => {
            announce(gate, &owner, &mailbox, &batch, by_owner);
            Ok(Response::new(pb::AppendResponse {
                uidvalidity: batch.uidvalidity,
                uid: batch.uids.first().copied().unwrap_or(0),
                modseq: batch.modseq,
                replaced_highestmodseq: batch.replaced.as_ref().map_or(0, |r| r.highestmodseq),
                first_recent_uid: batch.first_recent.unwrap_or(0),
                uids: batch.uids,
            }))
        }
        (Ok(()), Ok(None)) => Err(server_bug("append ended without a commit")),
    }
}

/// Starts the store thread with the pieces gathered so far and, when more
/// are to come, the channel that brings them.
type Launch<'a> =
    Box<dyn FnOnce(Vec<Piece>, Option<mpsc::Receiver<Piece>>) -> Result<(), Status> + Send + 'a>;

/// How the pieces of an Append reach the store thread: gathered here up
/// to [`GATHER`] bytes (the thread does not run yet), then, if the append
/// is bigger, streamed over a bounded channel.
enum Feed<'a> {
    /// The thread does not run yet; `launch` starts it.
    Gathering {
        pieces: Vec<Piece>,
        bytes: usize,
        launch: Option<Launch<'a>>,
    },
    /// The thread runs and takes further pieces from this channel.
    Streaming(mpsc::Sender<Piece>),
    /// The thread runs and takes nothing more: it had the commit, or it
    /// stopped on an error (which it reports).
    Closed,
    /// Starting the thread failed.
    Failed(Status),
}

impl Feed<'_> {
    /// Passes `piece` on; false once the store thread takes no more (it
    /// stopped on an error, or had the commit).
    async fn send(&mut self, piece: Piece) -> bool {
        match self {
            Feed::Gathering {
                pieces,
                bytes,
                launch,
            } => {
                let commit = matches!(piece, Piece::Commit);
                *bytes += piece.gathered_size();
                pieces.push(piece);
                if !commit && *bytes <= GATHER {
                    return true;
                }
                let (pieces, launch) = (std::mem::take(pieces), launch.take());
                let Some(launch) = launch else {
                    *self = Feed::Failed(server_bug("append started twice"));
                    return false;
                };
                if commit {
                    // All of it: the thread needs no channel.
                    *self = match launch(pieces, None) {
                        Ok(()) => Feed::Closed,
                        Err(status) => Feed::Failed(status),
                    };
                    return false;
                }
                let (tx, rx) = mpsc::channel::<Piece>(QUEUE);
                *self = match launch(pieces, Some(rx)) {
                    Ok(()) => Feed::Streaming(tx),
                    Err(status) => Feed::Failed(status),
                };
                matches!(self, Feed::Streaming(_))
            }
            Feed::Streaming(tx) => tx.send(piece).await.is_ok(),
            Feed::Closed | Feed::Failed(_) => false,
        }
    }

    /// Whether the store thread was started (`Ok(false)`: the pieces
    /// never got as far, so nothing was written), or why starting it
    /// failed.
    fn launched(&mut self) -> Result<bool, Status> {
        match std::mem::replace(self, Feed::Closed) {
            Feed::Gathering { .. } => Ok(false),
            Feed::Streaming(_) | Feed::Closed => Ok(true),
            Feed::Failed(status) => Err(status),
        }
    }
}

/// What a guest needs of the owner's ACLs for the Append `header` starts
/// (`None` for the owner): 'i' (insert) for a session's APPEND, 'p' (post)
/// for a delivery by another user's deliver ticket (see [`crate::guest`]),
/// and the rights of the flags it sets; a REPLACE also needs to expunge
/// the replaced message, and is no delivery; claiming recent messages
/// needs 'r', as ClaimRecent does, and is no delivery either.
fn guest_need(actor: &Actor, header: &pb::AppendHeader) -> Option<GuestNeed> {
    let adding = match actor {
        Actor::Owner => return None,
        Actor::Guest(_) if header.claim_recent => Rights::INSERT.union(Rights::READ),
        Actor::Guest(_) => Rights::INSERT,
        Actor::Deliverer(_) if header.replace.is_some() || header.claim_recent => {
            return Some(GuestNeed::OwnerOnly);
        }
        Actor::Deliverer(_) => Rights::POST,
    };
    let rights = adding.union(flag_rights(&header.flags, false));
    Some(match &header.replace {
        None => GuestNeed::Mailbox(header.mailbox.clone(), rights),
        Some(replaced) => GuestNeed::Both(
            (header.mailbox.clone(), rights),
            (
                replaced.mailbox.clone(),
                Rights::DELETE_MESSAGES.union(Rights::EXPUNGE),
            ),
        ),
    })
}

/// Passes the stream's messages to the writer: `first` (from the header
/// already read), then chunks and further headers, then the commit. A
/// stream that breaks or ends without AppendCommit, or a bad header, stops
/// without a commit; so does a second message when `replacing` (REPLACE
/// takes one), and, for a guest (`flags_checked` is the rights its first
/// header was checked for), a further message whose flags need more.
async fn receive(
    stream: &mut Streaming<pb::AppendRequest>,
    feed: &mut Feed<'_>,
    first: MessageStart,
    (owner, mailbox): (&str, &str),
    (replacing, flags_checked): (bool, Option<Rights>),
) -> Result<(), Status> {
    if !feed.send(Piece::Start(first)).await {
        // The writer stopped on an error; it is reported by the caller.
        return Ok(());
    }
    let mut messages = 1;
    loop {
        let piece = match stream.message().await {
            Ok(Some(pb::AppendRequest {
                part: Some(Part::Chunk(c)),
            })) => Piece::Chunk(c),
            Ok(Some(pb::AppendRequest {
                part: Some(Part::Header(h)),
            })) => {
                // MULTIAPPEND: every message goes to the first one's mailbox.
                let same = |given: &str, first: &str| given.is_empty() || given == first;
                if !same(&h.owner, owner) || !same(&h.mailbox, mailbox) {
                    return Err(invalid(
                        "every message of one Append goes to the first header's owner and mailbox",
                    ));
                }
                if replacing || h.replace.is_some() {
                    return Err(invalid("REPLACE appends exactly one message"));
                }
                if let Some(checked) = flags_checked
                    && !checked.contains(flag_rights(&h.flags, false))
                {
                    return Err(errors::status(
                        ErrorReason::NoPermission,
                        "a further message sets flags the owner's ACL does not grant",
                    ));
                }
                messages += 1;
                if messages > MAX_MESSAGES {
                    return Err(errors::status(
                        ErrorReason::Limit,
                        format!("one Append carries at most {MAX_MESSAGES} messages"),
                    ));
                }
                Piece::Start(message_start(&h)?)
            }
            Ok(Some(pb::AppendRequest {
                part: Some(Part::Commit(_)),
            })) => Piece::Commit,
            Ok(Some(_)) => return Err(invalid("an Append message carries no part")),
            Ok(None) => {
                tracing::info!("append stream ended without its commit; nothing stored");
                return Err(errors::status(
                    ErrorReason::Cancelled,
                    "the Append stream ended without AppendCommit; nothing was stored",
                ));
            }
            Err(status) => {
                tracing::info!(code = ?status.code(), "append aborted by the client");
                return Err(errors::status(
                    ErrorReason::Cancelled,
                    format!("append stream broken: {}", status.message()),
                ));
            }
        };
        let commit = matches!(piece, Piece::Commit);
        if !feed.send(piece).await || commit {
            return Ok(());
        }
    }
}

/// Where a batch goes, the plugins whose before-add hooks may refuse it,
/// and the guest who appends (whose `\Seen` is their own), if not the owner.
pub(crate) struct Target<'a> {
    pub(crate) owner: &'a str,
    pub(crate) mailbox: &'a str,
    pub(crate) plugins: &'a crate::plugin::Plugins,
    pub(crate) guest: Option<&'a str>,
}

impl Target<'_> {
    /// What the plugins' add hooks are told of `staged` going in.
    pub(crate) fn adding(&self, staged: &[StagedMessage]) -> crate::plugin::Adding<'_> {
        crate::plugin::Adding {
            owner: self.owner,
            mailbox: self.mailbox,
            kind: crate::plugin::AddKind::Append,
            messages: staged.len() as u64,
            bytes: staged.iter().map(StagedMessage::size).sum(),
        }
    }
}

/// The writer thread: stages the batch and commits all of its messages
/// (with the REPLACE's expunge) once the plugins' before-add hooks (quota)
/// allowed it ([`stage_allowed`]). `Ok(None)` when the pieces stop
/// without a commit: everything written is dropped and so removed.
fn write_batch(
    store: &Store,
    target: Target<'_>,
    replace: Option<&ReplaceTarget>,
    gathered: Vec<Piece>,
    rx: Option<mpsc::Receiver<Piece>>,
) -> Result<Option<AppendedBatch>, StoreError> {
    let Some(staged) = stage_allowed(store, &target, gathered, rx)? else {
        return Ok(None);
    };
    let adding = target.adding(&staged);
    let committed = store.commit_appends(staged, replace);
    target.plugins.add_ended(&adding);
    let batch = committed?;
    target.plugins.after_add(store, &adding, &batch.uids);
    Ok(Some(batch))
}

/// [`stage`], then the plugins' before-add hooks (quota): the staged
/// messages they allow. A refused batch's files are removed with its
/// staged messages.
pub(crate) fn stage_allowed(
    store: &Store,
    target: &Target<'_>,
    gathered: Vec<Piece>,
    rx: Option<mpsc::Receiver<Piece>>,
) -> Result<Option<Vec<StagedMessage>>, StoreError> {
    let Some(staged) = stage(store, target, gathered, rx)? else {
        return Ok(None);
    };
    target.plugins.before_add(store, &target.adding(&staged))?;
    Ok(Some(staged))
}

/// Writes each message of a batch to its own temporary file and stages
/// it, taking `gathered` first, then what comes over `rx`; the staged
/// messages once [`Piece::Commit`] comes, `Ok(None)` when the pieces stop
/// without it (everything written is dropped and so removed).
fn stage(
    store: &Store,
    target: &Target<'_>,
    gathered: Vec<Piece>,
    mut rx: Option<mpsc::Receiver<Piece>>,
) -> Result<Option<Vec<StagedMessage>>, StoreError> {
    let mut staged: Vec<StagedMessage> = Vec::new();
    let mut current: Option<AppendWriter> = None;
    let mut gathered = gathered.into_iter();
    let mut next = || {
        gathered
            .next()
            .or_else(|| rx.as_mut().and_then(mpsc::Receiver::blocking_recv))
    };
    while let Some(piece) = next() {
        match piece {
            Piece::Start(start) => {
                if let Some(done) = current.take() {
                    staged.push(done.finish()?);
                }
                let mut writer = match start.size {
                    Some(size) => {
                        store.begin_append(target.mailbox, start.flags, start.date, size)?
                    }
                    None => store.begin_append_unsized(target.mailbox, start.flags, start.date)?,
                };
                if let Some(user) = target.guest {
                    writer.seen_privately_by(user);
                }
                if start.claim_recent {
                    writer.claim_recent();
                }
                current = Some(writer);
            }
            Piece::Chunk(c) => match current.as_mut() {
                Some(w) => w.write(&c)?,
                None => {
                    return Err(StoreError::InvalidArgument(
                        "a chunk came before its AppendHeader".into(),
                    ));
                }
            },
            Piece::Commit => {
                if let Some(done) = current.take() {
                    staged.push(done.finish()?);
                }
                return Ok(Some(staged));
            }
        }
    }
    Ok(None)
}

/// Tells watchers of the new messages and of the replaced one's expunge;
/// new messages the owner added (no REPLACE) come whole: the append took
/// the mailbox's HIGHESTMODSEQ one step on.
fn announce(gate: &Gate, owner: &str, mailbox: &str, batch: &AppendedBatch, by_owner: bool) {
    let changes = gate.changes();
    if let Some(last) = batch.uids.last() {
        let kind = pb::WatchChangeKind::NewMessages;
        let (next, modseq) = (last.checked_add(1), batch.modseq);
        let delta = || {
            if !by_owner || batch.replaced.is_some() {
                return None;
            }
            let added = batch.uids.iter().zip(&batch.flags);
            let added = added.map(|(&uid, flags)| pb::MessageFlags {
                uid,
                flags: flags.clone(),
                modseq,
                ..pb::MessageFlags::default()
            });
            let mut delta = crate::watch::bus::delta(modseq.saturating_sub(1), modseq, added, &[])?;
            // Claimed by the appender in the commit: the other sessions
            // need not ask.
            if batch.first_recent.is_some() {
                delta.recent_claimed_through = *last;
            }
            Some(delta)
        };
        changes.publish_whole(owner, mailbox, batch.uidvalidity, modseq, kind, next, delta);
    }
    if let Some(r) = &batch.replaced {
        let kind = pb::WatchChangeKind::Expunge;
        let (uidvalidity, modseq) = (r.uidvalidity, r.highestmodseq);
        changes.publish_mailbox(owner, &r.mailbox, uidvalidity, modseq, kind, None);
    }
}

#[cfg(test)]
mod tests {
    use super::{MessageStart, Piece, START_SIZE};
    use mailkeep_store::Flags;

    #[test]
    fn a_start_counts_with_its_keywords_and_a_chunk_with_its_bytes() {
        let start = |keywords: &[&str]| {
            Piece::Start(MessageStart {
                flags: Flags {
                    system: 0,
                    keywords: keywords.iter().map(|k| (*k).to_owned()).collect(),
                },
                date: None,
                size: Some(0),
                claim_recent: false,
            })
        };
        assert_eq!(start(&[]).gathered_size(), START_SIZE);
        assert_eq!(start(&["$Junk", "work"]).gathered_size(), START_SIZE + 9);
        assert_eq!(Piece::Chunk(vec![0; 1000]).gathered_size(), 1000);
        assert_eq!(Piece::Commit.gathered_size(), 0);
    }
}
