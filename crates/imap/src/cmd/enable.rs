//! ENABLE (RFC 5161): the extensions that change how the server answers.
//! It takes the input (runs exclusive) because UTF8=ACCEPT changes how
//! the commands after it are parsed.

use mailkeep_imap_proto::{Enable, enabled};

use crate::cmd::{Command, Cx, Done, Runs, Spec};
use crate::errors::ImapError;
use crate::reply::Reply;
use crate::session::enabled::Enabled;
use crate::session::state::{Authenticated, Transition};

impl Command for Enable {
    type State = Authenticated;

    const SPEC: Spec = Spec {
        name: "ENABLE",
        runs: Runs::Exclusive,
        capability: Some("ENABLE"),
    };

    async fn run(self, mut cx: Cx, _state: Authenticated) -> Result<Done, ImapError> {
        let mut asked = Enabled::default();
        let mut names = Vec::new();
        for capability in &self.capabilities {
            let upper = capability.to_ascii_uppercase();
            let known = match upper.as_str() {
                "CONDSTORE" => {
                    asked.condstore = true;
                    true
                }
                "QRESYNC" => {
                    asked.qresync = true;
                    true
                }
                "IMAP4REV2" => {
                    asked.rev2 = true;
                    true
                }
                "UTF8=ACCEPT" => {
                    asked.utf8 = true;
                    true
                }
                "UIDONLY" => {
                    asked.uidonly = true;
                    true
                }
                _ => false,
            };
            if known && !names.contains(&upper) {
                names.push(upper);
            }
        }
        // ENABLED lists what this command newly turned on (RFC 5161 §3.1).
        let before = cx.enabled;
        let after = before.union(asked);
        let newly: Vec<&str> = names
            .iter()
            .map(String::as_str)
            .filter(|n| match *n {
                "CONDSTORE" => !before.condstore,
                "QRESYNC" => !before.qresync,
                "IMAP4REV2" => !before.rev2,
                "UTF8=ACCEPT" => !before.utf8,
                "UIDONLY" => !before.uidonly,
                _ => false,
            })
            .map(|n| if n == "IMAP4REV2" { "IMAP4rev2" } else { n })
            .collect();
        let mut out = Vec::new();
        enabled(&mut out, &newly);
        cx.out.send(&out).await?;
        Ok(Done::reply_with_input(Reply::ok("Enabled."), &mut cx).with(Transition::Enable(after)))
    }
}
