//! ID (RFC 2971) and NAMESPACE (RFC 2342, RFC 9051 §6.3.10): what the
//! server is, and where names live.

use std::net::IpAddr;

use mailkeep_imap_proto::{Id, Namespace, id_response, namespace};

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

    async fn run(self, cx: Cx, state: AnyState) -> Result<Done, ImapError> {
        if let Some(params) = &self.params {
            let client: Vec<String> = params
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_deref().unwrap_or("NIL")))
                .collect();
            tracing::info!(client = %client.join(" "), "client ID");
            if state.authed.is_none() {
                take_originating_ip(&cx, params);
            }
        }
        let version = env!("CARGO_PKG_VERSION");
        let params = [("name", Some("mailkeep")), ("version", Some(version))];
        let mut out = Vec::new();
        id_response(&mut out, cx.enabled.encoder(), Some(&params));
        cx.out.send(&out).await?;
        Ok(Done::reply(Reply::ok("ID completed.")))
    }
}

/// A proxy in front (a webmail, an IMAP proxy) names the real client with
/// `x-originating-ip` (Dovecot's convention) before login; it is believed
/// only from a peer in the trusted networks, and then is the address auth
/// penalises and the limits count.
fn take_originating_ip(cx: &Cx, params: &[(String, Option<String>)]) {
    let Some(value) = params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("x-originating-ip"))
        .and_then(|(_, v)| v.as_deref())
    else {
        return;
    };
    match value.trim().parse::<IpAddr>() {
        Ok(ip) if cx.admission.state_client_address(ip) => {
            tracing::info!(client = %ip, "client address stated by a trusted proxy");
        }
        Ok(ip) => {
            tracing::warn!(stated = %ip, peer = ?cx.conn.peer,
                "x-originating-ip ignored: the peer is not in trusted_networks");
        }
        Err(_) => tracing::warn!(value, "x-originating-ip ignored: not an IP address"),
    }
}

impl Command for Namespace {
    type State = Authenticated;

    const SPEC: Spec = Spec {
        name: "NAMESPACE",
        runs: Runs::Beside,
        capability: Some("NAMESPACE"),
    };

    async fn run(self, cx: Cx, state: Authenticated) -> Result<Done, ImapError> {
        // The personal namespace, other users' (`shared.`) and, when an
        // owner is configured, the public one (`Public.`).
        let (personal, others) = crate::namespace::namespaces();
        let public = crate::namespace::public_namespace(&state.authed);
        let mut out = Vec::new();
        namespace(&mut out, cx.enabled.encoder(), &personal, &others, &public);
        cx.out.send(&out).await?;
        Ok(Done::reply(Reply::ok("Namespace completed.")))
    }
}
