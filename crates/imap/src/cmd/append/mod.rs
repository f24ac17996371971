//! APPEND (RFC 9051 §6.3.12) with MULTIAPPEND (RFC 3502), CATENATE (RFC
//! 4469) and binary literals (RFC 3516): each message is streamed from the client straight
//! into a storage Append call in chunks; it is never held whole. The
//! command takes the connection's input and reads its own pieces from the
//! parser (see imap-proto's `Outcome` for the sequence).

use mailkeep_frontend::{Rpc, StorageError};
use mailkeep_imap_proto::{
    Append, AppendMessage, Code, Literal, Outcome, Replace, SequenceSet, StatusKind,
    status_response,
};
use mailkeep_storage_rpc::CHUNK_SIZE;
use mailkeep_storage_rpc::errors::{ErrorReason, reason_of};
use mailkeep_storage_rpc::storage::{
    AppendHeader, AppendRequest, AppendResponse, ReplaceMessage, append_request,
};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;

mod catenate;

use crate::cmd::store::settable;
use crate::cmd::{Command, Cx, Done, Runs, Spec};
use crate::errors::{ImapError, Target, storage_reply};
use crate::io::ReadError;
use crate::namespace::{MailboxRef, Names};
use crate::reply::Reply;
use crate::session::state::{AnyState, Authed, Transition};

/// Chunks buffered between the client reader and the storage call.
const QUEUE: usize = 4;

/// Where the command is.
enum Step {
    /// A message's options arrived; its content follows.
    Message(AppendMessage),
    /// A literal to stream (or skip).
    Literal(Literal),
    /// A CATENATE URL part.
    Url(String),
    /// The command is complete.
    End,
    /// The command failed in the parser; it is over.
    Failed(Reply, bool),
    /// The client went away or timed out.
    Gone(ReadError),
}

impl Command for Append {
    // APPEND checks the state itself: refused or not, it must read the
    // message literals the client sends, to stay in step.
    type State = AnyState;

    const SPEC: Spec = Spec {
        name: "APPEND",
        runs: Runs::Exclusive,
        capability: Some("MULTIAPPEND"),
    };

    async fn run(self, mut cx: Cx, state: AnyState) -> Result<Done, ImapError> {
        let Some(authed) = state.authed else {
            return drain(&mut cx, Reply::bad("Log in first")).await;
        };
        let target = match Names::new(&authed)
            .mailbox(&self.mailbox, Target::Destination)
            .await
        {
            Ok(target) => target,
            Err(reply) => return drain(&mut cx, reply).await,
        };
        let claim = state
            .selected
            .as_ref()
            .is_some_and(|m| m.claims_appended(&target, cx.enabled));
        let first = FirstHeader {
            replace: None,
            claim_recent: claim,
        };
        match store_messages(&mut cx, &authed, &target, first).await? {
            Stored::Done(response) => {
                if let Some(mailbox) = &state.selected {
                    mailbox.added_to(&target, Some(response.modseq));
                    if claim {
                        mailbox.appended_recent(response.first_recent_uid, last_uid(&response));
                    }
                }
                let reply = Reply::ok("Append completed.").code(Code::AppendUid {
                    uidvalidity: response.uidvalidity,
                    uids: SequenceSet::in_order(response.uids),
                });
                Ok(Done::reply_with_input(reply, &mut cx))
            }
            Stored::Refused(reply) => drain(&mut cx, reply).await,
            Stored::Over(done) => Ok(*done),
        }
    }
}

impl Command for Replace {
    // As APPEND: the literal must be read whatever the state.
    type State = AnyState;

    const SPEC: Spec = Spec {
        name: "REPLACE",
        runs: Runs::Exclusive,
        capability: Some("REPLACE"),
    };

    fn uses_sequence_numbers(&self) -> bool {
        !self.uid
    }

