//! The untagged responses that tell a client what changed in its selected
//! mailbox, in the form its enabled extensions ask for.

use mailkeep_imap_proto::{FetchResponse, SequenceSet, exists, expunge, vanished};

use crate::session::enabled::Enabled;
use crate::view::Update;

/// Appends the responses for `updates`: EXPUNGE (or one VANISHED with
/// QRESYNC), EXISTS, and FETCH (UID, FLAGS, and MODSEQ with CONDSTORE).
pub(crate) fn write_updates(out: &mut Vec<u8>, updates: &[Update], enabled: Enabled) {
    let mut vanished_uids = Vec::new();
    for update in updates {
        match update {
            Update::Expunge { seq, uid } => {
                if enabled.qresync || enabled.uidonly {
                    vanished_uids.push(*uid);
                } else {
                    expunge(out, *seq);
                }
            }
            Update::Exists(n) => {
                flush_vanished(out, &mut vanished_uids);
                exists(out, *n);
            }
            Update::Flags {
                seq,
                uid,
                flags,
                recent,
                modseq,
            } => {
                flush_vanished(out, &mut vanished_uids);
                let mut response = fetch_head(enabled, *seq, *uid, true);
                response.flags_recent(flags, *recent);
                if enabled.condstore {
                    response.modseq(*modseq);
                }
                out.extend_from_slice(&response.finish());
            }
        }
    }
    flush_vanished(out, &mut vanished_uids);
}

/// Starts a FETCH response for message `uid` at `seq`: `* seq FETCH (`
/// with `UID uid` first when `with_uid`, or `* uid UIDFETCH (` once the
/// client enabled UIDONLY (RFC 9586 §3.3), which never says UID.
pub(crate) fn fetch_head(enabled: Enabled, seq: u32, uid: u32, with_uid: bool) -> FetchResponse {
    if enabled.uidonly {
        return FetchResponse::uid_only(uid, enabled.encoder());
    }
    let mut response = FetchResponse::new(seq, enabled.encoder());
    if with_uid {
        response.uid(uid);
    }
    response
}

/// Writes the collected UIDs as one `* VANISHED`.
fn flush_vanished(out: &mut Vec<u8>, uids: &mut Vec<u32>) {
    if !uids.is_empty() {
        vanished(out, false, &SequenceSet::from_numbers(uids.drain(..)));
    }
}
