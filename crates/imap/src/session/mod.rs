//! One client's session: reads and parses commands, starts them when the
//! scheduler allows (side by side where they do not depend on each other),
//! and when each ends reports what changed in the selected mailbox, sends
//! its tagged reply and applies its change of state.

pub(crate) mod contexts;
pub(crate) mod enabled;
pub(crate) mod mailbox;
pub(crate) mod notifier;
pub(crate) mod recent;
pub(crate) mod scheduler;
pub(crate) mod shared_notify;
pub(crate) mod state;
pub(crate) mod waits;
pub(crate) mod watch_call;
pub(crate) mod watcher;

use std::collections::VecDeque;
use std::sync::Arc;

use mailkeep_frontend::{Admission, ConnInfo, Traffic};
use mailkeep_imap_proto::{Code, FetchAttribute, Outcome, StatusKind, status_response};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::cmd::fetch::announce::NewMessages;
use crate::cmd::{Cx, Done, Input, Routed, Runs};
use crate::errors::ImapError;
use crate::io::{Output, ReadError, Reader};
use crate::namespace::MailboxRef;
use crate::process::Process;
use crate::reply::Reply;
use enabled::Enabled;
use mailbox::Synced;
use notifier::{Arrival, Notice, Notifier};
use scheduler::Scheduler;
use state::{FromState, Selected, State, Transition};

/// Parsed commands waiting to start, at most; the session stops reading
/// while this many wait.
const MAX_QUEUED: usize = 32;

/// A parsed command waiting to start.
struct Queued {
    tag: String,
    command: Box<dyn Routed>,
}

/// What a running command's task gives back: its scheduler id, its tag,
/// whether it polls for changes, and how it ended.
type Ended = (u64, String, bool, Result<Done, ImapError>);

/// What woke the session's loop.
enum Woke {
    /// A command's task ended.
    Ended(Result<Ended, tokio::task::JoinError>),
    /// NOTIFY's change stream had an event (`None`: it ended).
    Notified(Option<Arrival>),
    /// The selected mailbox of another owner changed (NOTIFY on).
    SharedSelectedChanged,
    /// Input arrived, or reading it failed.
    Filled(Result<(), ReadError>),
}

/// Whether the session's loop goes on.
#[derive(PartialEq, Eq)]
enum Flow {
    Continue,
    Stop,
}

/// One client session.
pub(crate) struct Session {
    process: Arc<Process>,
    out: Output,
    /// The connection's input; `None` while an exclusive command has it.
    /// Boxed: an idle session lends it to IDLE, and would otherwise keep
    /// an empty slot its size.
    input: Option<Box<Input>>,
    state: State,
    enabled: Enabled,
    facts: Arc<ConnInfo>,
    queue: VecDeque<Queued>,
    scheduler: Scheduler,
    running: JoinSet<Ended>,
    /// When the login timeout started (the connection was accepted, or
    /// UNAUTHENTICATE).
    started: Instant,
    /// When the connection was accepted.
    started_at: Instant,
    /// A BYE was sent: close once the current work is done.
    closing: bool,
    /// What NOTIFY asked to be told, with its change stream.
    notifier: Option<Box<Notifier>>,
    /// The connection's place under the per-address limits.
    admission: Arc<Admission>,
    /// What it carried, and how many commands, for the line at its end.
    traffic: Arc<Traffic>,
    commands: u64,
    /// The user last logged in on it, for that line.
    user: Option<String>,
}

impl Session {
    /// A session on a new connection.
    pub(crate) fn new(
        process: Arc<Process>,
        reader: Reader,
        out: Output,
        facts: ConnInfo,
        admission: Arc<Admission>,
        traffic: Arc<Traffic>,
    ) -> Session {
        let parser = process.parser();
        Session {
            process,
            out,
            input: Some(Box::new(Input { reader, parser })),
            state: State::NotAuthenticated,
            enabled: Enabled::default(),
            facts: Arc::new(facts),
            queue: VecDeque::new(),
            scheduler: Scheduler::default(),
            running: JoinSet::new(),
            started: Instant::now(),
            started_at: Instant::now(),
            closing: false,
            notifier: None,
            admission,
            traffic,
            commands: 0,
            user: None,
        }
    }

