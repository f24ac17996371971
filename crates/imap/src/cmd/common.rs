//! Small things several commands need: mailbox names as storage wants
//! them, UID ranges for requests, and the reply for a bad sequence set.

use mailkeep_frontend::Retry;
use mailkeep_imap_proto::SequenceSet;
use mailkeep_storage_rpc::storage::{MailboxAclRequest, UidRange};

use crate::namespace::MailboxRef;
use crate::reply::Reply;
use crate::session::state::Authed;
use crate::view::{SetError, View, uid_ranges};

pub(crate) use mailkeep_frontend::namespaces::{DELIMITER, normalize};

/// UID ranges for a storage request.
pub(crate) fn ranges(uids: &[u32]) -> Vec<UidRange> {
    uid_ranges(uids)
        .into_iter()
        .map(|(first, last)| UidRange { first, last })
        .collect()
}

/// The reply for a sequence set that cannot be resolved.
pub(crate) fn set_reply(error: SetError) -> Reply {
    match error {
        SetError::InvalidSequence => Reply::bad("Invalid sequence number"),
        SetError::Saved => Reply::bad("No saved search result"),
    }
}

/// Resolves a sequence set in a view to UIDs, or the BAD reply.
pub(crate) fn resolve(view: &View, set: &SequenceSet, uid: bool) -> Result<Vec<u32>, Reply> {
    view.resolve(set, uid).map_err(set_reply)
}

/// Whether UID `uid` is in a UID set (`*` standing for any UID above the
/// range's other end).
pub(crate) fn set_contains(set: &SequenceSet, uid: u32) -> bool {
    use mailkeep_imap_proto::SeqNumber;
    let SequenceSet::Ranges(ranges) = set else {
        return false;
    };
    let value = |n: SeqNumber| match n {
        SeqNumber::Value(v) => v,
        SeqNumber::Largest => u32::MAX,
    };
    ranges.iter().any(|r| {
        let (a, b) = (value(r.start), value(r.end));
        (a.min(b)..=a.max(b)).contains(&uid)
    })
}

/// The user's rights on `mailbox` (LIST's RETURN (MYRIGHTS), what a
/// SELECT of another owner's mailbox lets change); none when its owner's
/// storage does not say.
pub(crate) async fn my_rights(authed: &Authed, mailbox: &MailboxRef) -> Option<String> {
    let request = MailboxAclRequest {
        owner: mailbox.owner.clone(),
        mailbox: mailbox.name.clone(),
    };
    match authed
        .call(&mailbox.owner, Retry::Idempotent, |rpc| {
            let request = rpc.request(request.clone());
            async move { rpc.acl().my_rights(request).await }
        })
        .await
    {
        Ok(answer) => Some(answer.rights),
        Err(e) => {
            tracing::debug!(mailbox = %mailbox.name, error = %e, "no rights known");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalized() {
        assert_eq!(normalize("inbox"), "INBOX");
        assert_eq!(normalize("Sent."), "Sent");
        assert_eq!(normalize("a.b"), "a.b");
        assert_eq!(normalize("INBOX.x"), "INBOX.x");
    }

    #[test]
    fn ranges_cover_only_given_uids() {
        let r = ranges(&[1, 2, 5]);
        assert_eq!(
            r,
            vec![
                UidRange { first: 1, last: 2 },
                UidRange { first: 5, last: 5 }
            ]
        );
    }
}
