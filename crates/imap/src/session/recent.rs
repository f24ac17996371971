//! IMAP4rev1's `\Recent` for the messages that arrive while a mailbox is
//! selected (RFC 3501 §2.3.2): a read-write session claims them from
//! storage, so that each is recent in one session only (the SELECT claimed
//! those before it); a read-only one shows them as recent and claims
//! nothing. IMAP4rev2 has no `\Recent` (RFC 9051 §A): nothing is claimed.

use mailkeep_frontend::{Retry, Storage};
use mailkeep_imap_proto::recent;
use mailkeep_storage_rpc::storage::ClaimRecentRequest;

use crate::namespace::MailboxRef;
use crate::session::enabled::Enabled;
use crate::session::mailbox::Mailbox;
use crate::view::Update;

impl Mailbox {
    /// Decides which of the view's new messages are recent here, claiming
    /// them in a read-write IMAP4rev1 session. When storage cannot say,
    /// they count as recent (RFC 3501 §2.3.2: "SHOULD be considered
    /// recent").
    pub(crate) async fn settle_recent(&self, storage: &Storage, enabled: Enabled) {
        let Some((first, last)) = self.view().undecided_recent() else {
            return;
        };
        let from = if enabled.rev2 {
            None
        } else if self.read_only {
            Some(first)
        } else if last <= self.view().claimed_through() {
            // Claimed already: by this session's APPEND (marked then) or
            // by the other session a delta names.
            None
        } else {
            let request = ClaimRecentRequest {
                owner: self.owner().to_owned(),
                mailbox: self.name(),
                uidvalidity: self.uidvalidity,
                up_to_uid: last,
            };
            let claimed = storage
                .call(self.owner(), Retry::Idempotent, |rpc| {
                    let request = rpc.request(request.clone());
                    async move { rpc.storage().claim_recent(request).await }
                })
                .await;
            match claimed {
                Ok(reply) => Some(reply.first_recent_uid.max(first)),
                Err(error) => {
                    tracing::warn!(%error, "could not claim recent messages");
                    Some(first)
                }
            }
        };
        let mut view = self.view();
        if let Some(from) = from {
            view.mark_recent(from, last);
        }
        view.decide_recent(last);
    }

    /// Whether an APPEND into `target` claims its messages as recent to
    /// this session in its commit: the mailbox is the one selected,
    /// read-write, in IMAP4rev1.
    pub(crate) fn claims_appended(&self, target: &MailboxRef, enabled: Enabled) -> bool {
        !enabled.rev2 && !self.read_only && self.is(target)
    }

    /// Records what this session's APPEND claimed in its commit: the
    /// messages from `first_recent` (the first UID the claim took; 0: it
    /// claimed nothing) to `last` (its last new UID) are recent here, and
    /// none up to `last` needs claiming.
    pub(crate) fn appended_recent(&self, first_recent: u32, last: u32) {
        if first_recent == 0 {
            return;
        }
        let mut view = self.view();
        view.mark_recent(first_recent, last);
        view.note_claimed(last);
    }

    /// Appends the untagged responses for `updates` (see
    /// [`crate::updates::write_updates`]) and, in IMAP4rev1, the RECENT
    /// count when they changed it: every place that tells a client of
    /// changes to its selected mailbox goes through here.
    pub(crate) fn write_updates(&self, out: &mut Vec<u8>, updates: &[Update], enabled: Enabled) {
        crate::updates::write_updates(out, updates, enabled);
        self.tell_recent(out, updates, enabled);
    }

    /// `* n RECENT` after new messages were told by EXISTS, or recent
    /// ones by EXPUNGE (IMAP4rev1; the count changed either way, and
    /// Dovecot tells it too).
    fn tell_recent(&self, bytes: &mut Vec<u8>, updates: &[Update], enabled: Enabled) {
        if enabled.rev2 {
            return;
        }
        let view = self.view();
        let changed = updates.iter().any(|u| match u {
            Update::Exists(_) => true,
            Update::Expunge { uid, .. } => view.is_recent(*uid),
            Update::Flags { .. } => false,
        });
        if changed {
            recent(bytes, view.recent_count());
        }
    }
}
