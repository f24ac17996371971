//! What a ticket states: who, what for, until when, issued by whom.

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

/// The statements a ticket carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// The user the ticket was issued to.
    pub user: String,
    /// What it allows.
    pub scope: Scope,
    /// Seconds since the epoch when it was issued.
    pub issued_unix: i64,
    /// Seconds since the epoch after which it is refused.
    pub expires_unix: i64,
    /// The host whose auth issued it.
    pub issuer: String,
    /// Random bytes that make every ticket distinct (for logs and revocation).
    pub nonce: Vec<u8>,
}

impl Claims {
    /// Makes claims for `user` with a fresh random nonce, valid for
    /// `lifetime_secs` from `now_unix`.
    pub fn new(
        user: &str,
        scope: Scope,
        now_unix: i64,
        lifetime_secs: i64,
        issuer: &str,
    ) -> Claims {
        Claims {
            user: user.to_owned(),
            scope,
            issued_unix: now_unix,
            expires_unix: now_unix.saturating_add(lifetime_secs),
            issuer: issuer.to_owned(),
            nonce: rand::random::<[u8; 12]>().to_vec(),
        }
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
            nonce: self.nonce.clone(),
        }
    }

    pub(crate) fn from_wire(w: WireClaims) -> Option<Claims> {
        Some(Claims {
            scope: Scope::from_code(w.scope)?,
            user: w.user,
            issued_unix: w.issued_unix,
            expires_unix: w.expires_unix,
            issuer: w.issuer,
            nonce: w.nonce,
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
    pub nonce: Vec<u8>,
}
