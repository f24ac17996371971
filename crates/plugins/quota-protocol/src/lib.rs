//! The quota plugin, protocol side (issue 11; DESIGN §4 "Plugins"): IMAP
//! QUOTA (RFC 9208: QUOTA, QUOTA=RES-STORAGE, QUOTA=RES-MESSAGE, QUOTASET;
//! GETQUOTA, GETQUOTAROOT, SETQUOTA for the configured quota admins) and
//! the LMTP reply for an over-quota refusal (`452 4.2.2` instead of
//! `552 5.2.2` with `full_tempfail`, as Dovecot's `quota_full_tempfail`).
//! It calls the storage side's `mailkeep.quota.v1.Quota` service over the
//! session's storage channel and never links `store`.
//!
//! On a listener of the lmtp process it also serves Postfix's policy
//! protocol as Dovecot's quota-status does (see `policy`).
//!
//! Each user has one quota root, `""`, holding every mailbox (as
//! Dovecot's default "User quota" root): STORAGE counts 1024-octet units
//! of the messages' sizes, MESSAGE the messages. A mailbox another owner
//! shares with the user (or a public one) is in that owner's root, shown
//! as `<owner>:` (see `imap`).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod imap;
mod policy;
mod settings;

use std::sync::Arc;

use futures::future::BoxFuture;
use mailkeep_frontend::Connection;
use mailkeep_plugin_api::{ImapAnswer, ImapCall, LmtpReply, ProtocolPlugin, RecipientLookup};
use mailkeep_storage_rpc::errors::ErrorReason;

pub use settings::{QuotaProtocolSettings, SettingsError};

/// The generated protobuf code of `mailkeep.quota.v1` (client side).
pub mod pb {
    #![allow(missing_docs, clippy::all, clippy::pedantic)]
    tonic::include_proto!("mailkeep.quota.v1");
}

/// The plugin's name in `[plugins] enabled`.
pub const NAME: &str = "quota";

/// The quota plugin of one protocol process.
#[derive(Debug, Clone)]
pub struct QuotaProtocol {
    settings: QuotaProtocolSettings,
}

impl QuotaProtocol {
    /// The plugin with the `[plugins.quota]` table's settings.
    pub fn new(settings: QuotaProtocolSettings) -> QuotaProtocol {
        QuotaProtocol { settings }
    }
}

impl ProtocolPlugin for QuotaProtocol {
    fn name(&self) -> &'static str {
        NAME
    }

    fn imap_capabilities(&self) -> Vec<String> {
        [
            "QUOTA",
            "QUOTA=RES-STORAGE",
            "QUOTA=RES-MESSAGE",
            "QUOTASET",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect()
    }

    fn imap_commands(&self) -> Vec<String> {
        imap::COMMANDS.iter().map(|c| (*c).to_owned()).collect()
    }

    fn run_imap<'a>(&'a self, call: ImapCall<'a>) -> BoxFuture<'a, ImapAnswer> {
        Box::pin(imap::run(&self.settings, call))
    }

    fn lmtp_refusal(&self, reason: ErrorReason) -> Option<LmtpReply> {
        (reason == ErrorReason::OverQuota).then_some(if self.settings.full_tempfail {
            LmtpReply {
                code: 452,
                enhanced: "4.2.2",
                text: "Mailbox is full, try again later",
            }
        } else {
            LmtpReply {
                code: 552,
                enhanced: "5.2.2",
                text: "Mailbox is full",
            }
        })
    }

    fn lmtp_listeners(&self) -> Vec<String> {
        vec![self.settings.status_listener.clone()]
    }

    fn serve_lmtp_listener<'a>(
        &'a self,
        connection: Connection,
        recipients: Arc<dyn RecipientLookup>,
    ) -> BoxFuture<'a, ()> {
        Box::pin(policy::serve(&self.settings, connection, recipients))
    }
}
