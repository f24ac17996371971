//! Auth's ticket office: the only holder of this host's signing key. It
//! issues a session ticket at login, renews it within the session's cap
//! while the password is unchanged and the session not revoked, and keeps
//! the list of revoked sessions the master sends.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use sha2::{Digest, Sha256};

use mailkeep_ticket::{
    Claims, HostKey, Revocations, Scope, SessionId, TicketError, TrustedHosts, Zeroizing, sign,
};

use mailkeep_ticket_seal::{RequestKey, SealError};

use crate::userdb::UserEntry;

/// What auth's request key is derived from (a digest of the signing key
/// for this context alone).
const REQUEST_KEY: &str = "mailkeep auth request key";

/// What the password stamp digests, so the digest serves nothing else.
const PASSWORD_STAMP: &str = "mailkeep password stamp v1";

/// How long a deliver ticket is valid: one delivery of one message, even
/// a large one over a slow link, and no longer.
pub(crate) const DELIVER_TICKET_SECS: i64 = 600;

/// Why a renewal was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum RenewRefused {
    /// The ticket is not one of ours, or expired, or its session revoked.
    #[error("ticket refused: {0}")]
    Ticket(#[from] TicketError),
    /// Only session tickets are renewed: renewal must never widen a ticket.
    #[error("only session tickets are renewed")]
    NotSession,
    /// The session reached its cap: the client must log in again.
    #[error("session reached its maximum length; log in again")]
    SessionOver,
    /// The user was removed.
    #[error("user no longer exists")]
    UserGone,
    /// The password changed since the login.
    #[error("password changed since login; log in again")]
    PasswordChanged,
}

/// Issues and renews this host's tickets.
#[derive(Debug)]
pub(crate) struct TicketOffice {
    key: HostKey,
    /// This host alone: auth renews only its own tickets.
    own: TrustedHosts,
    issuer: String,
    lifetime_secs: i64,
    session_max_secs: i64,
    revoked: Mutex<Revocations>,
    /// What a renewal's old ticket is sealed to: derived from `key`, so
    /// the same after a restart with the same key file.
    request_key: RequestKey,
    /// Password stamps made so far, by a SHA-256 of the user and stored
    /// password they stamp: a stamp is an Ed25519 signature's worth of
    /// work (`HostKey::digest`), the same for every login until the
    /// password changes, and was half the signing work of each login.
    stamps: Mutex<HashMap<[u8; 32], Vec<u8>>>,
}

/// Password stamps kept at most; when full the cache starts over.
const KEPT_STAMPS: usize = 4096;

impl TicketOffice {
    /// An office signing as `issuer` with `key`.
    pub(crate) fn new(
        key: HostKey,
        issuer: &str,
        lifetime_secs: i64,
        session_max_secs: i64,
    ) -> TicketOffice {
        let mut own = TrustedHosts::new();
        // A fresh list cannot conflict.
        let _ = own.insert(issuer, key.public());
        // A keyed digest only this signing key can make is the material:
        // independent of the signing key's use, of how its file is written,
        // and the same for as long as the key is.
        let request_key = RequestKey::derive(&key.digest(REQUEST_KEY, &[]));
        TicketOffice {
            request_key,
            key,
            own,
            issuer: issuer.to_owned(),
            lifetime_secs,
            session_max_secs,
            revoked: Mutex::new(Revocations::new()),
            stamps: Mutex::new(HashMap::new()),
        }
    }

    fn stamp(&self, entry: &UserEntry) -> Vec<u8> {
        let mut data = zeroize::Zeroizing::new(Vec::new());
        data.extend_from_slice(entry.name.as_bytes());
        data.push(0);
        data.extend_from_slice(entry.password.as_bytes());
        let known: [u8; 32] = Sha256::digest(data.as_slice()).into();
        let mut stamps = self.stamps.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(stamp) = stamps.get(&known) {
            return stamp.clone();
        }
        let stamp = self.key.digest(PASSWORD_STAMP, &data).to_vec();
        if stamps.len() >= KEPT_STAMPS {
            stamps.clear();
        }
        stamps.insert(known, stamp.clone());
        stamp
    }

    /// A session ticket for `entry`'s user after a login at `now`: a new
    /// session, capped at the configured maximum. Returns the ticket and
    /// its expiry.
    pub(crate) fn issue_login(&self, entry: &UserEntry, now: i64) -> (Zeroizing<String>, i64) {
        let claims = Claims::new(
            &entry.name,
            Scope::Session,
            now,
            self.lifetime_secs,
            &self.issuer,
        )
        .in_session(
            SessionId::random(),
            now.saturating_add(self.session_max_secs),
        )
        .with_password_stamp(self.stamp(entry));
        // Kept in its wiping buffer: the reply carries it sealed.
        (sign(&self.key, &claims), claims.expires_unix)
    }

    /// A deliver ticket for `user` at `now`: scope `deliver`, a session
    /// of its own, valid [`DELIVER_TICKET_SECS`]; never renewed.
    pub(crate) fn issue_deliver(&self, user: &str, now: i64) -> (Zeroizing<String>, i64) {
        let claims = Claims::new(user, Scope::Deliver, now, DELIVER_TICKET_SECS, &self.issuer);
        (sign(&self.key, &claims), claims.expires_unix)
    }

