//! Verification on every storage call, made cheap: an Ed25519 check costs
//! tens of microseconds, and a session shows the same ticket on each of
//! its calls, so a verified ticket's claims are kept and a later call with
//! the very same ticket only re-checks its expiry.
//!
//! A ticket can also be kept without its signature checked when its issuer
//! vouches for it ([`Verifier::vouched`]): auth tells the master of each
//! login ticket it signs, over the control socket only the two of them
//! hold, and the master tells the owner's storage processes over theirs.
//! Their word is as good as the signature (auth made it; the master, root,
//! could read the key), and it usually comes before the session's first
//! call, so that call waits for no Ed25519 check in the master or the
//! storage process. Only session tickets are taken so.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::{Claims, TicketError, TrustedHosts, parse};

/// Tickets verified and kept at most; when full the cache starts over
/// (simple, bounded, and a refill costs one check per live session).
const CACHED_TICKETS: usize = 4096;

/// A [`TrustedHosts`] that remembers the tickets it verified.
#[derive(Debug)]
pub struct Verifier {
    trusted: TrustedHosts,
    verified: Mutex<HashMap<Box<str>, Claims>>,
}

impl Verifier {
    /// A verifier of the tickets of `trusted` hosts.
    pub fn new(trusted: TrustedHosts) -> Verifier {
        Verifier {
            trusted,
            verified: Mutex::new(HashMap::new()),
        }
    }

    /// The trusted-host list.
    pub fn trusted(&self) -> &TrustedHosts {
        &self.trusted
    }

    /// As [`TrustedHosts::verify`], from the cache when this exact ticket
    /// verified before.
    pub fn verify(&self, ticket: &str, now_unix: i64) -> Result<Claims, TicketError> {
        let mut verified = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(claims) = verified.get(ticket) {
            if claims.expires_unix <= now_unix {
                verified.remove(ticket);
                return Err(TicketError::Expired);
            }
            return Ok(claims.clone());
        }
        drop(verified);
        let claims = self.trusted.verify(ticket, now_unix)?;
        self.keep(ticket, &claims);
        Ok(claims)
    }

    /// Keeps `ticket`'s claims as verified without checking its signature,
    /// because its issuer vouched for it. Only for what comes over a
    /// channel from auth (to the master) or from the master (to a storage
    /// process), never for anything a protocol process or a client sent:
    /// the ticket must still be a well-formed session ticket, from a
    /// trusted host and unexpired at `now_unix`.
    pub fn vouched(&self, ticket: &str, now_unix: i64) -> Result<Claims, TicketError> {
        let (_, _, claims) = parse(ticket)?;
        if claims.scope != crate::Scope::Session {
            return Err(TicketError::Malformed);
        }
        if self.trusted.get(&claims.issuer).is_none() {
            return Err(TicketError::UnknownIssuer(claims.issuer));
        }
        if claims.expires_unix <= now_unix {
            return Err(TicketError::Expired);
        }
        self.keep(ticket, &claims);
        Ok(claims)
    }

    /// Keeps a ticket's claims for the next [`Verifier::verify`].
    fn keep(&self, ticket: &str, claims: &Claims) {
        let mut verified = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        if verified.len() >= CACHED_TICKETS {
            verified.clear();
        }
        verified.insert(ticket.into(), claims.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Claims, HostKey, Scope, sign};

    fn host() -> (HostKey, TrustedHosts) {
        let key = HostKey::generate();
        let mut trusted = TrustedHosts::new();
        trusted.insert("h1", key.public()).expect("a key");
        (key, trusted)
    }

    #[test]
    fn a_vouched_ticket_is_kept_without_its_signature_and_no_other_is() {
        let (key, trusted) = host();
        let verifier = Verifier::new(trusted);
        let ticket = sign(&key, &Claims::new("alice", Scope::Session, 1000, 60, "h1"));
        // The same claims under a signature that does not verify: what a
        // vouch is taken for, and the only way it passes.
        let (signed, signature) = ticket.rsplit_once('.').expect("a signature");
        let other_signature = |c: char| {
            let mut s = signature.to_owned();
            s.replace_range(..1, &c.to_string());
            s
        };
        let first = signature.chars().next().expect("a signature");
        let forged = format!(
            "{signed}.{}",
            other_signature(if first == 'A' { 'B' } else { 'A' })
        );
        assert_eq!(
            verifier.verify(&forged, 1001),
            Err(TicketError::BadSignature)
        );
        let claims = verifier.vouched(&forged, 1001).expect("vouched");
        assert_eq!(claims.user, "alice");
        assert_eq!(verifier.verify(&forged, 1002), Ok(claims));
        // Expiry still holds for a vouched ticket.
        assert_eq!(verifier.verify(&forged, 1060), Err(TicketError::Expired));
        // Another ticket with the same claims is checked in full.
        let other = format!(
            "{signed}.{}",
            other_signature(if first == 'C' { 'D' } else { 'C' })
        );
        assert_eq!(
            verifier.verify(&other, 1001),
            Err(TicketError::BadSignature)
        );
        // The real one verifies on its own.
        assert!(verifier.verify(&ticket, 1001).is_ok());
    }

    #[test]
    fn a_vouch_needs_a_well_formed_unexpired_ticket_of_a_trusted_host() {
        let (_, trusted) = host();
        let verifier = Verifier::new(trusted);
        let stranger = HostKey::generate();
        let unknown = sign(
            &stranger,
            &Claims::new("alice", Scope::Session, 1000, 60, "h2"),
        );
        assert_eq!(
            verifier.vouched(&unknown, 1001),
            Err(TicketError::UnknownIssuer("h2".into()))
        );
        // Signed by any key: a vouch checks no signature, but the expiry.
        let old = sign(
            &HostKey::generate(),
            &Claims::new("alice", Scope::Session, 1000, 60, "h1"),
        );
        assert_eq!(verifier.vouched(&old, 1060), Err(TicketError::Expired));
        assert_eq!(
            verifier.vouched("mk2.garbage", 1001),
            Err(TicketError::Malformed)
        );
    }
}
