//! IDLE (RFC 2177, RFC 9051 §6.3.13): the client waits; changes to the
//! selected mailbox, made by any session or delivery in any storage process
//! of the owner, reach it as they happen (Watch events, then Changes), and
//! a keepalive goes out before a NAT could drop the quiet connection.

use mailkeep_frontend::Retry;
use mailkeep_imap_proto::{Idle, StatusKind, status_response};
use mailkeep_storage_rpc::storage::{MailboxEvent, WatchRequest, mailbox_event};
use tokio::time::Instant;
use tonic::Streaming;

use crate::cmd::common::own_call;
use crate::cmd::{Command, Cx, Done, Runs, Spec};
use crate::errors::ImapError;
use crate::io::ReadError;
use crate::reply::Reply;
use crate::session::mailbox::Synced;
use crate::session::state::{Authenticated, Transition};

/// The longest line accepted while idling (DONE and a little slack).
const MAX_DONE_LINE: usize = 1024;

impl Command for Idle {
    type State = Authenticated;

    const SPEC: Spec = Spec {
        name: "IDLE",
        runs: Runs::Exclusive,
        capability: Some("IDLE"),
    };

    async fn run(self, mut cx: Cx, state: Authenticated) -> Result<Done, ImapError> {
        let mut watch = match &state.selected {
            Some(mailbox) => open_watch(&state, &mailbox.name()).await,
            None => None,
        };
        cx.out.send(b"+ idling\r\n").await?;
        if let Some(mailbox) = &state.selected
            && mailbox
                .sync(&state.authed.storage, &cx.out, true, cx.enabled)
                .await?
                == Synced::Lost
        {
            return Ok(lost(cx));
        }
        cx.out.flush().await?;
        let keepalive = cx.process.settings.idle_keepalive;
        let mut next_keepalive = Instant::now() + keepalive;
        let deadline = Instant::now() + cx.process.settings.idle_timeout;
        loop {
            let Some(input) = cx.input.as_mut() else {
                return Ok(Done::reply(Reply::bad("IDLE without input")));
            };
            tokio::select! {
                line = input.reader.read_line(MAX_DONE_LINE, deadline) => {
                    return Ok(match line {
                        Ok(Some(line)) if is_done(&line) => {
                            Done::reply_with_input(Reply::ok("IDLE terminated."), &mut cx)
                        }
                        Ok(_) => Done::reply_with_input(Reply::bad("Expected DONE"), &mut cx),
                        Err(ReadError::Io(e)) => return Err(e.into()),
                        Err(ReadError::Timeout) => {
                            let mut out = Vec::new();
                            status_response(&mut out, None, StatusKind::Bye, None,
                                "Autologout; idle for too long");
                            cx.out.send(&out).await?;
                            Done::reply_with_input(Reply::no("Timed out"), &mut cx)
                                .with(Transition::Logout)
                        }
                        Err(ReadError::Eof) => Done::reply_with_input(Reply::no("Closed"), &mut cx)
                            .with(Transition::Logout),
                    });
                }
                event = next_event(watch.as_mut()) => {
                    match event {
                        Some(event) if concerns(&event, state.selected.as_deref()) => {
                            if let Some(mailbox) = &state.selected
                                && mailbox.sync(&state.authed.storage, &cx.out, true, cx.enabled).await?
                                    == Synced::Lost
                            {
                                return Ok(lost(cx));
                            }
                            cx.out.flush().await?;
                        }
                        Some(_) => {}
                        None => {
                            // The watch ended (storage restarted): open a new one.
                            watch = match &state.selected {
                                Some(mailbox) => open_watch(&state, &mailbox.name()).await,
                                None => None,
                            };
                            if watch.is_none() {
                                tracing::warn!("IDLE without change notifications");
                            }
                        }
                    }
                }
                _ = tokio::time::sleep_until(next_keepalive) => {
                    let mut out = Vec::new();
                    status_response(&mut out, None, StatusKind::Ok, None, "Still here");
                    cx.out.send(&out).await?;
                    cx.out.flush().await?;
                    next_keepalive = Instant::now() + keepalive;
                }
            }
        }
    }
}

/// Whether a client line is `DONE` (any case).
fn is_done(line: &[u8]) -> bool {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    line.eq_ignore_ascii_case(b"DONE")
}

/// Opens the change stream of `mailbox`; `None` when storage cannot give one.
async fn open_watch(state: &Authenticated, mailbox: &str) -> Option<Streaming<MailboxEvent>> {
    let request = WatchRequest {
        owner: state.authed.owner().to_owned(),
        mailbox: mailbox.to_owned(),
    };
    match own_call(&state.authed, Retry::Idempotent, |rpc| {
        let request = rpc.request(request.clone());
        async move { rpc.watch().watch(request).await }
    })
    .await
    {
        Ok(stream) => Some(stream),
        Err(e) => {
            tracing::warn!(error = %e, "no change notifications for IDLE");
            None
        }
    }
}

/// The next event; never ready without a stream; `None` when it ended.
async fn next_event(watch: Option<&mut Streaming<MailboxEvent>>) -> Option<MailboxEvent> {
    match watch {
        Some(stream) => stream.message().await.ok().flatten(),
        None => std::future::pending().await,
    }
}

/// Whether an event may change what the client sees.
fn concerns(event: &MailboxEvent, selected: Option<&crate::session::mailbox::Mailbox>) -> bool {
    match &event.event {
        Some(mailbox_event::Event::Changed(changed)) => {
            selected.is_some_and(|m| m.name() == changed.mailbox)
        }
        Some(mailbox_event::Event::Resync(_)) => true,
        Some(mailbox_event::Event::List(_)) | None => false,
    }
}

/// The selected mailbox went away while idling.
fn lost(mut cx: Cx) -> Done {
    Done::reply_with_input(Reply::no("Mailbox lost"), &mut cx).with(Transition::Logout)
}
