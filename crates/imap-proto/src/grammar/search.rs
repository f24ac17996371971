//! SEARCH arguments (RFC 9051 §6.4.4): an optional CHARSET and one or more
//! search keys, with NOT, OR and parenthesised lists.

use super::cursor::{Cursor, Fail, PResult, bad, is_atom_char};
use super::flags::flag;
use super::seqset::sequence_set;
use crate::command::{CommandBody, SearchDate, SearchKey};
use crate::datetime::{MONTHS, days_in_month};

/// How deep NOT/OR/parentheses may nest, so a hostile command cannot
/// exhaust the stack.
const MAX_DEPTH: usize = 64;

/// `[SP "CHARSET" SP astring] 1*(SP search-key)` after SEARCH.
pub(crate) fn search(c: &mut Cursor<'_>, uid: bool) -> PResult<CommandBody> {
    c.sp("search key")?;
    let mut charset = None;
    let save = c.pos();
    let word = c.take_while(is_atom_char);
    if word.eq_ignore_ascii_case(b"CHARSET") {
        c.sp("charset")?;
        let name = c.astring_utf8("charset")?;
        charset = Some(name.to_ascii_uppercase());
        c.sp("search key")?;
    } else if word.eq_ignore_ascii_case(b"RETURN") {
        return bad("SEARCH RETURN (ESEARCH) is not supported yet");
    } else {
        *c = c.rewound(save);
    }
    let mut keys = vec![key(c, 0)?];
    while !c.at_eol() {
        c.sp("search key")?;
        keys.push(key(c, 0)?);
    }
    c.eol()?;
    let key = if keys.len() == 1 {
        keys.pop().unwrap_or(SearchKey::All)
    } else {
        SearchKey::And(keys)
    };
    Ok(CommandBody::Search { uid, charset, key })
}

fn string(c: &mut Cursor<'_>, what: &str) -> PResult<String> {
    c.sp(what)?;
    c.astring_utf8(what)
}

fn number(c: &mut Cursor<'_>, what: &str) -> PResult<u64> {
    c.sp(what)?;
    c.number(what)
}

fn date(c: &mut Cursor<'_>) -> PResult<SearchDate> {
    c.sp("date")?;
    let quoted = c.eat(b'"');
    let day_raw = c.take_while(|b| b.is_ascii_digit());
    if day_raw.is_empty() || day_raw.len() > 2 {
        return bad("Invalid date: expected d-Mon-yyyy");
    }
    let day = day_raw
        .iter()
        .fold(0u32, |v, d| v * 10 + u32::from(d - b'0'));
    c.expect(b'-', "'-' in date")?;
    let month_raw = c.take_while(|b| b.is_ascii_alphabetic());
    let month = MONTHS
        .iter()
        .position(|m| m.as_bytes().eq_ignore_ascii_case(month_raw))
        .ok_or_else(|| Fail::Bad("Invalid month in date".into()))?;
    let month = u32::try_from(month + 1).unwrap_or(1);
    c.expect(b'-', "'-' in date")?;
    let year_raw = c.take_while(|b| b.is_ascii_digit());
    if year_raw.len() != 4 {
        return bad("Invalid date: the year needs 4 digits");
    }
    let year = year_raw
        .iter()
        .fold(0i32, |v, d| v * 10 + i32::from(d - b'0'));
    if quoted {
        c.expect(b'"', "closing quote of the date")?;
    }
    if day == 0 || day > days_in_month(i64::from(year), month) {
        return bad("Invalid date: no such day");
    }
    Ok(SearchDate { year, month, day })
}

