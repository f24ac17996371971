//! STORE and UID STORE (RFC 9051 §6.4.6), with RFC 7162's UNCHANGEDSINCE.

use super::CommandBody;
use crate::grammar::flags::{flag, flag_list, starts_flag};
use crate::grammar::seqset::sequence_set;
use crate::grammar::{Cursor, PResult, bad};
use crate::types::SequenceSet;

/// How STORE applies its flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreMode {
    /// FLAGS: replace.
    Replace,
    /// +FLAGS: add.
    Add,
    /// -FLAGS: remove.
    Remove,
}

/// STORE: change flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Store {
    /// UID STORE: `set` holds UIDs.
    pub uid: bool,
    /// The messages.
    pub set: SequenceSet,
    /// How to apply the flags.
    pub mode: StoreMode,
    /// `.SILENT`: no untagged FETCH for the change.
    pub silent: bool,
    /// The flags (system flags in canonical case, keywords as sent).
    pub flags: Vec<String>,
    /// UNCHANGEDSINCE: only messages whose mod-sequence is not greater.
    pub unchanged_since: Option<u64>,
}

/// `SP sequence-set [SP "(" UNCHANGEDSINCE n ")"] SP store-att-flags`.
pub(crate) fn parse(c: &mut Cursor<'_>, uid: bool) -> PResult<CommandBody> {
    c.sp("sequence set")?;
    let set = sequence_set(c)?;
    c.sp("store item")?;
    let mut unchanged_since = None;
    if c.peek() == Some(b'(') {
        c.paren_list("store modifier", false, |c| {
            if c.eat_word("UNCHANGEDSINCE") {
                c.sp("mod-sequence value")?;
                unchanged_since = Some(c.mod_sequence("UNCHANGEDSINCE value", true)?);
                Ok(())
            } else {
                let raw = c.atom("store modifier")?;
                bad(format!(
                    "Unknown store modifier {}",
                    String::from_utf8_lossy(raw)
                ))
            }
        })?;
        c.sp("store item")?;
    }
    let raw = c.atom("store item (FLAGS, +FLAGS or -FLAGS)")?;
    let (mode, silent) = match raw.to_ascii_uppercase().as_slice() {
        b"FLAGS" => (StoreMode::Replace, false),
        b"FLAGS.SILENT" => (StoreMode::Replace, true),
        b"+FLAGS" => (StoreMode::Add, false),
        b"+FLAGS.SILENT" => (StoreMode::Add, true),
        b"-FLAGS" => (StoreMode::Remove, false),
        b"-FLAGS.SILENT" => (StoreMode::Remove, true),
        _ => {
            return bad(format!(
                "Unknown store item {}",
                String::from_utf8_lossy(raw)
            ));
        }
    };
    c.sp("flags")?;
    let flags = if c.peek() == Some(b'(') {
        flag_list(c)?
    } else {
        let mut flags = vec![flag(c)?];
        while c.peek() == Some(b' ') && c.peek2().is_some_and(starts_flag) {
            c.sp("flag")?;
            flags.push(flag(c)?);
        }
        flags
    };
    c.eol()?;
    Ok(CommandBody::Store(Store {
        uid,
        set,
        mode,
        silent,
        flags,
        unchanged_since,
    }))
}
