//! APPEND (RFC 9051 §6.3.12) with MULTIAPPEND (RFC 3502) and binary
//! literals (RFC 3516): each message is streamed from the client straight
//! into a storage Append call in chunks; it is never held whole. The
//! command takes the connection's input and reads its own pieces from the
//! parser (see imap-proto's `Outcome` for the sequence).

use mailkeep_frontend::{Rpc, StorageError};
use mailkeep_imap_proto::{
    Append, AppendMessage, Code, Literal, Outcome, SequenceSet, StatusKind, status_response,
};
use mailkeep_storage_rpc::CHUNK_SIZE;
use mailkeep_storage_rpc::errors::{ErrorReason, reason_of};
use mailkeep_storage_rpc::storage::{AppendHeader, AppendRequest, AppendResponse, append_request};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;

use crate::cmd::common::normalize;
use crate::cmd::store::settable;
use crate::cmd::{Command, Cx, Done, Runs, Spec};
use crate::errors::{ImapError, Target, storage_reply};
use crate::io::ReadError;
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
    Url,
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
            return drain(cx, Reply::bad("Log in first")).await;
        };
        let target = normalize(&self.mailbox);
        let mut uidvalidity = 0;
        let mut uids = Vec::new();
        let mut pending: Option<AppendMessage> = None;
        loop {
            match next_step(&mut cx).await? {
                Step::Message(message) => pending = Some(message),
                Step::Literal(literal) => {
                    let Some(message) = pending.take() else {
                        return drain(cx, Reply::bad("Message literal without options")).await;
                    };
                    if message.catenate {
                        return drain(
                            cx,
                            Reply::no("CATENATE is not supported").code(Code::Cannot),
                        )
                        .await;
                    }
                    match stream_message(&mut cx, &authed, &target, &message, literal).await? {
                        Streamed::Stored(response) => {
                            uidvalidity = response.uidvalidity;
                            uids.push(response.uid);
                        }
                        Streamed::Refused(reply) => return drain(cx, reply).await,
                        Streamed::Gone(e) => return gone(cx, e).await,
                    }
                }
                Step::Url => {
                    return drain(
                        cx,
                        Reply::no("CATENATE is not supported").code(Code::Cannot),
                    )
                    .await;
                }
                Step::End => break,
                Step::Failed(reply, close) => return failed(cx, reply, close).await,
                Step::Gone(e) => return gone(cx, e).await,
            }
        }
        let reply = Reply::ok("Append completed.").code(Code::AppendUid {
            uidvalidity,
            uids: SequenceSet::from_numbers(uids),
        });
        Ok(Done::reply_with_input(reply, &mut cx))
    }
}

/// How one message's streaming ended.
enum Streamed {
    /// Stored durably.
    Stored(AppendResponse),
    /// Storage refused it (the literal was read all the same).
    Refused(Reply),
    /// The client went away mid-literal.
    Gone(ReadError),
}

/// Streams one message literal into a storage Append call.
async fn stream_message(
    cx: &mut Cx,
    authed: &Authed,
    target: &str,
    message: &AppendMessage,
    literal: Literal,
) -> Result<Streamed, ImapError> {
    let rpc = match authed.storage.rpc(authed.owner()).await {
        Ok(rpc) => rpc,
        Err(e) => {
            let reply = storage_reply(&e, Target::Destination);
            return Ok(match skip_literal(cx, literal).await? {
                Ok(()) => Streamed::Refused(reply),
                Err(e) => Streamed::Gone(e),
            });
        }
    };
    if !literal.non_sync {
        cx.out.send(b"+ Ready\r\n").await?;
        cx.out.flush().await?;
    }
    let header = AppendHeader {
        owner: authed.owner().to_owned(),
        mailbox: target.to_owned(),
        flags: settable(&message.flags),
        internal_date: message.date.map(|d| d.unix).unwrap_or(0),
        internal_date_offset_minutes: message.date.map(|d| d.offset_minutes).unwrap_or(0),
        size: literal.size,
    };
    let (tx, rx) = mpsc::channel::<AppendRequest>(QUEUE);
    let call = tokio::spawn(send_append(rpc, rx));
    let mut storage_ok = tx
        .send(AppendRequest {
            part: Some(append_request::Part::Header(header)),
        })
        .await
        .is_ok();
    let deadline = Instant::now() + cx.process.settings.idle_timeout;
    let Some(input) = cx.input.as_mut() else {
        return Err(ImapError::Broken("APPEND without input".into()));
    };
    let mut left = literal.size;
    let mut chunk = Vec::with_capacity(CHUNK_SIZE.min(usize::try_from(left).unwrap_or(CHUNK_SIZE)));
    while left > 0 {
        let want = usize::try_from(left)
            .unwrap_or(usize::MAX)
            .min(CHUNK_SIZE - chunk.len());
        let bytes = match input.reader.take(want, deadline).await {
            Ok(bytes) => bytes,
            Err(e) => {
                call.abort();
                return Ok(Streamed::Gone(e));
            }
        };
        left -= bytes.len() as u64;
        if storage_ok {
            chunk.extend_from_slice(&bytes);
            if chunk.len() == CHUNK_SIZE || left == 0 {
                let part = append_request::Part::Chunk(std::mem::take(&mut chunk));
                storage_ok = tx.send(AppendRequest { part: Some(part) }).await.is_ok();
            }
        }
    }
    drop(tx);
    let result = match call.await {
        Ok(result) => result,
        Err(join) => {
            tracing::error!(%join, "append call task failed");
            return Ok(Streamed::Refused(
                Reply::no("Append failed").code(Code::ServerBug),
            ));
        }
    };
    Ok(match result {
        Ok(response) => Streamed::Stored(response),
        Err(status) => {
            if reason_of(&status) == ErrorReason::Unavailable {
                authed.storage.forget_channel(authed.owner());
            }
            Streamed::Refused(storage_reply(
                &StorageError::Status(status),
                Target::Destination,
            ))
        }
    })
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
            Outcome::AppendUrl { consumed, .. } => {
                input.reader.consume(consumed);
                return Ok(Step::Url);
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
async fn drain(mut cx: Cx, reply: Reply) -> Result<Done, ImapError> {
    loop {
        match next_step(&mut cx).await? {
            Step::Message(_) | Step::Url => {}
            Step::Literal(literal) => {
                if let Err(e) = skip_literal(&mut cx, literal).await? {
                    return gone(cx, e).await;
                }
                // A refused synchronizing literal ends the command.
                if !literal.non_sync {
                    return Ok(Done::reply_with_input(reply, &mut cx));
                }
            }
            Step::End => return Ok(Done::reply_with_input(reply, &mut cx)),
            Step::Failed(_, close) => return failed(cx, reply, close).await,
            Step::Gone(e) => return gone(cx, e).await,
        }
    }
}

/// The parser gave up on the command.
async fn failed(mut cx: Cx, reply: Reply, close: bool) -> Result<Done, ImapError> {
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
        return Ok(Done::reply_with_input(reply, &mut cx).with(Transition::Logout));
    }
    Ok(Done::reply_with_input(reply, &mut cx))
}

/// The client went away or stopped sending mid-command.
async fn gone(mut cx: Cx, error: ReadError) -> Result<Done, ImapError> {
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
            Ok(Done::reply_with_input(Reply::no("Timed out"), &mut cx).with(Transition::Logout))
        }
        ReadError::Eof => Ok(
            Done::reply_with_input(Reply::no("Connection closed"), &mut cx)
                .with(Transition::Logout),
        ),
    }
}