    async fn run(self, mut cx: Cx, state: AnyState) -> Result<Done, ImapError> {
        let (Some(authed), Some(mailbox)) = (state.authed, state.selected) else {
            return drain(&mut cx, Reply::bad("No mailbox selected")).await;
        };
        if mailbox.read_only {
            return drain(
                &mut cx,
                Reply::no("Mailbox is read-only").code(Code::Cannot),
            )
            .await;
        }
        let uid = {
            let view = mailbox.view();
            if self.uid {
                view.seq_of(self.target).map(|_| self.target)
            } else {
                view.uid_at(self.target)
            }
        };
        let Some(uid) = uid else {
            let reply = if self.uid {
                Reply::no("No such message").code(Code::NonExistent)
            } else {
                Reply::bad("Invalid sequence number")
            };
            return drain(&mut cx, reply).await;
        };
        let replace = ReplaceMessage {
            mailbox: mailbox.name(),
            uidvalidity: mailbox.uidvalidity,
            uid,
        };
        let target = match Names::new(&authed)
            .mailbox(&self.mailbox, Target::Destination)
            .await
        {
            Ok(target) => target,
            Err(reply) => return drain(&mut cx, reply).await,
        };
        if target.owner != mailbox.owner() {
            // Storage replaces within one owner's store, in one transaction.
            let reply = Reply::no("REPLACE into another user's mailbox is not supported")
                .code(Code::Cannot);
            return drain(&mut cx, reply).await;
        }
        let claim = mailbox.claims_appended(&target, cx.enabled);
        let first = FirstHeader {
            replace: Some(replace),
            claim_recent: claim,
        };
        match store_messages(&mut cx, &authed, &target, first).await? {
            Stored::Done(response) => {
                mailbox.added_to(&target, None);
                if claim {
                    mailbox.appended_recent(response.first_recent_uid, last_uid(&response));
                }
                // RFC 8508 §3.3: APPENDUID comes untagged, before the
                // expunge of the replaced message is reported.
                let mut out = Vec::new();
                status_response(
                    &mut out,
                    None,
                    StatusKind::Ok,
                    Some(&Code::AppendUid {
                        uidvalidity: response.uidvalidity,
                        uids: SequenceSet::in_order(response.uids),
                    }),
                    "Replacement message saved",
                );
                cx.out.send(&out).await?;
                Ok(Done::reply_with_input(
                    Reply::ok("Replace completed."),
                    &mut cx,
                ))
            }
            Stored::Refused(reply) => drain(&mut cx, reply).await,
            Stored::Over(done) => Ok(*done),
        }
    }
}

/// How storing the command's messages ended.
enum Stored {
    /// Every message is stored (one transaction).
    Done(AppendResponse),
    /// Storage refused; the rest of the command is still to be read.
    Refused(Reply),
    /// The command is over (the parser failed, the client went away).
    Over(Box<Done>),
}

/// What the message being read is.
enum Current {
    /// Its options came; its one literal is next.
    Plain(AppendMessage),
    /// CATENATE: its header is sent; parts follow until the next message.
    Catenate,
}

/// What the first message's header carries for the whole call: the
/// message REPLACE replaces, and whether the commit claims the new
/// messages as recent to this session.
struct FirstHeader {
    replace: Option<ReplaceMessage>,
    claim_recent: bool,
}

/// The last new UID of an Append's `response`.
fn last_uid(response: &AppendResponse) -> u32 {
    response.uids.iter().copied().max().unwrap_or(response.uid)
}

