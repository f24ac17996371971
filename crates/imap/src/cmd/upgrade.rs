//! STARTTLS (RFC 9051 §6.2.1) and COMPRESS DEFLATE (RFC 4978): the
//! connection is upgraded in place once the tagged OK has gone out in the
//! clear. Both take the input, so nothing the client pipelined after them
//! is read in the clear and taken for part of the new layer.

use mailkeep_imap_proto::{Code, Compress, StartTls, StatusKind, status_response};

use crate::cmd::{Command, Cx, Done, Runs, Spec};
use crate::errors::ImapError;
use crate::reply::Reply;
use crate::session::state::{Authenticated, NotAuthenticated, Transition};

impl Command for StartTls {
    type State = NotAuthenticated;

    const SPEC: Spec = Spec {
        name: "STARTTLS",
        runs: Runs::Exclusive,
        capability: None,
    };

    async fn run(self, mut cx: Cx, _state: NotAuthenticated) -> Result<Done, ImapError> {
        let Some(tls) = cx
            .process
            .tls
            .clone()
            .filter(|_| cx.process.starttls_available(&cx.conn))
        else {
            let reply = if cx.conn.tls.is_some() {
                Reply::bad("TLS is active already")
            } else {
                Reply::no("STARTTLS is not available here").code(Code::Cannot)
            };
            return Ok(Done::reply_with_input(reply, &mut cx));
        };
        if let Some(input) = cx.input.as_mut()
            && !input.reader.buf().is_empty()
        {
            // Bytes after STARTTLS came in the clear: taking them for the
            // first TLS bytes, or commands, would let an attacker inject
            // them (the STARTTLS command-injection attack). They are
            // dropped unread, not run as the next commands.
            let pipelined = input.reader.buf().len();
            input.reader.consume(pipelined);
            let reply = Reply::bad("Data after STARTTLS; TLS not started");
            return Ok(Done::reply_with_input(reply, &mut cx));
        }
        let Some(mut input) = cx.input.take() else {
            return Err(ImapError::Broken("STARTTLS without input".into()));
        };
        tagged_ok(&cx, "Begin TLS negotiation now").await?;
        let transition = match input.reader.conn().start_tls(&tls).await {
            Ok(()) => {
                // A fresh parser: nothing of the clear-text session counts.
                input.parser = cx.process.parser();
                Transition::None
            }
            Err(e) => {
                tracing::info!(error = %e, "STARTTLS handshake failed");
                Transition::Logout
            }
        };
        Ok(Done {
            reply: None,
            transition,
            enable: None,
            input: Some(input),
        })
    }
}

impl Command for Compress {
    type State = Authenticated;

    const SPEC: Spec = Spec {
        name: "COMPRESS",
        runs: Runs::Exclusive,
        capability: None,
    };

    async fn run(self, mut cx: Cx, _state: Authenticated) -> Result<Done, ImapError> {
        if !self.algorithm.eq_ignore_ascii_case("DEFLATE") {
            let reply = Reply::bad("Only DEFLATE is supported");
            return Ok(Done::reply_with_input(reply, &mut cx));
        }
        if cx.conn.compressed {
            let reply = Reply::no("Compression is active already").code(Code::CompressionActive);
            return Ok(Done::reply_with_input(reply, &mut cx));
        }
        let Some(mut input) = cx.input.take() else {
            return Err(ImapError::Broken("COMPRESS without input".into()));
        };
        tagged_ok(&cx, "DEFLATE active").await?;
        let transition = match input.reader.conn().start_compression().await {
            Ok(()) => Transition::None,
            Err(e) => {
                tracing::warn!(error = %e, "COMPRESS failed after its OK");
                Transition::Logout
            }
        };
        Ok(Done {
            reply: None,
            transition,
            enable: None,
            input: Some(input),
        })
    }
}

/// Sends the command's tagged OK now (the upgrade comes right after it).
async fn tagged_ok(cx: &Cx, text: &str) -> Result<(), ImapError> {
    let mut out = Vec::new();
    status_response(&mut out, Some(&cx.tag), StatusKind::Ok, None, text);
    cx.out.send(&out).await?;
    Ok(())
}
