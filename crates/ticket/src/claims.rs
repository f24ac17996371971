//! What a ticket states: who, what for, in which session, until when,
//! issued by which host.

use std::fmt;

/// What a ticket allows (DESIGN §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Issued after a login: everything the user may do.
    Session,
    /// Issued for an LMTP recipient: append new mail, check quota; no reading.
    Deliver,
    /// Issued to the admin CLI run as root: everything.
    Admin,
}

impl Scope {
    fn code(self) -> u32 {
        match self {
            Scope::Session => 1,
            Scope::Deliver => 2,
            Scope::Admin => 3,
        }
    }

    fn from_code(code: u32) -> Option<Scope> {
        match code {
            1 => Some(Scope::Session),
            2 => Some(Scope::Deliver),
            3 => Some(Scope::Admin),
            _ => None,
        }
    }

    /// Whether a ticket of this scope may do what `need` requires.
    pub fn allows(self, need: Scope) -> bool {
        match self {
            Scope::Admin => true,
            Scope::Session => matches!(need, Scope::Session | Scope::Deliver),
            Scope::Deliver => need == Scope::Deliver,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scope::Session => "session",
            Scope::Deliver => "deliver",
            Scope::Admin => "admin",
        })
    }
}

/// The login session a ticket belongs to: every ticket auth issues for one
/// login (the first and each renewal) carries the same id, so revoking the
/// id at LOGOUT kills them all.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub [u8; 16]);

impl SessionId {
    /// A fresh random id.
    pub fn random() -> SessionId {
        SessionId(rand::random())
    }

    /// The id in `bytes`, if they are 16 long.
    pub fn from_slice(bytes: &[u8]) -> Option<SessionId> {
        bytes.try_into().ok().map(SessionId)
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({self})")
    }
}

impl fmt::Display for SessionId {
    /// The first 8 bytes in hex: enough to match log lines, not the whole id.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in &self.0[..8] {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// The statements a ticket carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// The user the ticket was issued to.
    pub user: String,
    /// What it allows.
    pub scope: Scope,
    /// The login session (or, for deliver and admin tickets, the one use)
    /// it belongs to.
    pub session: SessionId,
    /// Seconds since the epoch when it was issued.
    pub issued_unix: i64,
    /// Seconds since the epoch after which it is refused.
    pub expires_unix: i64,
    /// Seconds since the epoch after which no ticket of this session is
    /// issued or renewed: the cap on a session's life.
    pub session_ends_unix: i64,
    /// The host whose auth issued it; its public key verifies it.
    pub issuer: String,
    /// Auth's keyed digest of the user's stored password at login: a
    /// renewal is refused once the password changed. Opaque to everyone
    /// else; empty for deliver and admin tickets.
    pub password_stamp: Vec<u8>,
}

impl Claims {
    /// Makes claims for `user` in a fresh session, valid for
    /// `lifetime_secs` from `now_unix`; the session ends when the ticket
    /// does unless [`Claims::in_session`] says otherwise.
    pub fn new(
        user: &str,
        scope: Scope,
        now_unix: i64,
        lifetime_secs: i64,
        issuer: &str,
    ) -> Claims {
        let expires_unix = now_unix.saturating_add(lifetime_secs);
        Claims {
            user: user.to_owned(),
            scope,
            session: SessionId::random(),
            issued_unix: now_unix,
            expires_unix,
            session_ends_unix: expires_unix,
            issuer: issuer.to_owned(),
            password_stamp: Vec::new(),
        }
    }

    /// The same claims in session `session`, which ends at
    /// `session_ends_unix`; the ticket never outlives its session.
    pub fn in_session(mut self, session: SessionId, session_ends_unix: i64) -> Claims {
        self.session = session;
        self.session_ends_unix = session_ends_unix;
        self.expires_unix = self.expires_unix.min(session_ends_unix);
        self
    }

    /// The same claims with auth's password stamp.
    pub fn with_password_stamp(mut self, stamp: Vec<u8>) -> Claims {
        self.password_stamp = stamp;
        self
    }

    /// Until when a revocation of this ticket's session must be kept: no
    /// ticket of the session can be valid later. That is the session's end,
    /// or sooner: a renewal issued while the revocation travels expires at
    /// most one lifetime after this ticket does.
    pub fn revocation_horizon(&self) -> i64 {
        let lifetime = self.expires_unix.saturating_sub(self.issued_unix).max(0);
        self.session_ends_unix
            .min(self.expires_unix.saturating_add(lifetime))
            .max(self.expires_unix)
    }

    /// Checks that these (verified) claims allow `need` access to the mail
    /// of `owner`. Only admin tickets reach other owners' mail here; ACLs
    /// for shared mailboxes are decided by the storage process.
    pub fn authorize(&self, owner: &str, need: Scope) -> Result<(), crate::TicketError> {
        if !self.scope.allows(need) {
            return Err(crate::TicketError::WrongScope {
                have: self.scope,
                need,
            });
        }
        if self.scope != Scope::Admin && self.user != owner {
            return Err(crate::TicketError::WrongOwner {
                user: self.user.clone(),
                owner: owner.to_owned(),
            });
        }
        Ok(())
    }

    pub(crate) fn to_wire(&self) -> WireClaims {
        WireClaims {
            user: self.user.clone(),
            scope: self.scope.code(),
            issued_unix: self.issued_unix,
            expires_unix: self.expires_unix,
            issuer: self.issuer.clone(),
            session: self.session.0.to_vec(),
            session_ends_unix: self.session_ends_unix,
            password_stamp: self.password_stamp.clone(),
        }
    }

    pub(crate) fn from_wire(w: WireClaims) -> Option<Claims> {
        Some(Claims {
            scope: Scope::from_code(w.scope)?,
            session: SessionId(w.session.as_slice().try_into().ok()?),
            user: w.user,
            issued_unix: w.issued_unix,
            expires_unix: w.expires_unix,
            session_ends_unix: w.session_ends_unix,
            issuer: w.issuer,
            password_stamp: w.password_stamp,
        })
    }
}

/// The protobuf encoding of [`Claims`].
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct WireClaims {
    #[prost(string, tag = "1")]
    pub user: String,
    #[prost(uint32, tag = "2")]
    pub scope: u32,
    #[prost(int64, tag = "3")]
    pub issued_unix: i64,
    #[prost(int64, tag = "4")]
    pub expires_unix: i64,
    #[prost(string, tag = "5")]
    pub issuer: String,
    #[prost(bytes = "vec", tag = "6")]
    pub session: Vec<u8>,
    #[prost(int64, tag = "7")]
    pub session_ends_unix: i64,
    #[prost(bytes = "vec", tag = "8")]
    pub password_stamp: Vec<u8>,
}
