//! FETCH and UID FETCH (RFC 9051 §6.4.5), with RFC 7162's CHANGEDSINCE
//! and VANISHED modifiers. The items are in [`crate::FetchAttribute`].

use super::CommandBody;
use crate::grammar::fetch::{FetchAttribute, fetch_items};
use crate::grammar::seqset::sequence_set;
use crate::grammar::{Cursor, PResult, bad};
use crate::types::SequenceSet;

/// FETCH: message data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetch {
    /// UID FETCH: `set` holds UIDs (and UID is returned with every item).
    pub uid: bool,
    /// The messages.
    pub set: SequenceSet,
    /// The items, with the macros ALL, FAST and FULL expanded.
    pub items: Vec<FetchAttribute>,
    /// CHANGEDSINCE: only messages whose mod-sequence is greater.
    pub changed_since: Option<u64>,
    /// VANISHED (UID FETCH with CHANGEDSINCE only): also report expunged
    /// UIDs in the set with `VANISHED (EARLIER)`.
    pub vanished: bool,
}

/// `SP sequence-set SP items [SP "(" fetch-modifier *(SP fetch-modifier) ")"]`.
pub(crate) fn parse(c: &mut Cursor<'_>, uid: bool) -> PResult<CommandBody> {
    c.sp("sequence set")?;
    let set = sequence_set(c)?;
    c.sp("fetch items")?;
    let items = fetch_items(c)?;
    let mut changed_since = None;
    let mut vanished = false;
    if !c.at_eol() {
        c.sp("fetch modifiers")?;
        c.paren_list("fetch modifier", false, |c| {
            if c.eat_word("CHANGEDSINCE") {
                c.sp("mod-sequence value")?;
                let n = c
                    .mod_sequence("CHANGEDSINCE value", false)
                    .map_err(|_| crate::grammar::Fail::Bad("Invalid CHANGEDSINCE value".into()))?;
                changed_since = Some(n);
                Ok(())
            } else if c.eat_word("VANISHED") {
                vanished = true;
                Ok(())
            } else {
                let raw = c.atom("fetch modifier")?;
                bad(format!(
                    "Unknown fetch modifier {}",
                    String::from_utf8_lossy(raw)
                ))
            }
        })?;
    }
    c.eol()?;
    // RFC 7162 §3.2.6: VANISHED only with UID FETCH and CHANGEDSINCE.
    if vanished && (!uid || changed_since.is_none()) {
        return bad("VANISHED needs UID FETCH and CHANGEDSINCE");
    }
    Ok(CommandBody::Fetch(Fetch {
        uid,
        set,
        items,
        changed_since,
        vanished,
    }))
}
