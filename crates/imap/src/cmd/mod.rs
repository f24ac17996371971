//! The commands: one file per command or family, each declaring its
//! [`Spec`] (name, how it runs beside others, the capability that
//! announces it), the state it needs (its [`Command::State`]: a handler of a
//! selected-state command receives the selected mailbox and cannot run
//! without one) and its handler. `table.rs` lists them, one line each.

pub(crate) mod acl;
pub(crate) mod append;
pub(crate) mod authenticate;
pub(crate) mod cancel_update;
pub(crate) mod capability;
pub(crate) mod close;
pub(crate) mod common;
pub(crate) mod copy_across;
pub(crate) mod copy_move;
pub(crate) mod enable;
pub(crate) mod expunge;
pub(crate) mod fetch;
pub(crate) mod idle;
pub(crate) mod info;
pub(crate) mod list;
pub(crate) mod login;
pub(crate) mod logout;
pub(crate) mod mailboxes;
pub(crate) mod metadata;
pub(crate) mod noop;
pub(crate) mod notify;
pub(crate) mod plugin;
pub(crate) mod search;
pub(crate) mod select;
pub(crate) mod sort;
pub(crate) mod status;
pub(crate) mod store;
pub(crate) mod subscribe;
pub(crate) mod thread;
pub(crate) mod unauthenticate;
pub(crate) mod upgrade;

use std::future::Future;
use std::sync::Arc;

use mailkeep_frontend::{Admission, ConnInfo};
use mailkeep_imap_proto::{FetchAttribute, Parser};

use crate::errors::ImapError;
use crate::io::{Output, Reader};
use crate::process::Process;
use crate::reply::Reply;
use crate::session::enabled::Enabled;
pub(crate) use crate::session::scheduler::Runs;
use crate::session::state::{FromState, Transition};

/// What the command table knows of a command.
#[derive(Debug)]
pub(crate) struct Spec {
    /// The command's name, as in the RFC.
    pub(crate) name: &'static str,
    /// How it runs beside the connection's other commands, unless the
    /// command says otherwise for its arguments ([`Command::runs`]).
    pub(crate) runs: Runs,
    /// The capability that announces it after login, if it has its own.
    pub(crate) capability: Option<&'static str>,
}

/// The connection's input, lent to an [`Runs::Exclusive`] command (APPEND
/// reads its literal, AUTHENTICATE the client's answers, IDLE the DONE) and
/// given back in its [`Done`].
pub(crate) struct Input {
    /// The received bytes.
    pub(crate) reader: Reader,
    /// The command parser, in the state the command left it.
    pub(crate) parser: Parser,
}

/// What every command gets besides its state.
pub(crate) struct Cx {
    /// The command's tag.
    pub(crate) tag: String,
    /// Where its untagged responses go.
    pub(crate) out: Output,
    /// The process's settings and shared links (auth, clock).
    pub(crate) process: Arc<Process>,
    /// Facts about the connection (peer, TLS, listener), as they were when
    /// the command started.
    pub(crate) conn: Arc<ConnInfo>,
    /// The extensions the client has enabled.
    pub(crate) enabled: Enabled,
    /// The input, for an exclusive command; `None` otherwise.
    pub(crate) input: Option<Box<Input>>,
    /// The connection's place under the per-address limits, and the
    /// client's address as auth knows it.
    pub(crate) admission: Arc<Admission>,
    /// What NOTIFY's MessageNew asks to be fetched of each message that
    /// arrives in the selected mailbox, if anything (for IDLE, which
    /// reports arrivals itself).
    pub(crate) new_message_items: Option<Arc<[FetchAttribute]>>,
}

/// How a command ended.
pub(crate) struct Done {
    /// The tagged reply the session sends (after reporting mailbox
    /// changes), or `None` when the command sent it itself (STARTTLS,
    /// LOGOUT).
    pub(crate) reply: Option<Reply>,
    /// How the session state changes.
    pub(crate) transition: Transition,
    /// Extensions the command enabled by using them (CONDSTORE by a
    /// MODSEQ), applied before the transition.
    pub(crate) enable: Option<Enabled>,
    /// The input an exclusive command was lent.
    pub(crate) input: Option<Box<Input>>,
}

