//! SELECT and EXAMINE mailbox [(select-param ...)] (RFC 9051 §6.3.2,
//! §6.3.3), with RFC 7162's CONDSTORE and QRESYNC parameters.

use super::CommandBody;
use crate::grammar::mailbox::mailbox;
use crate::grammar::seqset::sequence_set;
use crate::grammar::{Cursor, Fail, PResult, bad};
use crate::types::{SeqNumber, SequenceSet};

/// SELECT or EXAMINE (the [`CommandBody`] variant says which).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Select {
    /// The mailbox.
    pub mailbox: String,
    /// `(CONDSTORE)`: enable CONDSTORE and report HIGHESTMODSEQ.
    pub condstore: bool,
    /// `(QRESYNC (...))`: resynchronise from a known state.
    pub qresync: Option<QResync>,
}

/// QRESYNC's parameters (RFC 7162 §3.2.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QResync {
    /// The UIDVALIDITY the client knows.
    pub uidvalidity: u32,
    /// The last known mod-sequence.
    pub modseq: u64,
    /// The UIDs the client knows (no `*`).
    pub known_uids: Option<SequenceSet>,
    /// Message sequence numbers and the UIDs the client holds for them,
    /// to narrow down what was expunged.
    pub seq_match: Option<(SequenceSet, SequenceSet)>,
}

/// SELECT's arguments.
pub(crate) fn select(c: &mut Cursor<'_>, _uid: bool) -> PResult<CommandBody> {
    Ok(CommandBody::Select(args(c)?))
}

/// EXAMINE's arguments.
pub(crate) fn examine(c: &mut Cursor<'_>, _uid: bool) -> PResult<CommandBody> {
    Ok(CommandBody::Examine(args(c)?))
}

/// `SP mailbox [SP "(" select-param *(SP select-param) ")"]`.
fn args(c: &mut Cursor<'_>) -> PResult<Select> {
    c.sp("mailbox name")?;
    let mut select = Select {
        mailbox: mailbox(c, "mailbox name")?,
        condstore: false,
        qresync: None,
    };
    if !c.at_eol() {
        c.sp("select parameters")?;
        c.paren_list("select parameter", false, |c| {
            if c.eat_word("CONDSTORE") {
                select.condstore = true;
                Ok(())
            } else if c.eat_word("QRESYNC") {
                c.sp("QRESYNC parameters")?;
                select.qresync = Some(qresync(c)?);
                Ok(())
            } else {
                let raw = c.atom("select parameter")?;
                bad(format!(
                    "Unknown select parameter {}",
                    String::from_utf8_lossy(raw)
                ))
            }
        })?;
    }
    c.eol()?;
    Ok(select)
}

/// A UID or sequence set without `*` or `$` (QRESYNC's known sets).
fn known_set(c: &mut Cursor<'_>, what: &str) -> PResult<SequenceSet> {
    let set = sequence_set(c)?;
    match &set {
        SequenceSet::Saved => bad(format!("'$' is not allowed in {what}")),
        SequenceSet::Ranges(ranges)
            if ranges
                .iter()
                .any(|r| r.start == SeqNumber::Largest || r.end == SeqNumber::Largest) =>
        {
            bad(format!("'*' is not allowed in {what}"))
        }
        SequenceSet::Ranges(_) => Ok(set),
    }
}

/// `"(" uidvalidity SP mod-sequence-value [SP known-uids]
/// [SP seq-match-data] ")"`.
fn qresync(c: &mut Cursor<'_>) -> PResult<QResync> {
    c.expect(b'(', "'(' to start the QRESYNC parameters")?;
    let uidvalidity = c.nz_number("UIDVALIDITY")?;
    c.sp("mod-sequence")?;
    let modseq = c.mod_sequence("mod-sequence", false)?;
    let mut known_uids = None;
    let mut seq_match = None;
    if c.peek() == Some(b' ') && c.peek2() != Some(b'(') {
        c.sp("known UIDs")?;
        known_uids = Some(known_set(c, "known UIDs")?);
    }
    if c.peek() == Some(b' ') {
        c.sp("sequence match data")?;
        c.expect(b'(', "'(' to start the sequence match data")?;
        let seqs = known_set(c, "known sequence set")?;
        c.sp("known UID set")?;
        let uids = known_set(c, "known UID set")?;
        c.expect(b')', "')' to end the sequence match data")?;
        seq_match = Some((seqs, uids));
    }
    match c.peek() {
        Some(b')') => {
            c.eat(b')');
        }
        None => return Err(Fail::Incomplete),
        Some(_) => return bad("Expected ')' to end the QRESYNC parameters"),
    }
    Ok(QResync {
        uidvalidity,
        modseq,
        known_uids,
        seq_match,
    })
}
