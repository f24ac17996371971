//! Verification on every storage call, made cheap: an Ed25519 check costs
//! tens of microseconds, and a session shows the same ticket on each of
//! its calls, so a verified ticket's claims are kept and a later call with
//! the very same ticket only re-checks its expiry.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::{Claims, TicketError, TrustedHosts};

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
        let mut verified = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        if verified.len() >= CACHED_TICKETS {
            verified.clear();
        }
        verified.insert(ticket.into(), claims.clone());
        Ok(claims)
    }
}
