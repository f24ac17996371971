//! One client's session: the state machine, the read loop, command
//! dispatch, storage calls with retry, and keeping the selected view current.

use mailkeep_storage_rpc::leased::LeasedChannel;
use std::future::Future;
use std::sync::Arc;

use mailkeep_imap_proto::{Command, CommandBody, Outcome, Parser, StatusKind, status_response};
use mailkeep_storage_rpc::metadata::with_ticket;
use mailkeep_storage_rpc::storage::ChangesRequest;
use mailkeep_storage_rpc::storage::storage_client::StorageClient;
use tokio::time::Instant;
use tonic::{Code, Status};

use crate::ImapSettings;
use crate::backend::{Backend, Shared};
use crate::conn::{Conn, ReadError};
use crate::errors::{CallError, ImapError, Reply};
use crate::response;
use crate::view::{FlagUpdate, View};

/// Capabilities before login.
const CAPS_PRE: &[&str] = &[
    "IMAP4rev1",
    "LITERAL+",
    "SASL-IR",
    "AUTH=PLAIN",
    "AUTH=LOGIN",
    "UNSELECT",
    "UIDPLUS",
];
/// Capabilities after login.
///
/// IMAP4rev2 is not advertised yet: it requires ENABLE, NAMESPACE, ESEARCH
/// and MOVE, which come with the IMAP issue.
const CAPS_POST: &[&str] = &["IMAP4rev1", "LITERAL+", "UNSELECT", "UIDPLUS"];

/// The logged-in user and their ticket.
#[derive(Debug, Clone)]
pub(crate) struct Login {
    /// The canonical user name; also the storage owner.
    pub user: String,
    /// The session ticket, opaque.
    pub ticket: String,
    /// When the ticket was obtained (Unix seconds).
    pub obtained_unix: i64,
    /// When it expires (Unix seconds).
    pub expires_unix: i64,
    /// No renewal attempt before this time (after a failed one).
    pub retry_renew_unix: i64,
}

/// The protocol state (RFC 9051 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// Before login.
    NotAuthenticated,
    /// Logged in, no mailbox selected.
    Authenticated,
    /// A mailbox is selected.
    Selected,
}

/// One client session.
pub(crate) struct Session<B: Backend> {
    /// Process-wide state.
    pub shared: Arc<Shared<B>>,
    /// Settings.
    pub settings: Arc<ImapSettings>,
    /// The connection.
    pub conn: Conn,
    /// The command parser.
    pub parser: Parser,
    /// The client's address, for auth and logs.
    pub peer: String,
    /// Set after a successful login.
    pub login: Option<Login>,
    /// The storage client, fetched from the broker on first use.
    pub storage: Option<LeasedChannel>,
    /// The selected mailbox.
    pub view: Option<View>,
    /// When the connection was accepted.
    pub started: Instant,
    /// A `* BYE` was sent: close after the current command.
    pub closing: bool,
}

impl<B: Backend> Session<B> {
    /// A session on a new connection.
    pub fn new(
        shared: Arc<Shared<B>>,
        settings: Arc<ImapSettings>,
        conn: Conn,
        peer: String,
    ) -> Self {
        let parser = Parser::new(settings.limits);
        let conn = conn.with_write_timeout(settings.idle_timeout);
        Session {
            shared,
            settings,
            conn,
            parser,
            peer,
            login: None,
            storage: None,
            view: None,
            started: Instant::now(),
            closing: false,
        }
    }

    /// The current protocol state.
    pub fn state(&self) -> State {
        match (&self.login, &self.view) {
            (None, _) => State::NotAuthenticated,
            (Some(_), None) => State::Authenticated,
            (Some(_), Some(_)) => State::Selected,
        }
    }

