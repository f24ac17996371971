//! SEARCH and UID SEARCH (RFC 9051 §6.4.4) with ESEARCH's RETURN options
//! (RFC 4731: MIN MAX ALL COUNT; RFC 5182: SAVE; RFC 9394: PARTIAL;
//! RFC 5267: CONTEXT UPDATE). The keys are in [`crate::SearchKey`].

use super::CommandBody;
use crate::grammar::search_key::{SearchKey, TextCharset, charset, check_charset, search_keys};
use crate::grammar::{Cursor, PResult, bad};

/// SEARCH: the messages matching a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Search {
    /// UID SEARCH: answer with UIDs.
    pub uid: bool,
    /// The RETURN options; `None` without RETURN (a classic `* SEARCH`
    /// answer); `RETURN ()` is given as `[All]` (RFC 4731 §3.1).
    pub returns: Option<Vec<SearchReturn>>,
    /// The CHARSET argument, upper-cased, when given (UTF-8 when the
    /// parser decoded the strings from another charset: the key holds UTF-8).
    pub charset: Option<String>,
    /// The criteria (several top-level keys are an [`SearchKey::And`]).
    pub key: SearchKey,
}

/// A RETURN option of SEARCH or SORT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchReturn {
    /// MIN: the lowest match.
    Min,
    /// MAX: the highest match.
    Max,
    /// ALL: every match, as a sequence set.
    All,
    /// COUNT: how many match.
    Count,
    /// SAVE: keep the result for `$` (RFC 5182).
    Save,
    /// CONTEXT: the client will ask for updates (RFC 5267).
    Context,
    /// UPDATE: send ADDTO/REMOVEFROM as the result changes (RFC 5267).
    Update,
    /// PARTIAL range: a window of the result (RFC 9394).
    Partial(PartialRange),
}

/// PARTIAL's window (RFC 9394): 1-based positions in the result, from the
/// start (`1:100`) or from the end (`-1:-100`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartialRange {
    /// `a:b`: positions a to b from the first match.
    First(u32, u32),
    /// `-a:-b`: positions a to b from the last match.
    Last(u32, u32),
}

impl std::fmt::Display for PartialRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PartialRange::First(a, b) => write!(f, "{a}:{b}"),
            PartialRange::Last(a, b) => write!(f, "-{a}:-{b}"),
        }
    }
}

/// `SP "RETURN" SP "(" [search-return-opt *(SP search-return-opt)] ")"`,
/// when the next word is RETURN; the caller has read the SP before it.
pub(crate) fn return_options(c: &mut Cursor<'_>) -> PResult<Option<Vec<SearchReturn>>> {
    if !c.eat_word("RETURN") {
        return Ok(None);
    }
    c.sp("return options")?;
    let mut opts = c.paren_list("return option", true, |c| {
        let raw = c.atom("return option")?;
        Ok(match raw.to_ascii_uppercase().as_slice() {
            b"MIN" => SearchReturn::Min,
            b"MAX" => SearchReturn::Max,
            b"ALL" => SearchReturn::All,
            b"COUNT" => SearchReturn::Count,
            b"SAVE" => SearchReturn::Save,
            b"CONTEXT" => SearchReturn::Context,
            b"UPDATE" => SearchReturn::Update,
            b"PARTIAL" => {
                c.sp("partial range")?;
                SearchReturn::Partial(partial_range(c)?)
            }
            _ => {
                return bad(format!(
                    "Unknown return option {}",
                    String::from_utf8_lossy(raw)
                ));
            }
        })
    })?;
    if opts.is_empty() {
        opts.push(SearchReturn::All);
    }
    Ok(Some(opts))
}

/// `partial-range`: `a:b` or `-a:-b`, non-zero numbers.
fn partial_range(c: &mut Cursor<'_>) -> PResult<PartialRange> {
    let last = c.eat(b'-');
    let a = c.nz_number("partial range")?;
    c.expect(b':', "':' in partial range")?;
    if last {
        c.expect(b'-', "'-' in partial range")?;
    }
    let b = c.nz_number("partial range")?;
    Ok(if last {
        PartialRange::Last(a, b)
    } else {
        PartialRange::First(a, b)
    })
}

/// `[search-return-opts] SP ["CHARSET" SP charset SP] search-key
/// *(SP search-key)`.
pub(crate) fn parse(c: &mut Cursor<'_>, uid: bool) -> PResult<CommandBody> {
    c.sp("search key")?;
    let returns = return_options(c)?;
    if returns.is_some() {
        c.sp("search key")?;
    }
    let mut charset_name = None;
    if c.eat_word("CHARSET") {
        c.sp("charset")?;
        charset_name = Some(charset(c)?);
        c.sp("search key")?;
    }
    let text = TextCharset::named(charset_name.as_deref());
    let key = search_keys(c, text)?;
    c.eol()?;
    if let Some(name) = charset_name.as_deref() {
        check_charset(name)?;
    }
    let charset_name = charset_name.map(|name| text.reported(name));
    Ok(CommandBody::Search(Search {
        uid,
        returns,
        charset: charset_name,
        key,
    }))
}
