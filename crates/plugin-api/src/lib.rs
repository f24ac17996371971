//! What a protocol-side plugin implements, and the registry the protocol
//! processes consult (DESIGN §4 "Plugins"). A plugin adds capabilities,
//! IMAP commands (the parser learns their names and hands their arguments
//! over in generic form; the imap process runs them through its command
//! table's one plugin line), and an LMTP reply for a refusal; it calls its
//! own storage service over the session's storage channel
//! ([`mailkeep_frontend::Storage`], whose [`mailkeep_frontend::Rpc::channel`]
//! carries any service). Neither imap nor lmtp knows a plugin's messages.
//!
//! This crate never links `store`: a protocol side reaches mail only over
//! the storage RPC. The storage side of a plugin implements
//! `mailkeep_storage_server::plugin::StoragePlugin`; the binary fills both
//! registries from `[plugins] enabled`.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::sync::Arc;

use futures::future::BoxFuture;
use mailkeep_frontend::{Connection, Storage, StorageError};
use mailkeep_imap_proto::encode::Encoder;
use mailkeep_imap_proto::{Code, Extension};
use mailkeep_storage_rpc::errors::ErrorReason;

/// One run of a plugin's IMAP command.
pub struct ImapCall<'a> {
    /// The command, its name upper case, arguments in generic form.
    pub command: Extension,
    /// The logged-in user (the owner of their own mail).
    pub user: &'a str,
    /// The session's storage path (ticket renewal, per-owner channels).
    pub storage: &'a Storage,
    /// How strings and mailbox names are written to this client.
    pub encoder: Encoder,
    /// Whether the client enabled UTF8=ACCEPT or IMAP4rev2 (mailbox names
    /// in arguments are then UTF-8, else modified UTF-7).
    pub utf8: bool,
    /// The session's namespaces: whose mailbox a client's name is (the
    /// user's own, a shared one `shared.<owner>.<name>`, a public one).
    pub namespaces: &'a dyn Namespaces,
}

/// A mailbox of some owner, as a client's name resolves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxAt {
    /// The owner, whose storage process serves the mailbox (the user for
    /// their own).
    pub owner: String,
    /// The mailbox's name in the owner's storage (UTF-8, `INBOX` in one
    /// spelling).
    pub name: String,
}

/// Resolves a client's mailbox names through the session's namespaces
/// (RFC 2342), as the imap process does for its own commands, so that a
/// plugin's command addresses the storage of the right owner. Whether
/// the user may do anything there stays that owner's storage process's
/// decision.
pub trait Namespaces: Send + Sync {
    /// The mailbox `name` (decoded: UTF-8) stands for; `None` when it
    /// names none (a namespace container, or an owner who shares nothing
    /// with the user).
    fn resolve<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<MailboxAt>, StorageError>>;
}

/// How a plugin's IMAP command ended: untagged responses already encoded
/// (each ending in CRLF) and the tagged status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImapAnswer {
    /// Untagged responses, sent before the tagged one.
    pub untagged: Vec<u8>,
    /// The tagged status.
    pub tagged: Tagged,
}

/// A tagged status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tagged {
    /// OK, with text.
    Ok(String),
    /// NO, with a response code if one applies, and text.
    No(Option<Code>, String),
    /// BAD (arguments that do not follow the command's grammar).
    Bad(String),
}

impl ImapAnswer {
    /// Only a tagged status.
    pub fn tagged(tagged: Tagged) -> ImapAnswer {
        ImapAnswer {
            untagged: Vec::new(),
            tagged,
        }
    }
}

/// An LMTP reply a plugin chooses for a refused delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LmtpReply {
    /// The reply code (`552`, `452`).
    pub code: u16,
    /// The enhanced status code (`5.2.2`).
    pub enhanced: &'static str,
    /// The text.
    pub text: &'static str,
}

/// A recipient as a delivery resolves it: the user, and a storage path
/// holding a deliver ticket for them (append, folder exists, quota; no
/// reading).
pub struct Recipient {
    /// The canonical user name.
    pub user: String,
    /// The storage path of the delivery.
    pub storage: Storage,
}

