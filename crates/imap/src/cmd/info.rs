//! ID (RFC 2971) and NAMESPACE (RFC 2342, RFC 9051 §6.3.10): what the
//! server is, and where names live.

use mailkeep_imap_proto::{Id, Namespace, NamespaceDescr, id_response, namespace};

use crate::cmd::common::DELIMITER;
use crate::cmd::{Command, Cx, Done, Runs, Spec};
use crate::errors::ImapError;
use crate::reply::Reply;
use crate::session::state::{AnyState, Authenticated};

impl Command for Id {
    type State = AnyState;

    const SPEC: Spec = Spec {
        name: "ID",
        runs: Runs::Beside,
        capability: Some("ID"),
    };

    async fn run(self, cx: Cx, _state: AnyState) -> Result<Done, ImapError> {
        if let Some(params) = &self.params {
            let client: Vec<String> = params
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_deref().unwrap_or("NIL")))
                .collect();
            tracing::info!(client = %client.join(" "), "client ID");
        }
        let version = env!("CARGO_PKG_VERSION");
        let params = [("name", Some("mailkeep")), ("version", Some(version))];
        let mut out = Vec::new();
        id_response(&mut out, cx.enabled.encoder(), Some(&params));
        cx.out.send(&out).await?;
        Ok(Done::reply(Reply::ok("ID completed.")))
    }
}

impl Command for Namespace {
    type State = Authenticated;

    const SPEC: Spec = Spec {
        name: "NAMESPACE",
        runs: Runs::Beside,
        capability: Some("NAMESPACE"),
    };

    async fn run(self, cx: Cx, _state: Authenticated) -> Result<Done, ImapError> {
        let personal = [NamespaceDescr {
            prefix: String::new(),
            delimiter: Some(DELIMITER),
        }];
        let mut out = Vec::new();
        namespace(&mut out, cx.enabled.encoder(), &personal, &[], &[]);
        cx.out.send(&out).await?;
        Ok(Done::reply(Reply::ok("Namespace completed.")))
    }
}
