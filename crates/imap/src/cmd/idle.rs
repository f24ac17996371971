//! IDLE (RFC 2177, RFC 9051 §6.3.13): the client waits; changes to the
//! selected mailbox, made by any session or delivery in any storage process
//! of the owner, reach it as they happen (Watch events, then Changes), and
//! a keepalive goes out before a NAT could drop the quiet connection.

use mailkeep_imap_proto::{Idle, StatusKind, status_response};
use tokio::time::Instant;

use std::sync::Arc;

use crate::cmd::fetch::announce::NewMessages;
use crate::cmd::{Command, Cx, Done, Runs, Spec};
use crate::errors::ImapError;
use crate::io::ReadError;
use crate::reply::Reply;
use crate::session::mailbox::{Mailbox, Synced};
use crate::session::state::{Authenticated, Selected, Transition};

/// The longest line accepted while idling (DONE and a little slack).
const MAX_DONE_LINE: usize = 1024;

/// How often an IDLE without a change stream asks storage (besides when
/// a stream starts).
const UNWATCHED_POLL: std::time::Duration = std::time::Duration::from_secs(2);

impl Command for Idle {
    type State = Authenticated;

    const SPEC: Spec = Spec {
        name: "IDLE",
        runs: Runs::Exclusive,
        capability: Some("IDLE"),
    };

    fn run(
        self,
        cx: Cx,
        state: Authenticated,
    ) -> impl std::future::Future<Output = Result<Done, ImapError>> + Send {
        idle(Box::new(Idling { cx, state }))
    }
}

/// What an IDLE works with, boxed: an async fn keeps its arguments twice
/// (as given and as bound), for as long as the client idles.
struct Idling {
    cx: Cx,
    state: Authenticated,
}

/// Runs IDLE. Every await but the wait itself is boxed: the command's
/// future is kept for as long as the client idles, so it holds only what
/// the wait needs, not the largest of the calls it makes now and then.
/// One timer serves the keepalive and the idle timeout (the read's).
async fn idle(mut idling: Box<Idling>) -> Result<Done, ImapError> {
    let Idling { cx, state } = &mut *idling;
    Box::pin(cx.out.send(b"+ idling\r\n")).await?;
    // Up to date as IDLE starts. A watched mailbox tells of its changes as
    // they come: one made before IDLE was marked (and is asked for now) or
    // is on its way (and is told while idling), so storage is asked only
    // for a marked change or for expunges held back by an earlier command.
    // An unwatched one (its stream not open yet, or ended) is asked.
    if let Some(mailbox) = &state.selected {
        let new = NewMessages::before(cx.new_message_items.clone(), mailbox);
        if Box::pin(mailbox.catch_up_if_behind(&state.authed.storage, &cx.out, true, cx.enabled))
            .await?
            == Synced::Lost
        {
            return Ok(lost(cx));
        }
        Box::pin(announce(state, cx, mailbox, new)).await?;
    }
    Box::pin(cx.out.flush()).await?;
    let keepalive = cx.process.settings.idle_keepalive;
    let mut next_keepalive = Instant::now() + keepalive;
    let deadline = Instant::now() + cx.process.settings.idle_timeout;
    loop {
        let Some(input) = cx.input.as_mut() else {
            return Ok(Done::reply(Reply::bad("IDLE without input")));
        };
        tokio::select! {
            line = input.reader.read_line(MAX_DONE_LINE, next_keepalive.min(deadline)) => {
                return Ok(match line {
                    Ok(Some(line)) if is_done(&line) => {
                        Done::reply_with_input(Reply::ok("IDLE terminated."), cx)
                    }
                    Ok(_) => Done::reply_with_input(Reply::bad("Expected DONE"), cx),
                    Err(ReadError::Io(e)) => return Err(e.into()),
                    Err(ReadError::Timeout) if Instant::now() < deadline => {
                        // The keepalive's time (a line begun stays in
                        // the buffer for the next read).
                        Box::pin(untagged(cx, StatusKind::Ok, "Still here")).await?;
                        Box::pin(cx.out.flush()).await?;
                        next_keepalive = Instant::now() + keepalive;
                        continue;
                    }
                    Err(ReadError::Timeout) => {
                        Box::pin(untagged(cx, StatusKind::Bye,
                            "Autologout; idle for too long")).await?;
                        Done::reply_with_input(Reply::no("Timed out"), cx)
                            .with(Transition::Logout)
                    }
                    Err(ReadError::Eof) => Done::reply_with_input(Reply::no("Closed"), cx)
                        .with(Transition::Logout),
                });
            }
            () = changes(state.selected.as_deref()) => {
                if Box::pin(report_changes(state, cx)).await? == Synced::Lost {
                    return Ok(lost(cx));
                }
            }
        }
    }
}

/// Tells the client what changed in the selected mailbox, if its watch
/// marked a change, and flushes.
async fn report_changes(state: &Authenticated, cx: &Cx) -> Result<Synced, ImapError> {
    if let Some(mailbox) = &state.selected
        && mailbox.take_change()
    {
        let new = NewMessages::before(cx.new_message_items.clone(), mailbox);
        let synced = mailbox
            .catch_up(&state.authed.storage, &cx.out, true, cx.enabled)
            .await?;
        if synced == Synced::Lost {
            return Ok(Synced::Lost);
        }
        announce(state, cx, mailbox, new).await?;
        cx.out.flush().await?;
    }
    Ok(Synced::Current)
}

/// NOTIFY's MessageNew items of the messages a sync brought, if asked for.
async fn announce(
    state: &Authenticated,
    cx: &Cx,
    mailbox: &Arc<Mailbox>,
    new: Option<NewMessages>,
) -> Result<(), ImapError> {
    let Some(new) = new else {
        return Ok(());
    };
    let selected = Selected {
        authed: state.authed.clone(),
        mailbox: Arc::clone(mailbox),
    };
    new.announce(cx, &selected).await
}

/// Sends an untagged status response.
async fn untagged(cx: &Cx, kind: StatusKind, text: &str) -> Result<(), ImapError> {
    let mut out = Vec::new();
    status_response(&mut out, None, kind, None, text);
    Ok(cx.out.send(&out).await?)
}

/// Resolves when the selected mailbox may have changed: at once when its
/// change stream said so, every few seconds when it has none (the storage
/// process went away; asking is the only way to know) or when the stream
/// starts (IDLE right after SELECT opens it), never without a selected
/// mailbox.
async fn changes(selected: Option<&Mailbox>) {
    match selected {
        Some(mailbox) if mailbox.mark().watching() => mailbox.mark().changed().await,
        // Boxed: only an unwatched IDLE holds both waits. Not woken by a
        // mere mark: a failed sync marks too, and would spin.
        Some(mailbox) => {
            Box::pin(async {
                tokio::select! {
                    () = mailbox.mark().stream_started() => {}
                    () = tokio::time::sleep(UNWATCHED_POLL) => {}
                }
            })
            .await;
        }
        None => std::future::pending().await,
    }
}

/// Whether a client line is `DONE` (any case).
fn is_done(line: &[u8]) -> bool {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    line.eq_ignore_ascii_case(b"DONE")
}

/// The selected mailbox went away while idling.
fn lost(cx: &mut Cx) -> Done {
    Done::reply_with_input(Reply::no("Mailbox lost"), cx).with(Transition::Logout)
}