    /// Serves the connection until LOGOUT, a close, or a failure. Boxed:
    /// the session's task keeps a pointer, not the session (twice: an
    /// async fn keeps its argument and the binding it moves to).
    pub(crate) async fn run(mut self: Box<Self>) -> Result<(), ImapError> {
        let caps = self.process.capabilities(&self.state, &self.facts, false);
        self.untagged(
            StatusKind::Ok,
            Some(Code::Capability(caps)),
            "mailkeep ready.",
        )
        .await?;
        let result = self.serve().await;
        let _ = self.out.flush().await;
        self.running.shutdown().await;
        self.log_end();
        result
    }

    /// The one line per connection at its end (README "Logs"): who, from
    /// where, how long, how much, how many commands.
    fn log_end(&self) {
        mailkeep_frontend::SessionEnd {
            user: self.user.as_deref(),
            admission: &self.admission,
            started_at: self.started_at,
            traffic: &self.traffic,
            commands: self.commands,
        }
        .log();
    }

    /// The read, parse, start and finish loop.
    async fn serve(&mut self) -> Result<(), ImapError> {
        // What runs between waits is boxed: the session's task keeps only
        // what the wait itself needs, for as long as the client is idle.
        loop {
            Box::pin(self.parse_buffered()).await?;
            Box::pin(self.start_ready()).await?;
            if self.closing || (matches!(self.state, State::Logout) && self.scheduler.is_idle()) {
                return Ok(());
            }
            self.out.flush().await?;
            let deadline = self.deadline();
            let want_input = self.wants_input();
            let idle = self.scheduler.is_idle();
            if self.notifier.is_some() {
                // NOTIFY reports the selected mailbox's changes between
                // commands, as they come.
                self.follow_selected();
            }
            // NOTIFY's streams leave the selected mailbox of another
            // owner to its own watcher.
            let shared_selected = self.notified_shared_mailbox().filter(|_| idle);
            let woke = tokio::select! {
                Some(joined) = self.running.join_next(), if !self.running.is_empty() => {
                    Woke::Ended(joined)
                }
                event = next_event(self.notifier.as_deref_mut()), if self.notifier.is_some() => {
                    Woke::Notified(event)
                }
                () = changed(shared_selected.as_deref()), if shared_selected.is_some() => {
                    Woke::SharedSelectedChanged
                }
                filled = fill(self.input.as_deref_mut(), deadline), if want_input => {
                    Woke::Filled(filled)
                }
            };
            // Handled in a box of its own: what woke the loop is not kept
            // in the loop's future while the client idles.
            if Box::pin(self.woke(woke, idle)).await? == Flow::Stop {
                return Ok(());
            }
        }
    }

    /// Handles what woke the loop.
    async fn woke(&mut self, woke: Woke, idle: bool) -> Result<Flow, ImapError> {
        match woke {
            Woke::Ended(Ok(ended)) => self.finish(ended).await?,
            Woke::Ended(Err(e)) => {
                // A command task panicked: the connection's state is
                // unknown, so it ends.
                tracing::error!(error = %e, "command task failed");
                self.bye("Internal error, closing").await?;
            }
            Woke::Notified(event) => self.notified(event).await?,
            Woke::SharedSelectedChanged => self.shared_selected_changed().await?,
            Woke::Filled(Ok(())) => {}
            Woke::Filled(Err(ReadError::Eof)) => return Ok(Flow::Stop),
            Woke::Filled(Err(ReadError::Timeout)) if idle => {
                self.bye("Autologout; idle for too long").await?;
            }
            Woke::Filled(Err(ReadError::Timeout)) => {}
            Woke::Filled(Err(ReadError::Io(e))) => return Err(e.into()),
        }
        Ok(Flow::Continue)
    }

    /// Whether the loop should read more input now.
    fn wants_input(&self) -> bool {
        self.input.is_some()
            && self.queue.len() < MAX_QUEUED
            && !self
                .queue
                .iter()
                .any(|q| q.command.runs() == Runs::Exclusive)
    }

    /// How long to wait for the client's next bytes.
    fn deadline(&self) -> Instant {
        match self.state {
            State::NotAuthenticated => self.started + self.process.settings.login_timeout,
            _ => Instant::now() + self.process.settings.idle_timeout,
        }
    }