impl Done {
    /// Ends with `reply` and no change of state.
    pub(crate) fn reply(reply: Reply) -> Done {
        Done {
            reply: Some(reply),
            transition: Transition::None,
            enable: None,
            input: None,
        }
    }

    /// Ends with `reply`, giving back the input of `cx`.
    pub(crate) fn reply_with_input(reply: Reply, cx: &mut Cx) -> Done {
        Done {
            reply: Some(reply),
            transition: Transition::None,
            enable: None,
            input: cx.input.take(),
        }
    }

    /// The same, changing the state.
    pub(crate) fn with(mut self, transition: Transition) -> Done {
        self.transition = transition;
        self
    }

    /// The same, enabling `enabled` (e.g. CONDSTORE used by the command).
    pub(crate) fn enabling(mut self, enabled: Enabled) -> Done {
        self.enable = Some(enabled);
        self
    }
}

/// One command: its arguments (a struct of `imap-proto`) and how it runs.
pub(crate) trait Command: Send + Sync + Sized + 'static {
    /// What of the session state the handler needs; the session refuses the
    /// command (BAD) in a state that cannot give it.
    type State: FromState;

    /// Name, concurrency, capability.
    const SPEC: Spec;

    /// How this invocation runs; a command whose arguments make it change
    /// what others see (FETCH that sets `\Seen`) says `Alone`.
    fn runs(&self) -> Runs {
        Self::SPEC.runs
    }

    /// Whether it names messages by sequence number (no EXPUNGE may be sent
    /// while it runs).
    fn uses_sequence_numbers(&self) -> bool {
        false
    }

    /// Whether the client sends it to hear of changes (NOOP, CHECK): the
    /// session then asks storage even when no change was announced.
    fn polls(&self) -> bool {
        false
    }

    /// Whether it ends or replaces the selection (SELECT, EXAMINE, CLOSE,
    /// UNSELECT, LOGOUT, UNAUTHENTICATE): the selected mailbox's changes
    /// are not worth following for it, so a session that selects and
    /// leaves opens no change stream.
    fn ends_selection(&self) -> bool {
        false
    }

    /// Runs the command.
    fn run(
        self,
        cx: Cx,
        state: Self::State,
    ) -> impl Future<Output = Result<Done, ImapError>> + Send;
}

/// A parsed command on its way to run, whatever its type.
pub(crate) trait Routed: Send + Sync {
    /// Its table entry.
    fn spec(&self) -> &'static Spec;
    /// How this invocation runs.
    fn runs(&self) -> Runs;
    /// Whether it names messages by sequence number.
    fn uses_sequence_numbers(&self) -> bool;
    /// Whether the client sends it to hear of changes.
    fn polls(&self) -> bool;
    /// Whether it ends or replaces the selection.
    fn ends_selection(&self) -> bool;
    /// Checks the state and makes the future that runs the command.
    fn start(
        self: Box<Self>,
        cx: Cx,
        state: &crate::session::state::State,
    ) -> Result<CommandFuture, Refused>;
}

/// A command the state refused: the reply, and the context it did not use
/// (which may hold the lent input).
pub(crate) type Refused = Box<(Reply, Cx)>;

/// A running command.
pub(crate) type CommandFuture =
    std::pin::Pin<Box<dyn Future<Output = Result<Done, ImapError>> + Send>>;

/// A command of type `C` as a [`Routed`].
pub(crate) struct Route<C>(pub(crate) C);

impl<C: Command> Routed for Route<C> {
    fn spec(&self) -> &'static Spec {
        &C::SPEC
    }

    fn runs(&self) -> Runs {
        self.0.runs()
    }

    fn uses_sequence_numbers(&self) -> bool {
        self.0.uses_sequence_numbers()
    }

    fn polls(&self) -> bool {
        self.0.polls()
    }

    fn ends_selection(&self) -> bool {
        self.0.ends_selection()
    }

    fn start(
        self: Box<Self>,
        cx: Cx,
        state: &crate::session::state::State,
    ) -> Result<CommandFuture, Refused> {
        match C::State::from_state(state) {
            Ok(part) => Ok(Box::pin(self.0.run(cx, part))),
            Err(reply) => Err(Box::new((reply, cx))),
        }
    }
}
