//! Values shared by several commands and responses: sequence sets, dates
//! and date-times.

/// One end of a sequence range: a number or `*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqNumber {
    /// A sequence number or UID.
    Value(u32),
    /// `*`: the largest number in use.
    Largest,
}

/// One range of a sequence set; `a:b` with either order, or a single number
/// (then `start == end`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeqRange {
    /// One end.
    pub start: SeqNumber,
    /// The other end.
    pub end: SeqNumber,
}

/// A sequence set such as `1:4,7,9:*`, or `$` (the saved search result,
/// RFC 5182). Commands carry what the client sent; responses build one
/// with [`SequenceSet::from_numbers`], which writes it compactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SequenceSet {
    /// Explicit ranges, in the order given.
    Ranges(Vec<SeqRange>),
    /// `$` (RFC 5182).
    Saved,
}

impl SequenceSet {
    /// The compact set of `numbers` (any order, repeats allowed): sorted,
    /// runs joined, e.g. 7, 1, 2, 3 → `1:3,7`. An empty input gives an
    /// empty set, which callers must not send (the grammar has none).
    pub fn from_numbers(numbers: impl IntoIterator<Item = u32>) -> SequenceSet {
        let mut sorted: Vec<u32> = numbers.into_iter().collect();
        sorted.sort_unstable();
        sorted.dedup();
        let mut ranges: Vec<SeqRange> = Vec::new();
        for n in sorted {
            if let Some(SeqRange {
                end: SeqNumber::Value(last),
                ..
            }) = ranges.last_mut()
                && last.checked_add(1) == Some(n)
            {
                *last = n;
                continue;
            }
            ranges.push(SeqRange {
                start: SeqNumber::Value(n),
                end: SeqNumber::Value(n),
            });
        }
        SequenceSet::Ranges(ranges)
    }

    /// The set of `numbers` in the order given (ESORT's ALL, RFC 5267
    /// §3.2): only runs that ascend by one in that order are joined, e.g.
    /// 4, 5, 6, 2, 9 → `4:6,2,9`.
    pub fn in_order(numbers: impl IntoIterator<Item = u32>) -> SequenceSet {
        let mut ranges: Vec<SeqRange> = Vec::new();
        for n in numbers {
            if let Some(SeqRange {
                end: SeqNumber::Value(last),
                ..
            }) = ranges.last_mut()
                && last.checked_add(1) == Some(n)
            {
                *last = n;
                continue;
            }
            ranges.push(SeqRange {
                start: SeqNumber::Value(n),
                end: SeqNumber::Value(n),
            });
        }
        SequenceSet::Ranges(ranges)
    }

    /// Whether the set names no number (only a set built from nothing).
    pub fn is_empty(&self) -> bool {
        matches!(self, SequenceSet::Ranges(r) if r.is_empty())
    }
}

impl std::fmt::Display for SeqNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SeqNumber::Value(n) => write!(f, "{n}"),
            SeqNumber::Largest => f.write_str("*"),
        }
    }
}

impl std::fmt::Display for SequenceSet {
    /// The set as IMAP writes it: `1:3,7`, `*`, `$`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SequenceSet::Saved => f.write_str("$"),
            SequenceSet::Ranges(ranges) => {
                for (i, r) in ranges.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    if r.start == r.end {
                        write!(f, "{}", r.start)?;
                    } else {
                        write!(f, "{}:{}", r.start, r.end)?;
                    }
                }
                Ok(())
            }
        }
    }
}

/// A calendar date in SEARCH (`1-Feb-2024`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchDate {
    /// The year.
    pub year: i32,
    /// The month, 1–12.
    pub month: u32,
    /// The day of the month, 1–31.
    pub day: u32,
}

/// A date and time with its zone, as in APPEND and INTERNALDATE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime {
    /// Seconds since the epoch (UTC).
    pub unix: i64,
    /// The zone as minutes east of UTC.
    pub offset_minutes: i32,
}
