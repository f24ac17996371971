//! CAPABILITY (RFC 9051 §6.1.1): what this server offers in the current
//! state on this connection.

use mailkeep_imap_proto::{Capability, capability_line};

use crate::cmd::{Command, Cx, Done, Runs, Spec};
use crate::errors::ImapError;
use crate::reply::Reply;
use crate::session::state::{AnyState, State};

impl Command for Capability {
    type State = AnyState;

    const SPEC: Spec = Spec {
        name: "CAPABILITY",
        runs: Runs::Beside,
        capability: None,
    };

    async fn run(self, cx: Cx, state: AnyState) -> Result<Done, ImapError> {
        let shown = match state.authed {
            Some(authed) => State::Authenticated(authed),
            None => State::NotAuthenticated,
        };
        let caps = cx.process.capabilities(&shown, &cx.conn, false);
        let caps: Vec<&str> = caps.iter().map(String::as_str).collect();
        let mut out = Vec::new();
        capability_line(&mut out, &caps);
        cx.out.send(&out).await?;
        Ok(Done::reply(Reply::ok("Capability completed.")))
    }
}