/// Reads the command's messages and streams them, all into one storage
/// Append call that commits them together at the end (MULTIAPPEND is all
/// or none, RFC 3502), the first one carrying `first` (REPLACE, \Recent). A
/// CATENATE message (RFC 4469) is assembled from its parts as they come:
/// text literals from the client, URL parts from the user's own mail.
async fn store_messages(
    cx: &mut Cx,
    authed: &Authed,
    target: &MailboxRef,
    first: FirstHeader,
) -> Result<Stored, ImapError> {
    let mut first = Some(first);
    let mut call: Option<Call> = None;
    let mut current: Option<Current> = None;
    loop {
        match next_step(cx).await? {
            Step::Message(message) => {
                if !message.catenate {
                    current = Some(Current::Plain(message));
                    continue;
                }
                let open = match opened(&mut call, authed, &target.owner).await {
                    Ok(open) => open,
                    Err(reply) => return Ok(Stored::Refused(reply)),
                };
                let mut header = header(target, &message, 0, first.take());
                header.size_unknown = true;
                open.header(header).await;
                current = Some(Current::Catenate);
            }
            Step::Literal(literal) => match current.take() {
                None => {
                    abort(call).await;
                    let reply = Reply::bad("Message literal without options");
                    return refuse_at(cx, literal, reply).await;
                }
                Some(Current::Catenate) => {
                    current = Some(Current::Catenate);
                    let Some(open) = call.as_mut() else {
                        return Err(ImapError::Broken("no append call".into()));
                    };
                    if let Err(e) = open.literal(cx, literal).await? {
                        abort(call).await;
                        return Ok(Stored::Over(Box::new(gone(cx, e).await?)));
                    }
                }
                Some(Current::Plain(message)) => {
                    if literal.size == 0 {
                        // An empty file is no message (no header, not
                        // even a line); Dovecot refuses it too. A
                        // MULTIAPPEND stores none of its messages.
                        abort(call).await;
                        let reply = Reply::no("A message of zero bytes cannot be saved");
                        return refuse_at(cx, literal, reply).await;
                    }
                    let open = match opened(&mut call, authed, &target.owner).await {
                        Ok(open) => open,
                        Err(reply) => return refuse_at(cx, literal, reply).await,
                    };
                    let size = literal.size;
                    open.header(header(target, &message, size, first.take()))
                        .await;
                    if let Err(e) = open.literal(cx, literal).await? {
                        abort(call).await;
                        return Ok(Stored::Over(Box::new(gone(cx, e).await?)));
                    }
                }
            },
            Step::Url(url) => {
                let in_catenate = matches!(current, Some(Current::Catenate));
                let result = match call.as_mut() {
                    Some(open) if in_catenate => catenate::url_part(open, authed, &url).await,
                    _ => Err(Reply::bad("A URL outside CATENATE")),
                };
                if let Err(reply) = result {
                    abort(call).await;
                    return Ok(Stored::Refused(reply));
                }
            }
            Step::End => {
                let Some(open) = call else {
                    let reply = Reply::bad("APPEND without a message");
                    return Ok(Stored::Over(Box::new(Done::reply_with_input(reply, cx))));
                };
                return Ok(match open.commit(authed).await {
                    Ok(response) => Stored::Done(response),
                    Err(reply) => Stored::Over(Box::new(Done::reply_with_input(reply, cx))),
                });
            }
            Step::Failed(reply, close) => {
                abort(call).await;
                return Ok(Stored::Over(Box::new(failed(cx, reply, close).await?)));
            }
            Step::Gone(e) => {
                abort(call).await;
                return Ok(Stored::Over(Box::new(gone(cx, e).await?)));
            }
        }
    }
}

/// The open Append call, opening it first if this is the first message.
async fn opened<'c>(
    call: &'c mut Option<Call>,
    authed: &Authed,
    owner: &str,
) -> Result<&'c mut Call, Reply> {
    if call.is_none() {
        *call = Some(Call::open(authed, owner).await?);
    }
    call.as_mut()
        .ok_or_else(|| Reply::no("Append failed").code(Code::ServerBug))
}

/// A message's header for storage.
fn header(
    target: &MailboxRef,
    message: &AppendMessage,
    size: u64,
    first: Option<FirstHeader>,
) -> AppendHeader {
    let (replace, claim_recent) = first.map_or((None, false), |f| (f.replace, f.claim_recent));
    AppendHeader {
        owner: target.owner.clone(),
        mailbox: target.name.clone(),
        flags: settable(&message.flags),
        internal_date: message.date.map(|d| d.unix).unwrap_or(0),
        internal_date_offset_minutes: message.date.map(|d| d.offset_minutes).unwrap_or(0),
        size,
        replace,
        size_unknown: false,
        claim_recent,
    }
}

/// Refuses the command at a literal: reads (or refuses) the literal, and
/// either ends the command (a refused synchronizing literal is never sent)
/// or leaves the rest to be drained.
async fn refuse_at(cx: &mut Cx, literal: Literal, reply: Reply) -> Result<Stored, ImapError> {
    if let Err(e) = skip_literal(cx, literal).await? {
        return Ok(Stored::Over(Box::new(gone(cx, e).await?)));
    }
    if literal.non_sync {
        Ok(Stored::Refused(reply))
    } else {
        Ok(Stored::Over(Box::new(Done::reply_with_input(reply, cx))))
    }
}

/// An Append call in progress, fed message by message.
pub(crate) struct Call {
    /// Whose storage it goes to.
    owner: String,
    tx: mpsc::Sender<AppendRequest>,
    task: tokio::task::JoinHandle<Result<AppendResponse, tonic::Status>>,
    /// Storage stopped taking data (it failed); the client's bytes are
    /// still read, and the reason comes at commit.
    storage_ok: bool,
}

