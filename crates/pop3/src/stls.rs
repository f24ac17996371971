//! STLS (RFC 2595 §4): TLS under the connection once the `+OK` has gone
//! out in the clear. Bytes the client pipelined after STLS came in the
//! clear: taking them for the first TLS bytes, or for commands, would let
//! an attacker inject them (the STARTTLS command-injection attack), so
//! they are dropped and TLS does not start.

use std::io;

use crate::reply::Reply;
use crate::session::{Flow, Session, State};

impl Session {
    /// `STLS` in AUTHORIZATION.
    pub(crate) async fn stls_command(&mut self) -> io::Result<Flow> {
        let Some(tls) = self
            .process
            .tls
            .clone()
            .filter(|_| self.process.stls_available(&self.info))
        else {
            let text = if self.info.tls.is_some() {
                "TLS is active already"
            } else {
                "STLS is not available here"
            };
            self.send(&Reply::err(text)).await?;
            return Ok(Flow::Continue);
        };
        let pipelined = self.reader.buf().len();
        if pipelined > 0 {
            self.reader.consume(pipelined);
            self.send(&Reply::err("Data after STLS; TLS not started"))
                .await?;
            return Ok(Flow::Continue);
        }
        self.send(&Reply::ok("Begin TLS negotiation now")).await?;
        match self.reader.start_tls(&tls).await {
            Ok(()) => {
                // Nothing of the clear-text session counts (RFC 2595 §4).
                self.info = self.reader.info().clone();
                self.state = State::Authorization(None);
                Ok(Flow::Continue)
            }
            Err(e) => {
                tracing::info!(error = %e, "STLS handshake failed");
                Ok(Flow::Close)
            }
        }
    }
}