/// What looking a recipient up gave.
pub enum Lookup {
    /// A user of this server.
    Found(Recipient),
    /// No such user (or delivery to them refused for good).
    Unknown,
    /// A temporary failure (auth or storage unreachable).
    Failed,
}

/// Resolves recipient addresses as the lmtp process does for RCPT TO (the
/// lmtp process implements it; a plugin serving one of its listeners uses
/// it).
pub trait RecipientLookup: Send + Sync {
    /// Looks `address` (`user@domain` or `user`) up.
    fn lookup<'a>(&'a self, address: &'a str) -> BoxFuture<'a, Lookup>;
}

/// A protocol-side plugin. Every method has a default that adds nothing.
pub trait ProtocolPlugin: Send + Sync + 'static {
    /// The plugin's name, as `[plugins] enabled` spells it.
    fn name(&self) -> &'static str;

    /// IMAP capabilities it adds after login (`QUOTA`, ...).
    fn imap_capabilities(&self) -> Vec<String> {
        Vec::new()
    }

    /// IMAP commands it adds, upper case; they need the authenticated or
    /// selected state.
    fn imap_commands(&self) -> Vec<String> {
        Vec::new()
    }

    /// Runs one of its IMAP commands.
    fn run_imap<'a>(&'a self, call: ImapCall<'a>) -> BoxFuture<'a, ImapAnswer> {
        let name = call.command.name;
        Box::pin(async move { ImapAnswer::tagged(Tagged::Bad(format!("{name} is not served"))) })
    }

    /// The LMTP reply for a delivery storage refused with `reason`, if the
    /// plugin decides it (the quota plugin: `452 4.2.2` instead of
    /// `552 5.2.2` when so configured); `None` leaves the base reply.
    fn lmtp_refusal(&self, _reason: ErrorReason) -> Option<LmtpReply> {
        None
    }

    /// Names of listeners of the lmtp process whose connections this
    /// plugin serves itself, in its own protocol (the quota plugin's
    /// Postfix policy service), instead of LMTP.
    fn lmtp_listeners(&self) -> Vec<String> {
        Vec::new()
    }

    /// Serves one connection of a listener [`ProtocolPlugin::lmtp_listeners`]
    /// named, resolving recipients with `recipients`.
    fn serve_lmtp_listener<'a>(
        &'a self,
        connection: Connection,
        _recipients: Arc<dyn RecipientLookup>,
    ) -> BoxFuture<'a, ()> {
        drop(connection);
        Box::pin(async {})
    }
}

/// The protocol-side plugins a process runs, in the configured order.
#[derive(Clone, Default)]
pub struct ProtocolPlugins(Arc<Vec<Arc<dyn ProtocolPlugin>>>);

impl std::fmt::Debug for ProtocolPlugins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|p| p.name()))
            .finish()
    }
}

impl ProtocolPlugins {
    /// The registry of `plugins`.
    pub fn new(plugins: Vec<Arc<dyn ProtocolPlugin>>) -> ProtocolPlugins {
        ProtocolPlugins(Arc::new(plugins))
    }

    /// Every IMAP capability the plugins add.
    pub fn imap_capabilities(&self) -> Vec<String> {
        self.0.iter().flat_map(|p| p.imap_capabilities()).collect()
    }

    /// Every IMAP command name the plugins add (for the parser).
    pub fn imap_commands(&self) -> Vec<String> {
        self.0.iter().flat_map(|p| p.imap_commands()).collect()
    }

    /// The plugin that serves IMAP command `name` (upper case).
    pub fn imap_command(&self, name: &str) -> Option<&Arc<dyn ProtocolPlugin>> {
        self.0
            .iter()
            .find(|p| p.imap_commands().iter().any(|c| c == name))
    }

    /// The plugin that serves the lmtp-process listener `name`, if any.
    pub fn lmtp_listener(&self, name: &str) -> Option<Arc<dyn ProtocolPlugin>> {
        self.0
            .iter()
            .find(|p| p.lmtp_listeners().iter().any(|l| l == name))
            .cloned()
    }

    /// The first plugin's LMTP reply for a refusal with `reason`.
    pub fn lmtp_refusal(&self, reason: ErrorReason) -> Option<LmtpReply> {
        self.0.iter().find_map(|p| p.lmtp_refusal(reason))
    }
}