impl Call {
    /// Opens the call to `owner`'s storage (no retry: nothing can be
    /// repeated once sent).
    pub(crate) async fn open(authed: &Authed, owner: &str) -> Result<Call, Reply> {
        let rpc = authed
            .storage
            .rpc(owner)
            .await
            .map_err(|e| storage_reply(&authed.as_seen(owner, e), Target::Destination))?;
        let (tx, rx) = mpsc::channel::<AppendRequest>(QUEUE);
        let task = tokio::spawn(send_append(rpc, rx));
        Ok(Call {
            owner: owner.to_owned(),
            tx,
            task,
            storage_ok: true,
        })
    }

    /// Starts a message.
    pub(crate) async fn header(&mut self, header: AppendHeader) {
        self.send(append_request::Part::Header(header)).await;
    }

    /// Sends a literal's bytes as they come from the client (a
    /// continuation first for a synchronizing literal).
    async fn literal(
        &mut self,
        cx: &mut Cx,
        literal: Literal,
    ) -> Result<Result<(), ReadError>, ImapError> {
        if !literal.non_sync {
            cx.out.send(b"+ Ready\r\n").await?;
            cx.out.flush().await?;
        }
        let deadline = Instant::now() + cx.process.settings.idle_timeout;
        let Some(input) = cx.input.as_mut() else {
            return Err(ImapError::Broken("APPEND without input".into()));
        };
        let mut left = literal.size;
        let mut chunk =
            Vec::with_capacity(CHUNK_SIZE.min(usize::try_from(left).unwrap_or(CHUNK_SIZE)));
        while left > 0 {
            let want = usize::try_from(left)
                .unwrap_or(usize::MAX)
                .min(CHUNK_SIZE - chunk.len());
            let bytes = match input.reader.take(want, deadline).await {
                Ok(bytes) => bytes,
                Err(e) => return Ok(Err(e)),
            };
            left -= bytes.len() as u64;
            if self.storage_ok {
                chunk.extend_from_slice(&bytes);
                if chunk.len() == CHUNK_SIZE || left == 0 {
                    self.chunk(std::mem::take(&mut chunk)).await;
                }
            }
        }
        Ok(Ok(()))
    }

    /// Sends part of the current message.
    pub(crate) async fn chunk(&mut self, data: Vec<u8>) {
        self.send(append_request::Part::Chunk(data)).await;
    }

    /// Queues one part for storage.
    async fn send(&mut self, part: append_request::Part) {
        if self.storage_ok {
            self.storage_ok = self
                .tx
                .send(AppendRequest { part: Some(part) })
                .await
                .is_ok();
        }
    }

    /// Ends the stream with its commit, which stores every message, and
    /// waits for storage. (If storage stopped taking parts, the commit is
    /// not sent and the task's result says why.)
    pub(crate) async fn commit(self, authed: &Authed) -> Result<AppendResponse, Reply> {
        if self.storage_ok {
            let _ = self.tx.send(AppendRequest::commit()).await;
        }
        drop(self.tx);
        let result = match self.task.await {
            Ok(result) => result,
            Err(join) => {
                tracing::error!(%join, "append call task failed");
                return Err(Reply::no("Append failed").code(Code::ServerBug));
            }
        };
        result.map_err(|status| {
            if reason_of(&status) == ErrorReason::Unavailable {
                authed.storage.forget_channel(&self.owner);
            }
            storage_reply(&StorageError::Status(status), Target::Destination)
        })
    }
}

/// Abandons an Append call: the stream ends without its commit, so
/// storage stores none of its messages.
pub(crate) async fn abort(call: Option<Call>) {
    if let Some(Call { tx, task, .. }) = call {
        task.abort();
        let _ = task.await;
        drop(tx);
    }
}

/// The Append call, fed by `rx`.
async fn send_append(
    rpc: Rpc,
    rx: mpsc::Receiver<AppendRequest>,
) -> Result<AppendResponse, tonic::Status> {
    let request = rpc.request(ReceiverStream::new(rx));
    rpc.storage().append(request).await.map(|r| r.into_inner())
}