    /// Parses the commands already received, queueing them, until the
    /// buffer holds no complete command or an exclusive command was queued
    /// (the bytes after it are its own).
    async fn parse_buffered(&mut self) -> Result<(), ImapError> {
        while self.wants_input() {
            let Some(input) = self.input.as_mut() else {
                return Ok(());
            };
            match input.parser.next(input.reader.buf()) {
                Outcome::Incomplete => {
                    // Part of a command came (a literal, say): the client
                    // may hold the rest until that part is acknowledged.
                    if !input.reader.buf().is_empty() {
                        input.reader.conn().acknowledge_received();
                    }
                    return Ok(());
                }
                Outcome::SendContinuation => self.out.send(b"+ OK\r\n").await?,
                Outcome::Command { command, consumed }
                | Outcome::AppendBegin { command, consumed } => {
                    // An APPEND's message follows in the stream; the APPEND
                    // (exclusive) takes the input and reads it.
                    input.reader.consume(consumed);
                    self.commands += 1;
                    self.queue.push_back(Queued {
                        tag: command.tag,
                        command: crate::table::route(command.body),
                    });
                }
                Outcome::AppendMessage { consumed, .. }
                | Outcome::AppendUrl { consumed, .. }
                | Outcome::AppendLiteral { consumed, .. }
                | Outcome::AppendEnd { consumed } => {
                    // APPEND reads these itself; here only after an APPEND
                    // was abandoned. Skip them.
                    input.reader.consume(consumed);
                }
                Outcome::Error {
                    tag,
                    message,
                    consumed,
                    close,
                    code,
                } => {
                    input.reader.consume(consumed);
                    let kind = if code.is_some() {
                        StatusKind::No
                    } else {
                        StatusKind::Bad
                    };
                    let mut out = Vec::new();
                    status_response(&mut out, tag.as_deref(), kind, code.as_ref(), &message);
                    self.out.send(&out).await?;
                    if close {
                        self.bye("Protocol error, closing").await?;
                        return Ok(());
                    }
                }
            }
        }
        Ok(())
    }

    /// Starts the queued commands that may start, in order.
    async fn start_ready(&mut self) -> Result<(), ImapError> {
        while let Some(front) = self.queue.front() {
            let runs = front.command.runs();
            if !self.scheduler.may_start(runs) {
                return Ok(());
            }
            let Some(Queued { tag, command }) = self.queue.pop_front() else {
                return Ok(());
            };
            let uses_sequence_numbers = command.uses_sequence_numbers();
            let polls = command.polls();
            tracing::debug!(command = command.spec().name, %tag, "start");
            if self.enabled.uidonly && uses_sequence_numbers {
                let reply = Reply::bad("Sequence numbers are not allowed after ENABLE UIDONLY")
                    .code(Code::UidRequired);
                self.tagged(&tag, &reply).await?;
                continue;
            }
            let input = if runs == Runs::Exclusive {
                self.input.take()
            } else {
                None
            };
            if !command.ends_selection() {
                self.follow_selected();
            }
            let cx = self.context(tag.clone(), input);
            match command.start(cx, &self.state) {
                Ok(future) => {
                    let id = self.scheduler.start(runs, uses_sequence_numbers);
                    self.running
                        .spawn(async move { (id, tag, polls, future.await) });
                }
                Err(refused) => {
                    let (reply, mut cx) = *refused;
                    if let Some(input) = cx.input.take() {
                        self.input = Some(input);
                    }
                    self.tagged(&tag, &reply).await?;
                }
            }
        }
        Ok(())
    }

    /// A command ended: take back what it borrowed, apply its change of
    /// state, report what changed in the selected mailbox, and send its
    /// tagged reply.
    async fn finish(&mut self, (id, tag, polls, result): Ended) -> Result<(), ImapError> {
        let used_sequence_numbers = self.scheduler.end(id);
        let done = result?;
        if let Some(mut input) = done.input {
            // STARTTLS and COMPRESS change the connection under the input.
            self.facts = Arc::new(input.reader.conn().info().clone());
            self.input = Some(input);
        }
        let selected_now = matches!(done.transition, Transition::Select(_));
        if let Some(more) = done.enable {
            self.apply(Transition::Enable(more));
        }
        self.apply(done.transition);
        let Some(reply) = done.reply else {
            return Ok(());
        };
        let allow_expunge = !used_sequence_numbers && self.scheduler.expunge_allowed();
        if !selected_now
            && let (Some(authed), Some(mailbox)) = (self.state.authed(), self.state.mailbox())
        {
            let new = NewMessages::before(self.new_message_items(), mailbox);
            // NOOP and CHECK ask storage; other commands take what the
            // watch brought whole when they can.
            let synced = if polls {
                mailbox
                    .sync(&authed.storage, &self.out, allow_expunge, self.enabled)
                    .await?
            } else {
                mailbox
                    .catch_up_if_behind(&authed.storage, &self.out, allow_expunge, self.enabled)
                    .await?
            };
            if synced == Synced::Lost {
                self.bye("The selected mailbox was deleted or renumbered; closing")
                    .await?;
                return Ok(());
            }
            if let Some(new) = new {
                self.announce(new).await?;
            }
        }
        self.tagged(&tag, &reply).await
    }

