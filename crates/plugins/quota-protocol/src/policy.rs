//! The quota policy service for Postfix (`check_policy_service`), the
//! protocol Dovecot's quota-status speaks: the MTA sends a request of
//! `name=value` lines ending in an empty line, with `recipient` and
//! `size`; the answer is one `action=...` line and an empty line, so an
//! over-quota recipient is refused at RCPT time instead of bounced later.
//! Served on a listener of the lmtp process (named by `status_listener`),
//! with the lmtp process's recipient lookups (deliver tickets).
//!
//! Answers, as Dovecot's defaults: `OK` when the message fits (or no limit
//! applies), `REJECT Unknown user`, `552 5.2.2 Mailbox is full` (`452
//! 4.2.2` with `full_tempfail`), and `DEFER_IF_PERMIT` when the lookup or
//! storage failed for now.

use std::sync::Arc;
use std::time::Duration;

use mailkeep_frontend::{Connection, Retry};
use mailkeep_plugin_api::{Lookup, RecipientLookup};
use tokio::time::Instant;

use crate::QuotaProtocolSettings;
use crate::pb;
use crate::pb::quota_client::QuotaClient;

/// Longest attribute line taken.
const MAX_LINE: usize = 8192;
/// Most attributes in one request.
const MAX_ATTRIBUTES: usize = 256;
/// How long the MTA may keep a quiet connection open.
const IDLE: Duration = Duration::from_secs(300);

/// What a request asks about.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Request {
    /// The `recipient` attribute.
    pub(crate) recipient: Option<String>,
    /// The `size` attribute (0 when absent or not a number: the MTA may
    /// not know it yet at RCPT time).
    pub(crate) size: u64,
}

impl Request {
    /// Takes one `name=value` line (without its line end).
    pub(crate) fn attribute(&mut self, line: &str) {
        let Some((name, value)) = line.split_once('=') else {
            return;
        };
        match name {
            "recipient" if !value.is_empty() => self.recipient = Some(value.to_owned()),
            "size" => self.size = value.parse().unwrap_or(0),
            _ => {}
        }
    }
}

/// Whether `size` more bytes and one more message pass the limits of
/// `quota` (0: unlimited).
pub(crate) fn fits(quota: &pb::QuotaReply, size: u64) -> bool {
    let storage =
        quota.storage_limit == 0 || quota.bytes.saturating_add(size) <= quota.storage_limit;
    let messages = quota.message_limit == 0 || quota.messages < quota.message_limit;
    storage && messages
}

/// The action for one request.
async fn decide(
    settings: &QuotaProtocolSettings,
    recipients: &dyn RecipientLookup,
    request: &Request,
) -> String {
    let Some(address) = &request.recipient else {
        return "DUNNO".into();
    };
    let recipient = match recipients.lookup(address).await {
        Lookup::Found(r) => r,
        Lookup::Unknown => return "REJECT Unknown user".into(),
        Lookup::Failed => return "DEFER_IF_PERMIT Temporary user lookup failure".into(),
    };
    let owner = recipient.user.clone();
    let quota = recipient
        .storage
        .call(&owner, Retry::Idempotent, |rpc| {
            let request = rpc.request(pb::GetQuotaRequest {
                owner: owner.clone(),
                ..Default::default()
            });
            async move { QuotaClient::new(rpc.channel()).get_quota(request).await }
        })
        .await;
    match quota {
        Ok(q) if fits(&q, request.size) => "OK".into(),
        Ok(_) if settings.full_tempfail => "452 4.2.2 Mailbox is full".into(),
        Ok(_) => "552 5.2.2 Mailbox is full".into(),
        Err(e) => {
            tracing::warn!(user = %owner, error = %e, "quota policy: quota unreadable");
            "DEFER_IF_PERMIT Temporary quota lookup failure".into()
        }
    }
}

/// Serves one MTA connection: requests until it closes, goes quiet for
/// [`IDLE`], or sends more than a request may hold (closed: the protocol
/// has no error reply).
pub(crate) async fn serve(
    settings: &QuotaProtocolSettings,
    connection: Connection,
    recipients: Arc<dyn RecipientLookup>,
) {
    let (mut reader, writer) = connection.split();
    let mut request = Request::default();
    let mut attributes = 0;
    loop {
        let deadline = Instant::now() + IDLE;
        let line = match reader.read_line(MAX_LINE, deadline).await {
            Ok(Some(line)) => line,
            Ok(None) => {
                tracing::info!("quota policy: attribute line too long; closing");
                return;
            }
            Err(_) => return,
        };
        let line = String::from_utf8_lossy(&line);
        let line = line.trim_end_matches(['\r', '\n']);
        if !line.is_empty() {
            attributes += 1;
            if attributes > MAX_ATTRIBUTES {
                tracing::info!("quota policy: too many attributes; closing");
                return;
            }
            request.attribute(line);
            continue;
        }
        let action = decide(settings, recipients.as_ref(), &request).await;
        tracing::info!(recipient = ?request.recipient, size = request.size, %action,
            "quota policy");
        let answer = format!("action={action}\n\n");
        if writer.write(answer.as_bytes()).await.is_err() || writer.flush().await.is_err() {
            return;
        }
        request = Request::default();
        attributes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_read_and_others_ignored() {
        let mut r = Request::default();
        for line in [
            "request=smtpd_access_policy",
            "recipient=alice@example.org",
            "size=1234",
            "garbage",
            "sender=",
        ] {
            r.attribute(line);
        }
        assert_eq!(r.recipient.as_deref(), Some("alice@example.org"));
        assert_eq!(r.size, 1234);
        r.attribute("size=lots");
        assert_eq!(r.size, 0);
    }

    #[test]
    fn a_message_fits_until_a_limit_would_be_passed() {
        let q = pb::QuotaReply {
            bytes: 900,
            messages: 4,
            storage_limit: 1000,
            message_limit: 5,
            overridden: false,
        };
        assert!(fits(&q, 100));
        assert!(!fits(&q, 101));
        let full = pb::QuotaReply { messages: 5, ..q };
        assert!(!fits(&full, 0));
        let unlimited = pb::QuotaReply {
            storage_limit: 0,
            message_limit: 0,
            ..full
        };
        assert!(fits(&unlimited, u64::MAX));
    }
}