    /// The capabilities to announce in the current state.
    pub fn capabilities(&self) -> &'static [&'static str] {
        if self.login.is_some() {
            CAPS_POST
        } else {
            CAPS_PRE
        }
    }

    /// How long to wait for the client's next bytes.
    pub fn deadline(&self) -> Instant {
        if self.login.is_some() {
            Instant::now() + self.settings.idle_timeout
        } else {
            self.started + self.settings.login_timeout
        }
    }

    /// Sends raw bytes.
    pub async fn send(&mut self, bytes: &[u8]) -> Result<(), ImapError> {
        Ok(self.conn.write(bytes).await?)
    }

    /// Sends an untagged status response.
    pub async fn untagged(
        &mut self,
        kind: StatusKind,
        code: Option<&str>,
        text: &str,
    ) -> Result<(), ImapError> {
        let mut out = Vec::new();
        status_response(&mut out, None, kind, code, text);
        self.send(&out).await
    }

    /// Sends a tagged reply.
    pub async fn tagged(&mut self, tag: &str, reply: &Reply) -> Result<(), ImapError> {
        let mut out = Vec::new();
        status_response(
            &mut out,
            Some(tag),
            reply.kind,
            reply.code.as_deref(),
            &reply.text,
        );
        self.send(&out).await
    }

    /// Serves the connection until LOGOUT, a close, or a failure.
    pub async fn run(mut self) -> Result<(), ImapError> {
        let greeting = format!("CAPABILITY {}", CAPS_PRE.join(" "));
        self.untagged(StatusKind::Ok, Some(&greeting), "mailkeep ready.")
            .await?;
        let result = self.read_loop().await;
        let _ = self.conn.flush().await;
        result
    }

    /// Reads and executes commands.
    async fn read_loop(&mut self) -> Result<(), ImapError> {
        loop {
            match self.parser.next(&self.conn.buf) {
                Outcome::Incomplete => match self.conn.fill(self.deadline()).await {
                    Ok(()) => {}
                    Err(ReadError::Timeout) => {
                        self.untagged(StatusKind::Bye, None, "Autologout; idle for too long")
                            .await?;
                        return Ok(());
                    }
                    Err(ReadError::Eof) => return Ok(()),
                    Err(ReadError::Io(e)) => return Err(e.into()),
                },
                Outcome::SendContinuation => self.send(b"+ OK\r\n").await?,
                Outcome::Command { command, consumed } => {
                    self.conn.consume(consumed);
                    if !self.command(command).await? {
                        return Ok(());
                    }
                }
                Outcome::AppendLiteral { command, consumed } => {
                    self.conn.consume(consumed);
                    let tag = command.tag.clone();
                    let reply = self.append(command).await?;
                    if self.closing {
                        return Ok(());
                    }
                    self.finish(&tag, reply, true).await?;
                    if self.closing {
                        return Ok(());
                    }
                }
                Outcome::AppendEnd { consumed } => {
                    // Only reachable if an APPEND was abandoned; skip the CRLF.
                    self.conn.consume(consumed);
                }
                Outcome::Error {
                    tag,
                    message,
                    consumed,
                    close,
                    code,
                } => {
                    self.conn.consume(consumed);
                    let mut out = Vec::new();
                    let kind = if code.is_some() {
                        StatusKind::No
                    } else {
                        StatusKind::Bad
                    };
                    status_response(&mut out, tag.as_deref(), kind, code.as_deref(), &message);
                    self.send(&out).await?;
                    if close {
                        self.untagged(StatusKind::Bye, None, "Protocol error, closing")
                            .await?;
                        return Ok(());
                    }
                }
            }
        }
    }

    /// Executes one command and sends its replies; `false` to close.
    async fn command(&mut self, command: Command) -> Result<bool, ImapError> {
        let Command { tag, body } = command;
        let allow_expunge = !matches!(
            body,
            CommandBody::Fetch { uid: false, .. }
                | CommandBody::Store { uid: false, .. }
                | CommandBody::Search { uid: false, .. }
        );
        // SELECT and EXAMINE have just loaded the whole view.
        let fresh_view = matches!(
            body,
            CommandBody::Select { .. } | CommandBody::Examine { .. }
        );
        let reply = match self.check_state(&body) {
            Some(reply) => reply,
            None => match self.dispatch(&tag, body).await? {
                Some(reply) => reply,
                None => return Ok(false), // LOGOUT
            },
        };
        if fresh_view {
            self.tagged(&tag, &reply).await?;
        } else {
            self.finish(&tag, reply, allow_expunge).await?;
        }
        Ok(!self.closing)
    }

    /// Reports changes to the selected mailbox, then the tagged reply.
    async fn finish(
        &mut self,
        tag: &str,
        reply: Reply,
        allow_expunge: bool,
    ) -> Result<(), ImapError> {
        if self.closing {
            return Ok(());
        }
        if self.view.is_some() {
            self.sync_view(allow_expunge).await?;
            if self.closing {
                return Ok(());
            }
        }
        self.tagged(tag, &reply).await
    }

    /// A reply when the command is not valid in the current state.
    fn check_state(&self, body: &CommandBody) -> Option<Reply> {
        use CommandBody as C;
        let state = self.state();
        match body {
            C::Capability | C::Noop | C::Logout => None,
            C::Login { .. } | C::Authenticate { .. } => {
                (state != State::NotAuthenticated).then(|| Reply::bad("Already authenticated"))
            }
            C::List { .. }
            | C::Lsub { .. }
            | C::Create { .. }
            | C::Delete { .. }
            | C::Rename { .. }
            | C::Select { .. }
            | C::Examine { .. }
            | C::Status { .. }
            | C::Append { .. } => {
                (state == State::NotAuthenticated).then(|| Reply::bad("Log in first"))
            }
            C::Check
            | C::Close
            | C::Unselect
            | C::Expunge
            | C::UidExpunge { .. }
            | C::Fetch { .. }
            | C::Search { .. }
            | C::Store { .. } => match state {
                State::NotAuthenticated => Some(Reply::bad("Log in first")),
                State::Authenticated => Some(Reply::bad("No mailbox selected")),
                State::Selected => None,
            },
        }
    }

    /// Runs a command valid in the current state; `None` for LOGOUT.
    async fn dispatch(&mut self, tag: &str, body: CommandBody) -> Result<Option<Reply>, ImapError> {
        use CommandBody as C;
        let reply = match body {
            C::Search { uid, charset, key } => self.search(uid, charset, &key).await?,
            C::Capability => {
                let mut out = Vec::new();
                mailkeep_imap_proto::capability_line(&mut out, self.capabilities());
                self.send(&out).await?;
                Reply::ok("Capability completed.")
            }
            C::Noop | C::Check => Reply::ok("Done."),
            C::Logout => {
                self.untagged(StatusKind::Bye, None, "Logging out").await?;
                self.tagged(tag, &Reply::ok("Logout completed.")).await?;
                return Ok(None);
            }
            C::Login { username, password } => self.login_command(&username, &password).await?,
            C::Authenticate {
                mechanism,
                initial_response,
            } => self.authenticate(&mechanism, initial_response).await?,
            C::List { reference, pattern } => self.list(&reference, &pattern, false).await?,
            C::Lsub { reference, pattern } => self.list(&reference, &pattern, true).await?,
            C::Create { mailbox } => self.create(&mailbox).await?,
            C::Delete { mailbox } => self.delete(&mailbox).await?,
            C::Rename { from, to } => self.rename(&from, &to).await?,
            C::Select { mailbox } => self.select(&mailbox, false).await?,
            C::Examine { mailbox } => self.select(&mailbox, true).await?,
            C::Status { mailbox, items } => self.status(&mailbox, &items).await?,
            C::Append { .. } => Reply::bad("APPEND without a message"),
            C::Close => self.close(true).await?,
            C::Unselect => self.close(false).await?,
            C::Expunge => self.expunge(None).await?,
            C::UidExpunge { set } => self.expunge(Some(set)).await?,
            C::Fetch {
                set,
                items,
                uid,
                changed_since,
            } => self.fetch(&set, &items, uid, changed_since).await?,
            C::Store {
                set,
                mode,
                silent,
                flags,
                uid,
                unchanged_since,
            } => {
                self.store(&set, mode, silent, &flags, uid, unchanged_since)
                    .await?
            }
        };
        Ok(Some(reply))
    }

    /// The storage client, asking the broker for one if there is none (or,
    /// with `fresh`, always).
    async fn storage_client(
        &mut self,
        fresh: bool,
    ) -> Result<StorageClient<LeasedChannel>, CallError> {
        Ok(storage_over(self.storage_channel(fresh).await?))
    }

    /// The channel to the storage process, asking the broker for one if
    /// there is none (or, with `fresh`, always).
    pub(crate) async fn storage_channel(
        &mut self,
        fresh: bool,
    ) -> Result<LeasedChannel, CallError> {
        if !fresh && let Some(channel) = &self.storage {
            return Ok(channel.clone());
        }
        self.storage = None;
        let login = self
            .login
            .as_ref()
            .ok_or_else(|| CallError::Broker("not logged in".into()))?;
        let channel = self
            .shared
            .backend
            .storage(&login.ticket, &login.user)
            .await
            .map_err(CallError::Broker)?;
        self.storage = Some(channel.clone());
        Ok(channel)
    }

    /// Makes a storage call. `f` builds and sends the request with the
    /// given client and ticket. On UNAVAILABLE the connection is replaced;
    /// an `idempotent` call is then retried once.
    pub async fn call<T, F, Fut>(&mut self, idempotent: bool, f: F) -> Result<T, CallError>
    where
        F: Fn(StorageClient<LeasedChannel>, &str) -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, Status>>,
    {
        self.renew_if_needed().await;
        let ticket = self
            .login
            .as_ref()
            .map(|l| l.ticket.clone())
            .unwrap_or_default();
        let client = self.storage_client(false).await?;
        match f(client, &ticket)
            .await
            .map_err(crate::errors::connection_lost)
        {
            Ok(response) => Ok(response.into_inner()),
            Err(status) if status.code() == Code::Unavailable => {
                tracing::info!(
                    message = status.message(),
                    "storage unavailable, reconnecting"
                );
                self.storage = None;
                if !idempotent {
                    return Err(status.into());
                }
                let client = self.storage_client(true).await?;
                match f(client, &ticket)
                    .await
                    .map_err(crate::errors::connection_lost)
                {
                    Ok(response) => Ok(response.into_inner()),
                    Err(status) => {
                        if status.code() == Code::Unavailable {
                            self.storage = None;
                        }
                        Err(status.into())
                    }
                }
            }
            Err(status) => Err(status.into()),
        }
    }

    /// The owner of the logged-in session's mail.
    pub fn owner(&self) -> String {
        self.login
            .as_ref()
            .map(|l| l.user.clone())
            .unwrap_or_default()
    }

    /// Asks storage what changed in the selected mailbox and reports it.
    /// Ends the session (BYE) if the view cannot be repaired.
    pub async fn sync_view(&mut self, allow_expunge: bool) -> Result<(), ImapError> {
        let Some(view) = &self.view else {
            return Ok(());
        };
        let request = ChangesRequest {
            owner: self.owner(),
            mailbox: view.mailbox.clone(),
            uidvalidity: view.uidvalidity,
            since_modseq: view.highest_modseq,
        };
        let result = self
            .call(true, |mut client, ticket| {
                let request = with_ticket(request.clone(), ticket);
                async move { client.changes(request).await }
            })
            .await;
        match result {
            Ok(changes) => {
                let highest = changes.status.map(|s| s.highestmodseq).unwrap_or(0);
                let changed = changes
                    .changed
                    .into_iter()
                    .map(|m| FlagUpdate {
                        uid: m.uid,
                        flags: m.flags,
                        modseq: m.modseq,
                    })
                    .collect();
                let updates = match self.view.as_mut() {
                    Some(view) => {
                        view.apply_changes(&changes.vanished, changed, highest, allow_expunge)
                    }
                    None => Vec::new(),
                };
                let mut out = Vec::new();
                response::updates(&mut out, &updates);
                self.send(&out).await
            }
            Err(CallError::Status(status))
                if matches!(status.code(), Code::FailedPrecondition | Code::NotFound) =>
            {
                self.view_lost().await
            }
            Err(error) => {
                tracing::warn!(?error, "could not fetch mailbox changes");
                Ok(())
            }
        }
    }

    /// The selected mailbox was deleted or its UIDVALIDITY changed.
    pub async fn view_lost(&mut self) -> Result<(), ImapError> {
        self.view = None;
        self.closing = true;
        self.untagged(
            StatusKind::Bye,
            None,
            "The selected mailbox was deleted or renumbered; closing",
        )
        .await
    }
}

/// A Storage client over `channel`, with the message size limits.
pub(crate) fn storage_over(channel: LeasedChannel) -> StorageClient<LeasedChannel> {
    StorageClient::new(channel)
        .max_decoding_message_size(mailkeep_storage_rpc::MAX_GRPC_MESSAGE)
        .max_encoding_message_size(mailkeep_storage_rpc::MAX_GRPC_MESSAGE)
}
