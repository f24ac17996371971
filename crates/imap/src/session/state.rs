//! The protocol state (RFC 9051 §3) as data: each state carries what
//! commands in it need, so a command that needs the selected mailbox gets
//! it handed over and cannot run without one.

use std::sync::Arc;

use mailkeep_frontend::{Retry, Rpc, Storage, StorageError};
use mailkeep_storage_rpc::broker::RefusalCode;
use mailkeep_storage_rpc::errors::{ErrorReason, status};

use crate::reply::Reply;
use crate::session::enabled::Enabled;
use crate::session::mailbox::Mailbox;

/// A logged-in session: its way to storage (user, ticket, channels).
#[derive(Clone)]
pub(crate) struct Authed {
    /// The storage path of this login.
    pub(crate) storage: Storage,
    /// The owner of the public namespace (`Public.`), if there is one.
    pub(crate) public_owner: Option<Arc<str>>,
    /// How often NOTIFY asks again who shares with the user
    /// ([`crate::ImapSettings::notify_owners_refresh`]).
    pub(crate) owners_refresh: std::time::Duration,
}

impl Authed {
    /// The logged-in user: the owner of the personal namespace and of the
    /// subscriptions. A mailbox's owner comes from its
    /// [`MailboxRef`](crate::namespace::MailboxRef) (or, when selected,
    /// from [`Selected::owner`]), never from here.
    pub(crate) fn user(&self) -> &str {
        self.storage.user()
    }

    /// The public namespace's owner, unless it is the user (whose own
    /// mailboxes are personal).
    pub(crate) fn public_owner(&self) -> Option<&str> {
        self.public_owner
            .as_deref()
            .filter(|owner| !owner.is_empty() && *owner != self.user())
    }

    /// The name the client sees for `mailbox`: personal, `Public.<name>`
    /// for the public namespace's owner, else `shared.<owner>.<name>`.
    pub(crate) fn shown(&self, mailbox: &crate::namespace::MailboxRef) -> String {
        match self.public_owner() {
            Some(public) if mailbox.owner == public => crate::namespace::public_name(&mailbox.name),
            _ => mailbox.client_name(self.user()),
        }
    }

    /// Makes a call to the storage of `owner` (the user's own, or an owner
    /// who shares with the user); a refusal as [`Authed::as_seen`] says.
    pub(crate) async fn call<T, F, Fut>(
        &self,
        owner: &str,
        retry: Retry,
        f: F,
    ) -> Result<T, StorageError>
    where
        F: Fn(Rpc) -> Fut,
        Fut: std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        let result = self.storage.call(owner, retry, f).await;
        result.map_err(|e| self.as_seen(owner, e))
    }

    /// A failed call to `owner`'s storage as the client may learn of it:
    /// another owner's storage that refuses the user outright is a
    /// mailbox that does not exist (its existence is not revealed).
    pub(crate) fn as_seen(&self, owner: &str, error: StorageError) -> StorageError {
        match error {
            StorageError::Connect(e) if owner != self.user() && e.code == RefusalCode::Refused => {
                tracing::debug!(owner, error = %e, "another owner's storage refused the user");
                StorageError::Status(status(ErrorReason::Nonexistent, "No such mailbox"))
            }
            other => other,
        }
    }
}

/// Where the session is.
pub(crate) enum State {
    /// Before login.
    NotAuthenticated,
    /// Logged in, no mailbox selected.
    Authenticated(Authed),
    /// A mailbox is selected.
    Selected(Authed, Arc<Mailbox>),
    /// LOGOUT was answered; the connection closes.
    Logout,
}

impl State {
    /// The login, in the authenticated and selected states.
    pub(crate) fn authed(&self) -> Option<&Authed> {
        match self {
            State::Authenticated(a) | State::Selected(a, _) => Some(a),
            State::NotAuthenticated | State::Logout => None,
        }
    }

    /// The selected mailbox, if any.
    pub(crate) fn mailbox(&self) -> Option<&Arc<Mailbox>> {
        match self {
            State::Selected(_, m) => Some(m),
            _ => None,
        }
    }
}

