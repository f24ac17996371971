//! Tickets: what a protocol process shows a storage process to prove who
//! its client is. Auth issues them after a login, signed with the cluster
//! key (HMAC-SHA256); the broker and storage processes verify them on every
//! use. Protocol processes hold them as opaque strings and never see the key.
//!
//! Wire form: `mk1.<base64url(claims)>.<base64url(mac)>`, where the claims
//! are a small protobuf message and the MAC covers `mk1.<base64url(claims)>`.

mod claims;
mod key;

pub use claims::{Claims, Scope};
pub use key::{KeyError, TicketKey};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use prost::Message;
use sha2::Sha256;

/// The version prefix of the ticket format.
const PREFIX: &str = "mk1";

/// The longest ticket accepted, so verification never works on huge input.
pub const MAX_TICKET_LEN: usize = 4096;

/// Why a ticket was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TicketError {
    /// Not of the ticket form at all.
    #[error("ticket is malformed")]
    Malformed,
    /// The signature does not verify with our key: forged or from another cluster.
    #[error("ticket signature does not verify")]
    BadSignature,
    /// Past its expiry time.
    #[error("ticket expired")]
    Expired,
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

type HmacSha256 = Hmac<Sha256>;

fn mac_for(key: &TicketKey, signed_part: &str) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail for our 32 bytes.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(signed_part.as_bytes());
    mac
}

/// Signs `claims` with `key`, giving the ticket string.
pub fn sign(key: &TicketKey, claims: &Claims) -> String {
    let payload = URL_SAFE_NO_PAD.encode(claims.to_wire().encode_to_vec());
    let signed_part = format!("{PREFIX}.{payload}");
    let tag = mac_for(key, &signed_part).finalize().into_bytes();
    format!("{signed_part}.{}", URL_SAFE_NO_PAD.encode(tag))
}

/// Verifies a ticket's signature and expiry at time `now_unix` and returns
/// its claims. Scope and owner are checked by [`Claims::authorize`].
pub fn verify(key: &TicketKey, ticket: &str, now_unix: i64) -> Result<Claims, TicketError> {
    if ticket.len() > MAX_TICKET_LEN {
        return Err(TicketError::Malformed);
    }
    let (signed_part, tag_b64) = ticket.rsplit_once('.').ok_or(TicketError::Malformed)?;
    let (prefix, payload_b64) = signed_part.split_once('.').ok_or(TicketError::Malformed)?;
    if prefix != PREFIX {
        return Err(TicketError::Malformed);
    }
    let tag = URL_SAFE_NO_PAD
        .decode(tag_b64)
        .map_err(|_| TicketError::Malformed)?;
    if tag.len() != 32 {
        return Err(TicketError::Malformed);
    }
    // verify_slice compares in constant time.
    mac_for(key, signed_part)
        .verify_slice(&tag)
        .map_err(|_| TicketError::BadSignature)?;
    let payload = URL_SAFE_NO_PAD
        .decode(payload_b64)
        .map_err(|_| TicketError::Malformed)?;
    let wire =
        claims::WireClaims::decode(payload.as_slice()).map_err(|_| TicketError::Malformed)?;
    let claims = Claims::from_wire(wire).ok_or(TicketError::Malformed)?;
    if claims.expires_unix <= now_unix {
        return Err(TicketError::Expired);
    }
    Ok(claims)
}

/// The current time as seconds since the epoch, for [`verify`].
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests;
