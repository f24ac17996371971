//! Views of the data responses tests read most: FETCH (RFC 9051 §7.5.2)
//! as named items, ESEARCH (RFC 9051 §7.3.4, RFC 4731) as its parts, and
//! sequence sets as numbers.

use crate::response::Data;
use crate::value::Value;

/// A FETCH response's items, by name.
#[derive(Debug, Clone, Copy)]
pub struct Fetch<'a> {
    /// The message sequence number.
    pub seq: u32,
    items: &'a [Value],
}

impl<'a> Fetch<'a> {
    pub(crate) fn from_data(data: &'a Data) -> Option<Fetch<'a>> {
        if !data.is("FETCH") {
            return None;
        }
        let seq = data.number?;
        match data.values.as_slice() {
            [Value::List(items)] => Some(Fetch { seq, items }),
            _ => None,
        }
    }

    /// The item names in the order sent, as sent (`UID`, `BODY[]<0>`).
    pub fn names(&self) -> Vec<&'a str> {
        self.items
            .chunks(2)
            .filter_map(|pair| pair.first().and_then(Value::as_atom))
            .collect()
    }

    /// The value of item `name` (case-insensitive; the whole name as the
    /// server writes it, section and origin included: `BODY[HEADER]`,
    /// `BODY[]<0>`, `BINARY[1]`).
    pub fn item(&self, name: &str) -> Option<&'a Value> {
        self.items.chunks(2).find_map(|pair| match pair {
            [key, value] if key.is_atom(name) => Some(value),
            _ => None,
        })
    }

    /// Item `name`'s bytes (a literal or quoted string; `None` for NIL).
    pub fn bytes(&self, name: &str) -> Option<&'a [u8]> {
        self.item(name).and_then(Value::as_bytes)
    }

    /// Item `name` as a number (`RFC822.SIZE`, `MODSEQ (n)` too).
    pub fn number(&self, name: &str) -> Option<u64> {
        match self.item(name)? {
            Value::Number(n) => Some(*n),
            // MODSEQ is sent as a list of one number (RFC 7162 §3.1.4.1).
            Value::List(inner) => match inner.as_slice() {
                [Value::Number(n)] => Some(*n),
                _ => None,
            },
            _ => None,
        }
    }

    /// The UID item.
    pub fn uid(&self) -> Option<u32> {
        self.number("UID").and_then(|n| u32::try_from(n).ok())
    }

    /// The FLAGS item's flags as sent (`\Seen`, keywords); `None` without
    /// FLAGS. A NIL in the list (which no server may send) shows as "NIL".
    pub fn flags(&self) -> Option<Vec<String>> {
        let list = self.item("FLAGS")?.as_list()?;
        Some(
            list.iter()
                .map(|v| v.text().unwrap_or_else(|| v.to_string()))
                .collect(),
        )
    }

    /// Whether FLAGS holds `flag` (case-insensitive).
    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags()
            .is_some_and(|f| f.iter().any(|x| x.eq_ignore_ascii_case(flag)))
    }
}

/// An ESEARCH response: the command's tag, whether UIDs, and the result
/// items (`MIN`, `MAX`, `COUNT`, `ALL`, `MODSEQ`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Esearch {
    /// The tag of the command it answers (`(TAG "a1")`).
    pub tag: Option<String>,
    /// Whether the numbers are UIDs.
    pub uid: bool,
    /// The result items, names upper-cased, in the order sent.
    pub items: Vec<(String, Value)>,
}

impl Esearch {
    pub(crate) fn from_data(data: &Data) -> Option<Esearch> {
        if !data.is("ESEARCH") {
            return None;
        }
        let mut values = data.values.as_slice();
        let mut tag = None;
        if let Some(Value::List(correlator)) = values.first() {
            if let [key, value] = correlator.as_slice()
                && key.is_atom("TAG")
            {
                tag = value.text();
            }
            values = &values[1..];
        }
        let uid = values.first().is_some_and(|v| v.is_atom("UID"));
        if uid {
            values = &values[1..];
        }
        let mut items = Vec::new();
        for pair in values.chunks(2) {
            let [name, value] = pair else { return None };
            items.push((name.as_atom()?.to_ascii_uppercase(), value.clone()));
        }
        Some(Esearch { tag, uid, items })
    }

    /// Result item `name` (case-insensitive).
    pub fn item(&self, name: &str) -> Option<&Value> {
        self.items
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// COUNT.
    pub fn count(&self) -> Option<u64> {
        self.item("COUNT").and_then(Value::as_number)
    }

    /// MIN.
    pub fn min(&self) -> Option<u32> {
        self.item("MIN").and_then(Value::as_u32)
    }

    /// MAX.
    pub fn max(&self) -> Option<u32> {
        self.item("MAX").and_then(Value::as_u32)
    }

    /// MODSEQ (RFC 7162).
    pub fn modseq(&self) -> Option<u64> {
        self.item("MODSEQ").and_then(Value::as_number)
    }

    /// ALL as numbers; `Some(empty)` when the item is missing (no match:
    /// RFC 4731 leaves ALL out), `None` if it is not a sequence set.
    pub fn all(&self) -> Option<Vec<u32>> {
        match self.item("ALL") {
            None => Some(Vec::new()),
            Some(v) => sequence_set(&v.text()?),
        }
    }
}

/// The numbers of a sequence set without `*` (`2,10:11` → 2, 10, 11), as
/// servers send them in ESEARCH, VANISHED and COPYUID.
pub fn sequence_set(text: &str) -> Option<Vec<u32>> {
    let mut out = Vec::new();
    for part in text.split(',') {
        match part.split_once(':') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.parse().ok()?, b.parse().ok()?);
                let (lo, hi) = (a.min(b), a.max(b));
                // A sequence set in a test reply is small; a huge range is a
                // server bug, not something to expand.
                if hi - lo > 10_000_000 {
                    return None;
                }
                out.extend(lo..=hi);
            }
            None => out.push(part.parse().ok()?),
        }
    }
    Some(out)
}