/// How a command changes the state.
pub(crate) enum Transition {
    /// It does not.
    None,
    /// LOGIN / AUTHENTICATE succeeded.
    LoggedIn(Authed),
    /// SELECT / EXAMINE succeeded.
    Select(Arc<Mailbox>),
    /// CLOSE / UNSELECT, a failed SELECT, or the mailbox was deleted.
    Unselect,
    /// UNAUTHENTICATE.
    Unauthenticate,
    /// LOGOUT.
    Logout,
    /// ENABLE (or a command that enables CONDSTORE by using it).
    Enable(Enabled),
    /// NOTIFY SET (with its change stream) or NOTIFY NONE.
    Notify(Option<Box<crate::session::notifier::Notifier>>),
}

/// The part of the state a command needs; refused with a BAD reply in a
/// state that does not have it.
pub(crate) trait FromState: Sized + Send + 'static {
    /// Takes the part out of `state`, or says why the command cannot run.
    fn from_state(state: &State) -> Result<Self, Reply>;
}

/// Commands valid in every state (CAPABILITY, NOOP, LOGOUT, ID).
pub(crate) struct AnyState {
    /// The login, when there is one.
    pub(crate) authed: Option<Authed>,
    /// The selected mailbox, when there is one.
    pub(crate) selected: Option<Arc<Mailbox>>,
}

impl FromState for AnyState {
    fn from_state(state: &State) -> Result<Self, Reply> {
        Ok(AnyState {
            authed: state.authed().cloned(),
            selected: state.mailbox().cloned(),
        })
    }
}

/// Commands valid only before login (LOGIN, AUTHENTICATE, STARTTLS).
pub(crate) struct NotAuthenticated;

impl FromState for NotAuthenticated {
    fn from_state(state: &State) -> Result<Self, Reply> {
        match state {
            State::NotAuthenticated => Ok(NotAuthenticated),
            _ => Err(Reply::bad("Already authenticated")),
        }
    }
}

/// Commands valid once logged in, selected or not (LIST, CREATE, SELECT,
/// APPEND, IDLE, ...).
pub(crate) struct Authenticated {
    /// The login.
    pub(crate) authed: Authed,
    /// The selected mailbox, if any.
    pub(crate) selected: Option<Arc<Mailbox>>,
}

impl FromState for Authenticated {
    fn from_state(state: &State) -> Result<Self, Reply> {
        match state {
            State::Authenticated(authed) => Ok(Authenticated {
                authed: authed.clone(),
                selected: None,
            }),
            State::Selected(authed, mailbox) => Ok(Authenticated {
                authed: authed.clone(),
                selected: Some(mailbox.clone()),
            }),
            _ => Err(Reply::bad("Log in first")),
        }
    }
}

/// Commands of the selected state (FETCH, STORE, SEARCH, EXPUNGE, ...).
pub(crate) struct Selected {
    /// The login.
    pub(crate) authed: Authed,
    /// The selected mailbox.
    pub(crate) mailbox: Arc<Mailbox>,
}

impl Selected {
    /// The selected mailbox's owner: every call about it goes there.
    pub(crate) fn owner(&self) -> &str {
        self.mailbox.owner()
    }

    /// Makes a call to the storage of the selected mailbox's owner.
    pub(crate) async fn call<T, F, Fut>(&self, retry: Retry, f: F) -> Result<T, StorageError>
    where
        F: Fn(Rpc) -> Fut,
        Fut: std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        self.authed.call(self.owner(), retry, f).await
    }
}

impl FromState for Selected {
    fn from_state(state: &State) -> Result<Self, Reply> {
        match state {
            State::Selected(authed, mailbox) => Ok(Selected {
                authed: authed.clone(),
                mailbox: mailbox.clone(),
            }),
            State::Authenticated(_) => Err(Reply::bad("No mailbox selected")),
            _ => Err(Reply::bad("Log in first")),
        }
    }
}