    /// Applies a command's change of state.
    fn apply(&mut self, transition: Transition) {
        let state = std::mem::replace(&mut self.state, State::Logout);
        self.state = match (transition, state) {
            (Transition::None, state) => state,
            (Transition::LoggedIn(authed), _) => {
                self.user = Some(authed.user().to_owned());
                State::Authenticated(authed)
            }
            (Transition::Select(mailbox), State::Authenticated(a) | State::Selected(a, _)) => {
                State::Selected(a, mailbox)
            }
            (Transition::Unselect, State::Selected(a, _)) => State::Authenticated(a),
            (Transition::Unauthenticate, _) => {
                self.admission.log_out();
                self.enabled = Enabled::default();
                self.notifier = None;
                if let Some(input) = self.input.as_mut() {
                    input.parser.set_utf8(false);
                }
                self.started = Instant::now();
                State::NotAuthenticated
            }
            (Transition::Logout, _) => State::Logout,
            (Transition::Notify(notifier), state) => {
                self.notifier = notifier;
                state
            }
            (Transition::Enable(more), state) => {
                self.enabled = self.enabled.union(more);
                if let Some(input) = self.input.as_mut() {
                    // IMAP4rev2 names mailboxes in UTF-8 as UTF8=ACCEPT does.
                    input
                        .parser
                        .set_utf8(self.enabled.utf8 || self.enabled.rev2);
                }
                state
            }
            (_, state) => state,
        };
    }

    /// Reports what a NOTIFY event means, when the client asked for it.
    async fn notified(&mut self, arrival: Option<Arrival>) -> Result<(), ImapError> {
        let (Some(arrival), Some(notifier)) = (arrival, self.notifier.as_mut()) else {
            tracing::warn!("the NOTIFY change stream ended; notifications stop");
            self.notifier = None;
            return Ok(());
        };
        let selected = self.state.mailbox().map(|m| MailboxRef {
            owner: m.owner().to_owned(),
            name: m.name(),
        });
        let Some(authed) = self.state.authed() else {
            return Ok(());
        };
        let delays_expunges = notifier.delays_expunges();
        let notices = notifier
            .notices(authed, arrival, selected.as_ref(), self.enabled)
            .await;
        // Before the subscription's LIST goes out: once the client hears
        // of it, the mailbox's changes are reported.
        notifier.watch_subscribed(authed).await;
        if notices.is_empty() {
            return Ok(());
        }
        for notice in notices {
            match notice {
                Notice::Selected => {
                    // While commands run, their end reports the change.
                    if !self.scheduler.is_idle() {
                        continue;
                    }
                    if let Some(mailbox) = self.state.mailbox() {
                        let new = NewMessages::before(self.new_message_items(), mailbox);
                        let synced = mailbox
                            .sync(&authed.storage, &self.out, !delays_expunges, self.enabled)
                            .await?;
                        if synced == Synced::Lost {
                            return self
                                .bye("The selected mailbox was deleted or renumbered; closing")
                                .await;
                        }
                        if let Some(new) = new {
                            self.announce(new).await?;
                        }
                    }
                }
                Notice::Status(mailbox) => {
                    notifier::send_status(authed, &self.out, &mailbox, self.enabled).await?;
                }
                Notice::List(line) => self.out.send(&line).await?,
            }
        }
        Ok(self.out.flush().await?)
    }

    /// Starts following the selected mailbox's changes, if one is
    /// selected and they are not followed yet.
    fn follow_selected(&self) {
        if let (Some(authed), Some(mailbox)) = (self.state.authed(), self.state.mailbox()) {
            mailbox.follow_changes(&authed.storage);
        }
    }