/// The next piece of the command from the parser, reading as needed.
async fn next_step(cx: &mut Cx) -> Result<Step, ImapError> {
    let deadline = Instant::now() + cx.process.settings.idle_timeout;
    let Some(input) = cx.input.as_mut() else {
        return Err(ImapError::Broken("APPEND without input".into()));
    };
    loop {
        match input.parser.next(input.reader.buf()) {
            Outcome::Incomplete => {
                // In the middle of APPEND: the client may be holding the
                // rest until what it sent is acknowledged.
                input.reader.conn().acknowledge_received();
                if let Err(e) = input.reader.fill(deadline).await {
                    return Ok(Step::Gone(e));
                }
            }
            Outcome::SendContinuation => {
                cx.out.send(b"+ OK\r\n").await?;
                cx.out.flush().await?;
            }
            Outcome::AppendMessage { message, consumed } => {
                input.reader.consume(consumed);
                return Ok(Step::Message(message));
            }
            Outcome::AppendLiteral { literal, consumed } => {
                input.reader.consume(consumed);
                return Ok(Step::Literal(literal));
            }
            Outcome::AppendUrl { url, consumed } => {
                input.reader.consume(consumed);
                return Ok(Step::Url(url));
            }
            Outcome::AppendEnd { consumed } => {
                input.reader.consume(consumed);
                return Ok(Step::End);
            }
            Outcome::Error {
                message,
                consumed,
                close,
                code,
                ..
            } => {
                input.reader.consume(consumed);
                let reply = match code {
                    Some(code) => Reply::no(message).code(code),
                    None => Reply::bad(message),
                };
                return Ok(Step::Failed(reply, close));
            }
            Outcome::Command { .. } | Outcome::AppendBegin { .. } => {
                return Err(ImapError::Broken("a new command inside an APPEND".into()));
            }
        }
    }
}

/// Reads and drops a literal the command will not store (or refuses a
/// synchronizing one, so the client does not send it).
async fn skip_literal(cx: &mut Cx, literal: Literal) -> Result<Result<(), ReadError>, ImapError> {
    let deadline = Instant::now() + cx.process.settings.idle_timeout;
    let Some(input) = cx.input.as_mut() else {
        return Err(ImapError::Broken("APPEND without input".into()));
    };
    if !literal.non_sync && input.parser.refuse_literal() {
        return Ok(Ok(()));
    }
    let mut left = literal.size;
    while left > 0 {
        let want = usize::try_from(left).unwrap_or(usize::MAX).min(CHUNK_SIZE);
        match input.reader.take(want, deadline).await {
            Ok(bytes) => left -= bytes.len() as u64,
            Err(e) => return Ok(Err(e)),
        }
    }
    Ok(Ok(()))
}

/// Ends a refused APPEND: reads (or refuses) what is left of it so the
/// stream stays in step, then replies `reply`.
async fn drain(cx: &mut Cx, reply: Reply) -> Result<Done, ImapError> {
    loop {
        match next_step(cx).await? {
            Step::Message(_) | Step::Url(_) => {}
            Step::Literal(literal) => {
                if let Err(e) = skip_literal(cx, literal).await? {
                    return gone(cx, e).await;
                }
                // A refused synchronizing literal ends the command.
                if !literal.non_sync {
                    return Ok(Done::reply_with_input(reply, cx));
                }
            }
            Step::End => return Ok(Done::reply_with_input(reply, cx)),
            Step::Failed(_, close) => return failed(cx, reply, close).await,
            Step::Gone(e) => return gone(cx, e).await,
        }
    }
}

/// The parser gave up on the command.
async fn failed(cx: &mut Cx, reply: Reply, close: bool) -> Result<Done, ImapError> {
    if close {
        let mut out = Vec::new();
        status_response(
            &mut out,
            None,
            StatusKind::Bye,
            None,
            "Protocol error, closing",
        );
        cx.out.send(&out).await?;
        return Ok(Done::reply_with_input(reply, cx).with(Transition::Logout));
    }
    Ok(Done::reply_with_input(reply, cx))
}

/// The client went away or stopped sending mid-command.
async fn gone(cx: &mut Cx, error: ReadError) -> Result<Done, ImapError> {
    match error {
        ReadError::Io(e) => Err(e.into()),
        ReadError::Timeout => {
            let mut out = Vec::new();
            status_response(
                &mut out,
                None,
                StatusKind::Bye,
                None,
                "Autologout; idle for too long",
            );
            cx.out.send(&out).await?;
            Ok(Done::reply_with_input(Reply::no("Timed out"), cx).with(Transition::Logout))
        }
        ReadError::Eof => {
            Ok(Done::reply_with_input(Reply::no("Connection closed"), cx).with(Transition::Logout))
        }
    }
}