/// One search key.
fn key(c: &mut Cursor<'_>, depth: usize) -> PResult<SearchKey> {
    if depth > MAX_DEPTH {
        return bad("Search keys nest too deeply");
    }
    match c.peek() {
        None => return Err(Fail::Incomplete),
        Some(b'(') => {
            c.eat(b'(');
            let mut keys = vec![key(c, depth + 1)?];
            while !c.eat(b')') {
                c.sp("search key")?;
                keys.push(key(c, depth + 1)?);
            }
            return Ok(SearchKey::And(keys));
        }
        Some(b) if b.is_ascii_digit() || b == b'*' || b == b'$' => {
            return Ok(SearchKey::Sequence(sequence_set(c)?));
        }
        _ => {}
    }
    let name = String::from_utf8_lossy(c.atom("search key")?).to_ascii_uppercase();
    Ok(match name.as_str() {
        "ALL" => SearchKey::All,
        "ANSWERED" => SearchKey::Answered,
        "DELETED" => SearchKey::Deleted,
        "DRAFT" => SearchKey::Draft,
        "FLAGGED" => SearchKey::Flagged,
        "SEEN" => SearchKey::Seen,
        "UNANSWERED" => SearchKey::Unanswered,
        "UNDELETED" => SearchKey::Undeleted,
        "UNDRAFT" => SearchKey::Undraft,
        "UNFLAGGED" => SearchKey::Unflagged,
        "UNSEEN" => SearchKey::Unseen,
        "NEW" | "RECENT" => SearchKey::Recent,
        "OLD" => SearchKey::Old,
        "KEYWORD" | "UNKEYWORD" => {
            c.sp("keyword")?;
            let k = flag(c)?;
            if name == "KEYWORD" {
                SearchKey::Keyword(k)
            } else {
                SearchKey::Unkeyword(k)
            }
        }
        "BCC" => SearchKey::Bcc(string(c, "BCC string")?),
        "CC" => SearchKey::Cc(string(c, "CC string")?),
        "FROM" => SearchKey::From(string(c, "FROM string")?),
        "TO" => SearchKey::To(string(c, "TO string")?),
        "SUBJECT" => SearchKey::Subject(string(c, "SUBJECT string")?),
        "BODY" => SearchKey::Body(string(c, "BODY string")?),
        "TEXT" => SearchKey::Text(string(c, "TEXT string")?),
        "HEADER" => {
            let field = string(c, "header field name")?;
            let value = string(c, "header value")?;
            SearchKey::Header(field, value)
        }
        "BEFORE" => SearchKey::Before(date(c)?),
        "ON" => SearchKey::On(date(c)?),
        "SINCE" => SearchKey::Since(date(c)?),
        "SENTBEFORE" => SearchKey::SentBefore(date(c)?),
        "SENTON" => SearchKey::SentOn(date(c)?),
        "SENTSINCE" => SearchKey::SentSince(date(c)?),
        "SAVEDBEFORE" => SearchKey::SavedBefore(date(c)?),
        "SAVEDON" => SearchKey::SavedOn(date(c)?),
        "SAVEDSINCE" => SearchKey::SavedSince(date(c)?),
        "LARGER" => SearchKey::Larger(number(c, "size")?),
        "SMALLER" => SearchKey::Smaller(number(c, "size")?),
        "OLDER" => SearchKey::Older(number(c, "seconds")?),
        "YOUNGER" => SearchKey::Younger(number(c, "seconds")?),
        "MODSEQ" => {
            c.sp("mod-sequence")?;
            // Optional entry name and type (RFC 7162): accepted, ignored.
            if c.peek() == Some(b'"') {
                c.astring("entry name")?;
                c.sp("entry type")?;
                c.atom("entry type")?;
                c.sp("mod-sequence")?;
            }
            SearchKey::ModSeq(c.number("mod-sequence")?)
        }
        "UID" => {
            c.sp("UID set")?;
            SearchKey::Uid(sequence_set(c)?)
        }
        "NOT" => {
            c.sp("search key after NOT")?;
            SearchKey::Not(Box::new(key(c, depth + 1)?))
        }
        "OR" => {
            c.sp("first search key of OR")?;
            let a = key(c, depth + 1)?;
            c.sp("second search key of OR")?;
            let b = key(c, depth + 1)?;
            SearchKey::Or(Box::new(a), Box::new(b))
        }
        other => return bad(format!("Unknown search key {other}")),
    })
}
