//! Expiry: removing the messages of a mailbox that match a search and
//! were saved before a moment, whether or not they are flagged `\Deleted`
//! (`mailkeep admin expunge`, per-folder autoexpunge). Run by the owner's
//! storage process, as the owner, never by a root process opening mail
//! files.

use std::sync::atomic::AtomicBool;

use crate::messages::{Doomed, Expunged};
use crate::search::SearchKey;
use crate::{Result, Store, UidRange};

/// What an expiry removed, and the mailbox's UIDVALIDITY (for watchers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expired {
    /// The UIDs removed and the HIGHESTMODSEQ afterwards.
    pub expunged: Expunged,
    /// The mailbox's UIDVALIDITY.
    pub uidvalidity: u32,
}

impl Store {
    /// Removes the messages of `mailbox` that match `key` (every message
    /// when `None`) and whose save date is at or before `saved_until`
    /// (Unix seconds; no limit when `None`).
    pub fn expire(
        &self,
        mailbox: &str,
        key: Option<&SearchKey>,
        saved_until: Option<i64>,
    ) -> Result<Expired> {
        let status = self.status(mailbox)?;
        let all = SearchKey::All;
        let matched = self.matching(
            mailbox,
            status.uidvalidity,
            key.unwrap_or(&all),
            &AtomicBool::new(false),
            crate::Viewer::Owner,
            false,
        )?;
        let ranges: Vec<UidRange> = matched
            .iter()
            .map(|(m, _)| m)
            .filter(|m| saved_until.is_none_or(|until| m.save_date <= until))
            .map(|m| UidRange {
                first: m.uid,
                last: m.uid,
            })
            .collect();
        if ranges.is_empty() {
            return Ok(Expired {
                expunged: Expunged {
                    uids: Vec::new(),
                    previous_highestmodseq: status.highestmodseq,
                    highestmodseq: status.highestmodseq,
                },
                uidvalidity: status.uidvalidity,
            });
        }
        let which = Doomed {
            ranges: &ranges,
            flagged_only: false,
            durable: false,
        };
        let expunged = self.remove_messages(mailbox, status.uidvalidity, which)?;
        Ok(Expired {
            expunged,
            uidvalidity: status.uidvalidity,
        })
    }
}
