//! Sequence sets: `1:4,7,9:*` or `$` (RFC 9051 `sequence-set`, RFC 5182).

use super::cursor::{Cursor, Fail, PResult, bad};
use crate::types::{SeqNumber, SeqRange, SequenceSet};

/// `seq-number`: a non-zero number or `*`.
fn seq_number(c: &mut Cursor<'_>) -> PResult<SeqNumber> {
    if c.eat(b'*') {
        return Ok(SeqNumber::Largest);
    }
    match c.peek() {
        Some(b) if b.is_ascii_digit() => Ok(SeqNumber::Value(c.nz_number("sequence number")?)),
        None => Err(Fail::Incomplete),
        Some(b'\r' | b'\n') => bad("Missing sequence set"),
        Some(_) => bad("Expected a sequence number or '*' in the sequence set"),
    }
}

/// A sequence set.
pub(crate) fn sequence_set(c: &mut Cursor<'_>) -> PResult<SequenceSet> {
    if c.eat(b'$') {
        return Ok(SequenceSet::Saved);
    }
    let mut ranges = Vec::new();
    loop {
        let start = seq_number(c)?;
        let end = if c.eat(b':') { seq_number(c)? } else { start };
        ranges.push(SeqRange { start, end });
        if !c.eat(b',') {
            return Ok(SequenceSet::Ranges(ranges));
        }
    }
}
