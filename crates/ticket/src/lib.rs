//! Tickets: what a protocol process shows a storage process to prove who
//! its client is (DESIGN §2). Auth issues them after a login, signed with
//! its host's Ed25519 key, which no other process holds; the broker,
//! gateways and storage processes verify them with the issuing host's
//! public key from the trusted-host list on every use, so none of them can
//! mint one. Protocol processes hold them as opaque strings.
//!
//! Wire form: `mk2.<base64url(claims)>.<base64url(signature)>`, where the
//! claims are a small protobuf message naming the issuer and the signature
//! (64 bytes) covers `mk2.<base64url(claims)>`. About 200 characters.

mod claims;
mod key;
mod revocations;
mod trusted;
mod verifier;

pub use claims::{Claims, Scope, SessionId};
pub use key::{HostKey, KeyError, PublicKey};
pub use revocations::Revocations;
pub use trusted::TrustedHosts;
pub use verifier::Verifier;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use prost::Message;
pub use zeroize::Zeroizing;

/// The version prefix of the ticket format.
const PREFIX: &str = "mk2";

/// The longest ticket accepted, so verification never works on huge input.
pub const MAX_TICKET_LEN: usize = 4096;

/// Why a ticket was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TicketError {
    /// Not of the ticket form at all.
    #[error("ticket is malformed")]
    Malformed,
    /// Issued by a host that is not on the trusted-host list.
    #[error("ticket issuer {0:?} is not a trusted host")]
    UnknownIssuer(String),
    /// The signature does not verify with the issuer's public key: forged,
    /// or signed by another host's key under this issuer's name.
    #[error("ticket signature does not verify")]
    BadSignature,
    /// Past its expiry time.
    #[error("ticket expired")]
    Expired,
    /// Its session ended (LOGOUT, connection closed): revoked.
    #[error("ticket's session was revoked")]
    Revoked,
    /// Valid, but does not allow this kind of access.
    #[error("ticket scope {have} does not allow {need} access")]
    WrongScope {
        /// The ticket's scope.
        have: Scope,
        /// The scope the operation needs.
        need: Scope,
    },
    /// Valid, but for another user.
    #[error("ticket of user {user:?} does not give access to {owner:?}")]
    WrongOwner {
        /// The ticket's user.
        user: String,
        /// The owner whose mail was asked for.
        owner: String,
    },
}

/// Signs `claims` with `key` (the key of the host `claims.issuer` names),
/// giving the ticket string. A ticket is a bearer credential: the string
/// is wiped from memory when dropped, and so is every piece of it made on
/// the way (`tests/zeroize.rs` looks for them in a live process).
pub fn sign(key: &HostKey, claims: &Claims) -> Zeroizing<String> {
    let mut ticket = Zeroizing::new(String::with_capacity(MAX_TICKET_LEN));
    ticket.push_str(PREFIX);
    ticket.push('.');
    URL_SAFE_NO_PAD.encode_string(claims.to_wire().encode_to_vec(), &mut ticket);
    let signature = Zeroizing::new(key.sign(ticket.as_bytes()));
    ticket.push('.');
    URL_SAFE_NO_PAD.encode_string(signature.as_slice(), &mut ticket);
    ticket
}

impl TrustedHosts {
    /// Verifies a ticket with the public key of the host it names as its
    /// issuer, and its expiry at time `now_unix`, and returns its claims.
    /// Scope and owner are checked by [`Claims::authorize`], revocation by
    /// the caller.
    pub fn verify(&self, ticket: &str, now_unix: i64) -> Result<Claims, TicketError> {
        let (signed_part, signature, claims) = parse(ticket)?;
        let key = self
            .get(&claims.issuer)
            .ok_or_else(|| TicketError::UnknownIssuer(claims.issuer.clone()))?;
        if !key.verify(signed_part.as_bytes(), &signature) {
            return Err(TicketError::BadSignature);
        }
        if claims.expires_unix <= now_unix {
            return Err(TicketError::Expired);
        }
        Ok(claims)
    }
}

/// A ticket's signed part, signature and claims, read without checking
/// the signature: the claims name the key to check it with, and nothing in
/// them may be used otherwise until it verifies (or, see
/// [`Verifier::vouched`], until its issuer vouched for it).
fn parse(ticket: &str) -> Result<(&str, [u8; 64], Claims), TicketError> {
    if ticket.len() > MAX_TICKET_LEN {
        return Err(TicketError::Malformed);
    }
    let (signed_part, signature_b64) = ticket.rsplit_once('.').ok_or(TicketError::Malformed)?;
    let (prefix, payload_b64) = signed_part.split_once('.').ok_or(TicketError::Malformed)?;
    if prefix != PREFIX {
        return Err(TicketError::Malformed);
    }
    let signature: [u8; 64] = URL_SAFE_NO_PAD
        .decode(signature_b64)
        .map_err(|_| TicketError::Malformed)?
        .try_into()
        .map_err(|_| TicketError::Malformed)?;
    let payload = URL_SAFE_NO_PAD
        .decode(payload_b64)
        .map_err(|_| TicketError::Malformed)?;
    let wire =
        claims::WireClaims::decode(payload.as_slice()).map_err(|_| TicketError::Malformed)?;
    let claims = Claims::from_wire(wire).ok_or(TicketError::Malformed)?;
    Ok((signed_part, signature, claims))
}

/// The current time as seconds since the epoch, for verification.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests;