    /// Checks that `old` may be renewed at `now` before the user is looked
    /// up: ours, valid, a session ticket, session not revoked nor over.
    pub(crate) fn check_renewable(&self, old: &str, now: i64) -> Result<Claims, RenewRefused> {
        let claims = self.own.verify(old, now)?;
        if claims.scope != Scope::Session {
            return Err(RenewRefused::NotSession);
        }
        if self
            .revoked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_revoked(&claims.session)
        {
            return Err(TicketError::Revoked.into());
        }
        if now >= claims.session_ends_unix {
            return Err(RenewRefused::SessionOver);
        }
        Ok(claims)
    }

    /// The renewed ticket of `claims`' session for the user as the passdb
    /// has them now (`None`: removed), and its expiry.
    pub(crate) fn renew(
        &self,
        claims: &Claims,
        entry: Option<&UserEntry>,
        now: i64,
    ) -> Result<(Zeroizing<String>, i64), RenewRefused> {
        let entry = entry.ok_or(RenewRefused::UserGone)?;
        let stamp = self.stamp(entry);
        // Constant time is not needed: the stamp is no secret to the
        // ticket's holder, and the comparison reveals nothing of the key.
        if entry.name != claims.user || stamp != claims.password_stamp {
            return Err(RenewRefused::PasswordChanged);
        }
        let renewed = Claims::new(
            &entry.name,
            Scope::Session,
            now,
            self.lifetime_secs,
            &self.issuer,
        )
        .in_session(claims.session, claims.session_ends_unix)
        .with_password_stamp(stamp);
        Ok((sign(&self.key, &renewed), renewed.expires_unix))
    }

    /// The public half of the request key, for every login's success: the
    /// requester seals a renewal's old ticket to it.
    pub(crate) fn request_key(&self) -> Vec<u8> {
        self.request_key.public_bytes()
    }

    /// The old ticket of a renewal of `user`'s session, sealed to the
    /// request key for the renewal's `reply_key` (wiped when dropped).
    pub(crate) fn open_renewal(
        &self,
        sealed: &[u8],
        user: &str,
        reply_key: &[u8],
    ) -> Result<Zeroizing<String>, SealError> {
        self.request_key.open_renewal(sealed, user, reply_key)
    }

    /// Records ended sessions (from the master) and drops the entries past
    /// their horizon.
    pub(crate) fn revoke(&self, sessions: impl IntoIterator<Item = (SessionId, i64)>, now: i64) {
        let mut revoked = self.revoked.lock().unwrap_or_else(|p| p.into_inner());
        for (session, until) in sessions {
            revoked.revoke(session, until);
        }
        revoked.prune(now);
    }
}

#[cfg(test)]
mod tests {
    use mailkeep_ticket::HostKey;
    use mailkeep_ticket_seal::{ReplyKey, SealTo};

    use super::TicketOffice;

    /// An office for `key`, as auth makes one at start.
    fn office(key: &HostKey) -> TicketOffice {
        let key = HostKey::parse(&key.to_file_contents()).expect("a key file's contents");
        TicketOffice::new(key, "test-host", 3600, 7200)
    }

    /// A restarted auth (a new office with the same key file) has the same
    /// request key and opens what was sealed to the old one; another
    /// signing key has another request key.
    #[test]
    fn the_request_key_survives_a_restart_with_the_same_signing_key() {
        let key = HostKey::generate();
        let before = office(&key);
        let after = office(&key);
        assert_eq!(before.request_key(), after.request_key());
        assert_eq!(before.request_key().len(), 32);
        let other = office(&HostKey::generate());
        assert_ne!(other.request_key(), before.request_key());

        let reply = ReplyKey::generate().public_bytes();
        let sealed = SealTo::from_bytes(&before.request_key())
            .expect("a usable key")
            .seal_renewal("mk2.a.b", "bob", &reply)
            .expect("sealing");
        let opened = after
            .open_renewal(&sealed, "bob", &reply)
            .expect("the restarted office opens it");
        assert_eq!(opened.as_str(), "mk2.a.b");
        assert!(other.open_renewal(&sealed, "bob", &reply).is_err());
    }

    /// A stamp made again for the same user and stored password is the
    /// one kept, the same as a fresh office makes; another password (or
    /// user) gets another.
    #[test]
    fn password_stamps_are_kept_until_the_password_changes() {
        let key = HostKey::generate();
        let first = office(&key);
        let entry = |name: &str, password: &str| crate::userdb::UserEntry {
            name: name.to_owned(),
            password: password.to_owned(),
            uid: None,
            gid: None,
            home: None,
            extra: Vec::new(),
        };
        let alice = entry("alice", "{PLAIN}one");
        let made = first.stamp(&alice);
        assert_eq!(first.stamp(&alice), made);
        assert_eq!(first.stamps.lock().unwrap().len(), 1);
        assert_eq!(
            office(&key).stamp(&alice),
            made,
            "as a fresh office makes it"
        );
        assert_ne!(first.stamp(&entry("alice", "{PLAIN}two")), made);
        assert_ne!(first.stamp(&entry("bob", "{PLAIN}one")), made);
        assert_ne!(office(&HostKey::generate()).stamp(&alice), made);
    }

    /// The seal takes every ticket there can be, and no more.
    #[test]
    fn the_seal_and_the_ticket_agree_on_the_longest_ticket() {
        assert_eq!(
            mailkeep_ticket_seal::MAX_TICKET_LEN,
            mailkeep_ticket::MAX_TICKET_LEN
        );
    }
}
