//! SORT and UID SORT (RFC 5256), with ESORT's RETURN options (RFC 5267)
//! and SORT=DISPLAY's keys (RFC 5957).

use super::CommandBody;
use super::search::{SearchReturn, return_options};
use crate::grammar::search_key::{SearchKey, TextCharset, charset, check_charset, search_keys};
use crate::grammar::{Cursor, PResult, bad};

/// SORT: matching messages in an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sort {
    /// UID SORT: answer with UIDs.
    pub uid: bool,
    /// ESORT's RETURN options (`None`: a classic `* SORT` answer).
    pub returns: Option<Vec<SearchReturn>>,
    /// The order, most significant first.
    pub criteria: Vec<SortCriterion>,
    /// The charset of the search strings, upper-cased (UTF-8 when the
    /// parser decoded the strings from another charset: the key holds UTF-8).
    pub charset: String,
    /// The search criteria.
    pub key: SearchKey,
}

/// One sort criterion: a key, maybe reversed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortCriterion {
    /// REVERSE: descending.
    pub reverse: bool,
    /// What to sort by.
    pub key: SortKey,
}

/// What SORT orders by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// ARRIVAL: the internal date.
    Arrival,
    /// CC: the first Cc address's mailbox.
    Cc,
    /// DATE: the Date header (internal date without one).
    Date,
    /// FROM: the first From address's mailbox.
    From,
    /// SIZE: RFC822.SIZE.
    Size,
    /// SUBJECT: the base subject.
    Subject,
    /// TO: the first To address's mailbox.
    To,
    /// DISPLAYFROM: the first From address's display name (RFC 5957).
    DisplayFrom,
    /// DISPLAYTO: the first To address's display name (RFC 5957).
    DisplayTo,
}

/// `sort-criterion`: `["REVERSE" SP] sort-key`.
fn criterion(c: &mut Cursor<'_>) -> PResult<SortCriterion> {
    let reverse = c.eat_word("REVERSE");
    if reverse {
        c.sp("sort key")?;
    }
    let raw = c.atom("sort key")?;
    let key = match raw.to_ascii_uppercase().as_slice() {
        b"ARRIVAL" => SortKey::Arrival,
        b"CC" => SortKey::Cc,
        b"DATE" => SortKey::Date,
        b"FROM" => SortKey::From,
        b"SIZE" => SortKey::Size,
        b"SUBJECT" => SortKey::Subject,
        b"TO" => SortKey::To,
        b"DISPLAYFROM" => SortKey::DisplayFrom,
        b"DISPLAYTO" => SortKey::DisplayTo,
        _ => {
            return bad(format!("Unknown sort key {}", String::from_utf8_lossy(raw)));
        }
    };
    Ok(SortCriterion { reverse, key })
}

/// `[SP "RETURN" ...] SP sort-criteria SP charset 1*(SP search-key)`.
pub(crate) fn parse(c: &mut Cursor<'_>, uid: bool) -> PResult<CommandBody> {
    c.sp("sort criteria")?;
    let returns = return_options(c)?;
    if returns.is_some() {
        c.sp("sort criteria")?;
    }
    let criteria = c.paren_list("sort criterion", false, criterion)?;
    c.sp("charset")?;
    let charset = charset(c)?;
    c.sp("search key")?;
    let text = TextCharset::named(Some(&charset));
    let key = search_keys(c, text)?;
    c.eol()?;
    check_charset(&charset)?;
    let charset = text.reported(charset);
    Ok(CommandBody::Sort(Sort {
        uid,
        returns,
        criteria,
        charset,
        key,
    }))
}
