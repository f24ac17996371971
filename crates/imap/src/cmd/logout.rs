//! LOGOUT (RFC 9051 §6.1.3): the session's tickets revoked, BYE, then
//! the tagged OK, then the end.

use mailkeep_imap_proto::{Logout, StatusKind, status_response};

use crate::cmd::{Command, Cx, Done, Runs, Spec};
use crate::errors::ImapError;
use crate::session::state::{AnyState, Transition};

impl Command for Logout {
    type State = AnyState;

    const SPEC: Spec = Spec {
        name: "LOGOUT",
        runs: Runs::Alone,
        capability: None,
    };

    fn ends_selection(&self) -> bool {
        true
    }

    async fn run(self, cx: Cx, state: AnyState) -> Result<Done, ImapError> {
        // Before the client hears it is logged out: a ticket left in this
        // process's memory must read no mail after that (DESIGN §2).
        if let Some(authed) = &state.authed {
            authed.storage.end().await;
        }
        let mut out = Vec::new();
        status_response(&mut out, None, StatusKind::Bye, None, "Logging out");
        status_response(
            &mut out,
            Some(&cx.tag),
            StatusKind::Ok,
            None,
            "Logout completed.",
        );
        cx.out.send(&out).await?;
        Ok(Done {
            reply: None,
            transition: Transition::Logout,
            enable: None,
            input: None,
        })
    }
}