    /// The selected mailbox, when NOTIFY is on and the mailbox is another
    /// owner's (its changes come through its watcher, not the stream).
    fn notified_shared_mailbox(&self) -> Option<Arc<mailbox::Mailbox>> {
        self.notifier.as_ref()?;
        let user = self.state.authed()?.user();
        self.state.mailbox().filter(|m| m.owner() != user).cloned()
    }

    /// A selected mailbox of another owner changed while NOTIFY is on and
    /// no command runs: reports the change as NOTIFY's SELECTED does.
    async fn shared_selected_changed(&mut self) -> Result<(), ImapError> {
        let delays_expunges = self.notifier.as_ref().is_some_and(|n| n.delays_expunges());
        let (Some(authed), Some(mailbox)) = (self.state.authed(), self.state.mailbox()) else {
            return Ok(());
        };
        if !mailbox.take_change() {
            return Ok(());
        }
        let new = NewMessages::before(self.new_message_items(), mailbox);
        let synced = mailbox
            .catch_up(&authed.storage, &self.out, !delays_expunges, self.enabled)
            .await?;
        if synced == Synced::Lost {
            return self
                .bye("The selected mailbox was deleted or renumbered; closing")
                .await;
        }
        if let Some(new) = new {
            self.announce(new).await?;
        }
        Ok(self.out.flush().await?)
    }

    /// A context for a command, or (tag empty, no input) for what the
    /// session sends unasked.
    fn context(&self, tag: String, input: Option<Box<Input>>) -> Cx {
        Cx {
            tag,
            out: self.out.clone(),
            process: self.process.clone(),
            conn: self.facts.clone(),
            enabled: self.enabled,
            input,
            admission: Arc::clone(&self.admission),
            new_message_items: self.new_message_items(),
        }
    }

    /// What NOTIFY's MessageNew asks to be fetched of the messages that
    /// arrive in the selected mailbox, if anything.
    fn new_message_items(&self) -> Option<Arc<[FetchAttribute]>> {
        let notifier = self.notifier.as_ref()?;
        let authed = self.state.authed()?;
        let mailbox = self.state.mailbox()?;
        let shown = authed.shown(&MailboxRef {
            owner: mailbox.owner().to_owned(),
            name: mailbox.name(),
        });
        notifier.new_message_items(&shown, mailbox.owner() == authed.user())
    }

    /// After the selected mailbox was synced: the items NOTIFY's
    /// MessageNew asks for, of the messages the sync brought.
    async fn announce(&self, new: NewMessages) -> Result<(), ImapError> {
        let Ok(selected) = Selected::from_state(&self.state) else {
            return Ok(());
        };
        new.announce(&self.context(String::new(), None), &selected)
            .await
    }

    /// Sends a tagged reply.
    async fn tagged(&self, tag: &str, reply: &Reply) -> Result<(), ImapError> {
        let mut out = Vec::new();
        status_response(
            &mut out,
            Some(tag),
            reply.kind,
            reply.code.as_ref(),
            &reply.text,
        );
        Ok(self.out.send(&out).await?)
    }

    /// Sends an untagged status response.
    async fn untagged(
        &self,
        kind: StatusKind,
        code: Option<Code>,
        text: &str,
    ) -> Result<(), ImapError> {
        let mut out = Vec::new();
        status_response(&mut out, None, kind, code.as_ref(), text);
        Ok(self.out.send(&out).await?)
    }

    /// Says goodbye; the connection closes once the loop notices.
    async fn bye(&mut self, text: &str) -> Result<(), ImapError> {
        self.closing = true;
        self.untagged(StatusKind::Bye, None, text).await
    }
}

/// The next NOTIFY event; never ready without a notifier.
async fn next_event(notifier: Option<&mut Notifier>) -> Option<Arrival> {
    match notifier {
        Some(notifier) => notifier.next().await,
        None => std::future::pending().await,
    }
}

/// Resolves when `mailbox` may have changed; never without one.
async fn changed(mailbox: Option<&mailbox::Mailbox>) {
    match mailbox {
        Some(mailbox) => mailbox.mark().changed().await,
        None => std::future::pending().await,
    }
}

/// Reads more input, if there is an input to read.
async fn fill(input: Option<&mut Input>, deadline: Instant) -> Result<(), ReadError> {
    match input {
        Some(input) => input.reader.fill(deadline).await,
        None => std::future::pending().await,
    }
}
