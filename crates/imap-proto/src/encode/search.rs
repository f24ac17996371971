//! Search results: `* SEARCH` (with RFC 7162's MODSEQ), `* SORT`
//! (RFC 5256) and `* ESEARCH` (RFC 4731, RFC 5267 CONTEXT, RFC 9394
//! PARTIAL, RFC 7162 MODSEQ).

use super::strings::Encoder;
use crate::cmd::PartialRange;
use crate::types::SequenceSet;

/// Writes ` n n n` and then ` (MODSEQ m)` when given.
fn numbers(out: &mut Vec<u8>, numbers: &[u32], modseq: Option<u64>) {
    for n in numbers {
        out.extend_from_slice(format!(" {n}").as_bytes());
    }
    if let Some(m) = modseq {
        out.extend_from_slice(format!(" (MODSEQ {m})").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends `* SEARCH 2 5 6\r\n`, with ` (MODSEQ n)` after a search that
/// used MODSEQ (RFC 7162 §3.1.5; only when some message matched).
pub fn search_response(out: &mut Vec<u8>, matches: &[u32], modseq: Option<u64>) {
    out.extend_from_slice(b"* SEARCH");
    numbers(out, matches, modseq.filter(|_| !matches.is_empty()));
}

/// Appends `* SORT 2 84 882\r\n` (matches in sorted order), with
/// ` (MODSEQ n)` as for SEARCH.
pub fn sort_response(out: &mut Vec<u8>, sorted: &[u32], modseq: Option<u64>) {
    out.extend_from_slice(b"* SORT");
    numbers(out, sorted, modseq.filter(|_| !sorted.is_empty()));
}

/// The data of one `* ESEARCH` response. Fields left `None` (or empty)
/// are not written; RFC 4731 says to leave out MIN, MAX and ALL when
/// nothing matched, which is the caller's choice here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Esearch {
    /// The command's tag (the search correlator).
    pub tag: Option<String>,
    /// The numbers are UIDs.
    pub uid: bool,
    /// MIN n
    pub min: Option<u32>,
    /// MAX n
    pub max: Option<u32>,
    /// ALL set
    pub all: Option<SequenceSet>,
    /// COUNT n
    pub count: Option<u32>,
    /// MODSEQ n (RFC 7162)
    pub modseq: Option<u64>,
    /// PARTIAL (range set-or-NIL) (RFC 9394)
    pub partial: Option<(PartialRange, Option<SequenceSet>)>,
    /// ADDTO (position set ...) (RFC 5267): results that joined a context.
    pub add_to: Vec<(u32, SequenceSet)>,
    /// REMOVEFROM (position set ...) (RFC 5267): results that left it.
    pub remove_from: Vec<(u32, SequenceSet)>,
}

/// Writes ` NAME (pos set pos set)` for ADDTO / REMOVEFROM.
fn context_updates(out: &mut Vec<u8>, name: &str, updates: &[(u32, SequenceSet)]) {
    if updates.is_empty() {
        return;
    }
    out.extend_from_slice(format!(" {name} (").as_bytes());
    for (i, (position, set)) in updates.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(format!("{position} {set}").as_bytes());
    }
    out.push(b')');
}

/// Appends `* ESEARCH (TAG "a1") UID MIN 2 COUNT 3\r\n`.
pub fn esearch(out: &mut Vec<u8>, data: &Esearch) {
    out.extend_from_slice(b"* ESEARCH");
    if let Some(tag) = &data.tag {
        out.extend_from_slice(b" (TAG ");
        Encoder::ASCII.string(out, tag.as_bytes());
        out.push(b')');
    }
    if data.uid {
        out.extend_from_slice(b" UID");
    }
    if let Some(n) = data.min {
        out.extend_from_slice(format!(" MIN {n}").as_bytes());
    }
    if let Some(n) = data.max {
        out.extend_from_slice(format!(" MAX {n}").as_bytes());
    }
    if let Some(set) = data.all.as_ref().filter(|s| !s.is_empty()) {
        out.extend_from_slice(format!(" ALL {set}").as_bytes());
    }
    if let Some(n) = data.count {
        out.extend_from_slice(format!(" COUNT {n}").as_bytes());
    }
    if let Some(n) = data.modseq {
        out.extend_from_slice(format!(" MODSEQ {n}").as_bytes());
    }
    if let Some((range, set)) = &data.partial {
        out.extend_from_slice(format!(" PARTIAL ({range} ").as_bytes());
        match set.as_ref().filter(|s| !s.is_empty()) {
            Some(set) => out.extend_from_slice(format!("{set})").as_bytes()),
            None => out.extend_from_slice(b"NIL)"),
        }
    }
    // Removals first: positions of a SORT context's additions count the
    // result after them (RFC 5267 §4.4).
    context_updates(out, "REMOVEFROM", &data.remove_from);
    context_updates(out, "ADDTO", &data.add_to);
    out.extend_from_slice(b"\r\n");
}
