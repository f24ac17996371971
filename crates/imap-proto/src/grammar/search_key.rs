//! Search keys (RFC 9051 §6.4.4 and the extensions: RFC 7162 MODSEQ,
//! RFC 5032 OLDER/YOUNGER, RFC 8474 EMAILID/THREADID, RFC 8514 SAVED*,
//! RFC 5182 `$`), shared by SEARCH, SORT and THREAD, and the CHARSET
//! argument they share too.

use super::cursor::{Cursor, Fail, PResult, bad};
use super::flags::flag;
use super::seqset::sequence_set;
use crate::code::Code;
use crate::datetime::{MONTHS, days_in_month};
use crate::types::{SearchDate, SequenceSet};

/// How deep NOT, OR and parentheses may nest in a search. Deeper keys are
/// refused with BAD: the key tree travels to storage as nested protobuf
/// messages (two levels per OR or parenthesis), and prost refuses messages
/// nested more than 100 deep, so a deeper search would fail there instead.
pub const MAX_SEARCH_DEPTH: usize = 32;

/// The charsets whose strings SEARCH, SORT and THREAD take as they are
/// (RFC 9051 requires these two). Others with a decoder are decoded to
/// UTF-8 while parsing; the rest get `NO [BADCHARSET (UTF-8 US-ASCII)]`.
pub const SEARCH_CHARSETS: [&str; 2] = ["UTF-8", "US-ASCII"];

/// A SEARCH key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchKey {
    /// ALL
    All,
    /// ANSWERED
    Answered,
    /// DELETED
    Deleted,
    /// DRAFT
    Draft,
    /// FLAGGED
    Flagged,
    /// SEEN
    Seen,
    /// UNANSWERED
    Unanswered,
    /// UNDELETED
    Undeleted,
    /// UNDRAFT
    Undraft,
    /// UNFLAGGED
    Unflagged,
    /// UNSEEN
    Unseen,
    /// RECENT (IMAP4rev1; this server never sets \Recent: match nothing)
    Recent,
    /// NEW (IMAP4rev1: RECENT and UNSEEN)
    New,
    /// OLD (IMAP4rev1: not \Recent, which is every message here)
    Old,
    /// KEYWORD flag
    Keyword(String),
    /// UNKEYWORD flag
    Unkeyword(String),
    /// BCC string
    Bcc(String),
    /// CC string
    Cc(String),
    /// FROM string
    From(String),
    /// TO string
    To(String),
    /// SUBJECT string
    Subject(String),
    /// BODY string
    Body(String),
    /// TEXT string
    Text(String),
    /// HEADER field string
    Header(String, String),
    /// BEFORE date
    Before(SearchDate),
    /// ON date
    On(SearchDate),
    /// SINCE date
    Since(SearchDate),
    /// SENTBEFORE date
    SentBefore(SearchDate),
    /// SENTON date
    SentOn(SearchDate),
    /// SENTSINCE date
    SentSince(SearchDate),
    /// SAVEDBEFORE date (RFC 8514)
    SavedBefore(SearchDate),
    /// SAVEDON date (RFC 8514)
    SavedOn(SearchDate),
    /// SAVEDSINCE date (RFC 8514)
    SavedSince(SearchDate),
    /// SAVEDATESUPPORTED (RFC 8514): every message when the mailbox keeps
    /// save dates.
    SaveDateSupported,
    /// LARGER n
    Larger(u64),
    /// SMALLER n
    Smaller(u64),
    /// OLDER seconds (RFC 5032 WITHIN)
    Older(u64),
    /// YOUNGER seconds (RFC 5032 WITHIN)
    Younger(u64),
    /// MODSEQ [entry-name entry-type] n (RFC 7162)
    ModSeq {
        /// The flag whose mod-sequence the client means, and which
        /// annotation type; `None` for the message's mod-sequence.
        entry: Option<ModSeqEntry>,
        /// The mod-sequence: match messages at or above it.
        modseq: u64,
    },
    /// EMAILID objectid (RFC 8474)
    EmailId(String),
    /// THREADID objectid (RFC 8474)
    ThreadId(String),
    /// UID set
    Uid(SequenceSet),
    /// A sequence set (or `$`)
    Sequence(SequenceSet),
    /// NOT key
    Not(Box<SearchKey>),
    /// OR key key
    Or(Box<SearchKey>, Box<SearchKey>),
    /// (key key ...) or several keys in a row: all must match.
    And(Vec<SearchKey>),
}

/// The `"/flags/<flag>" type` part of MODSEQ (RFC 7162 §3.1.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModSeqEntry {
    /// The flag, system flags in canonical case.
    pub flag: String,
    /// `priv`, `shared` or `all`.
    pub kind: EntryKind,
}

/// MODSEQ's entry type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// priv
    Private,
    /// shared
    Shared,
    /// all
    All,
}

/// `charset`: an atom or quoted string, upper-cased. Checked with
/// [`check_charset`] once the whole command has parsed, so that a syntax
/// error (such as a missing charset) is a BAD, not a BADCHARSET.
pub(crate) fn charset(c: &mut Cursor<'_>) -> PResult<String> {
    let raw = match c.peek() {
        Some(b'"') => c.string("charset")?,
        _ => c.atom("charset")?.to_vec(),
    };
    Ok(String::from_utf8_lossy(&raw).to_ascii_uppercase())
}

/// How the strings of a search are read: in the charset the client named
/// with CHARSET, decoded to UTF-8 while parsing, so that everything after
/// the parser (and the storage RPC) sees UTF-8 only.
#[derive(Debug, Clone, Copy)]
pub(crate) enum TextCharset {
    /// No CHARSET, UTF-8 or US-ASCII: the strings must be UTF-8.
    Utf8,
    /// Another charset with a decoder (ISO-8859-*, windows-*, KOI8-R,
    /// Shift_JIS, GB18030, Big5, EUC-KR, ...).
    Decoded(&'static encoding_rs::Encoding),
    /// A charset nothing decodes: the strings are read as UTF-8 where they
    /// are, and [`check_charset`] refuses the command once it has parsed.
    Unknown,
}

impl TextCharset {
    /// The reading of strings for the CHARSET `name` (none: UTF-8).
    pub(crate) fn named(name: Option<&str>) -> TextCharset {
        let Some(name) = name else {
            return TextCharset::Utf8;
        };
        if SEARCH_CHARSETS.contains(&name) {
            return TextCharset::Utf8;
        }
        match encoding_rs::Encoding::for_label(name.as_bytes()) {
            Some(encoding) if encoding == encoding_rs::UTF_8 => TextCharset::Utf8,
            Some(encoding) => TextCharset::Decoded(encoding),
            None => TextCharset::Unknown,
        }
    }

    /// The charset's name as the parsed command reports it: UTF-8 once the
    /// strings have been decoded from another one.
    pub(crate) fn reported(self, name: String) -> String {
        match self {
            TextCharset::Decoded(_) => "UTF-8".to_owned(),
            TextCharset::Utf8 | TextCharset::Unknown => name,
        }
    }

    /// `raw` as UTF-8 text; bytes that are not text in the charset are a
    /// BAD.
    fn decode(self, raw: Vec<u8>, what: &str) -> PResult<String> {
        match self {
            TextCharset::Utf8 => {
                String::from_utf8(raw).map_err(|_| Fail::Bad(format!("Invalid UTF-8 in {what}")))
            }
            TextCharset::Unknown => Ok(String::from_utf8_lossy(&raw).into_owned()),
            TextCharset::Decoded(encoding) => encoding
                .decode_without_bom_handling_and_without_replacement(&raw)
                .map(|text| text.into_owned())
                .ok_or_else(|| Fail::Bad(format!("Invalid {} in {what}", encoding.name()))),
        }
    }
}

/// Refuses a charset that has no decoder with
/// `NO [BADCHARSET (UTF-8 US-ASCII)]`.
pub(crate) fn check_charset(name: &str) -> PResult<()> {
    if !matches!(TextCharset::named(Some(name)), TextCharset::Unknown) {
        return Ok(());
    }
    Err(Fail::No(
        Code::BadCharset(SEARCH_CHARSETS.iter().map(|s| s.to_string()).collect()),
        format!("Charset {name} is not supported"),
    ))
}

/// `search-key *(SP search-key)`, stopping before the end of the line:
/// one key, or several as an [`SearchKey::And`].
pub(crate) fn search_keys(c: &mut Cursor<'_>, text: TextCharset) -> PResult<SearchKey> {
    let mut keys = vec![key(c, text, 0)?];
    while !c.at_eol() {
        c.sp("search key")?;
        keys.push(key(c, text, 0)?);
    }
    Ok(match keys.pop() {
        Some(only) if keys.is_empty() => only,
        Some(last) => {
            keys.push(last);
            SearchKey::And(keys)
        }
        None => SearchKey::All,
    })
}

/// SP and an astring in the search's charset, as UTF-8.
fn string(c: &mut Cursor<'_>, text: TextCharset, what: &str) -> PResult<String> {
    c.sp(what)?;
    let raw = c.astring(what)?;
    text.decode(raw, what)
}

/// SP and a number.
fn number(c: &mut Cursor<'_>, what: &str) -> PResult<u64> {
    c.sp(what)?;
    c.number(what)
}

/// SP and an `objectid` (RFC 8474): 1 to 255 of ALPHA, DIGIT, `_`, `-`.
fn object_id(c: &mut Cursor<'_>, what: &str) -> PResult<String> {
    c.sp(what)?;
    let raw = c.astring(what)?;
    let ok = !raw.is_empty()
        && raw.len() <= 255
        && raw
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !ok {
        return bad(format!("Invalid {what}"));
    }
    Ok(String::from_utf8_lossy(&raw).into_owned())
}

/// SP and a `date`: `d-Mon-yyyy`, optionally quoted.
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

/// MODSEQ's arguments: `[SP entry-name SP entry-type-req] SP
/// mod-sequence-valzer`.
fn modseq(c: &mut Cursor<'_>) -> PResult<SearchKey> {
    c.sp("mod-sequence")?;
    let mut entry = None;
    if c.peek() == Some(b'"') {
        let name = c.string("entry name")?;
        let Some(flag_name) = name
            .get(..7)
            .filter(|p| p.eq_ignore_ascii_case(b"/flags/"))
            .map(|_| &name[7..])
        else {
            return bad("MODSEQ entry names are \"/flags/<flag>\"");
        };
        let mut fc = Cursor::new(flag_name);
        let flag = flag(&mut fc)?;
        if fc.peek().is_some() {
            return bad("Invalid flag in MODSEQ entry name");
        }
        c.sp("entry type")?;
        let kind = match c.atom("entry type")?.to_ascii_lowercase().as_slice() {
            b"priv" => EntryKind::Private,
            b"shared" => EntryKind::Shared,
            b"all" => EntryKind::All,
            _ => return bad("MODSEQ entry type must be priv, shared or all"),
        };
        entry = Some(ModSeqEntry { flag, kind });
        c.sp("mod-sequence")?;
    }
    let modseq = c.mod_sequence("mod-sequence", true)?;
    Ok(SearchKey::ModSeq { entry, modseq })
}

/// One search key at nesting `depth`.
fn key(c: &mut Cursor<'_>, text: TextCharset, depth: usize) -> PResult<SearchKey> {
    if depth > MAX_SEARCH_DEPTH {
        return bad(format!(
            "Search keys nest too deeply (NOT, OR and parentheses at most {MAX_SEARCH_DEPTH} deep)"
        ));
    }
    match c.peek() {
        None => return Err(Fail::Incomplete),
        Some(b'(') => {
            c.eat(b'(');
            let mut keys = vec![key(c, text, depth + 1)?];
            while !c.eat(b')') {
                c.sp("search key")?;
                keys.push(key(c, text, depth + 1)?);
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
        "RECENT" => SearchKey::Recent,
        "NEW" => SearchKey::New,
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
        "BCC" => SearchKey::Bcc(string(c, text, "BCC string")?),
        "CC" => SearchKey::Cc(string(c, text, "CC string")?),
        "FROM" => SearchKey::From(string(c, text, "FROM string")?),
        "TO" => SearchKey::To(string(c, text, "TO string")?),
        "SUBJECT" => SearchKey::Subject(string(c, text, "SUBJECT string")?),
        "BODY" => SearchKey::Body(string(c, text, "BODY string")?),
        "TEXT" => SearchKey::Text(string(c, text, "TEXT string")?),
        "HEADER" => {
            let field = string(c, text, "header field name")?;
            let value = string(c, text, "header value")?;
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
        "SAVEDATESUPPORTED" => SearchKey::SaveDateSupported,
        "LARGER" => SearchKey::Larger(number(c, "size")?),
        "SMALLER" => SearchKey::Smaller(number(c, "size")?),
        "OLDER" | "YOUNGER" => {
            let n = number(c, "seconds")?;
            if n == 0 {
                return bad(format!("{name} needs a number of seconds above zero"));
            }
            if name == "OLDER" {
                SearchKey::Older(n)
            } else {
                SearchKey::Younger(n)
            }
        }
        "MODSEQ" => modseq(c)?,
        "EMAILID" => SearchKey::EmailId(object_id(c, "email id")?),
        "THREADID" => SearchKey::ThreadId(object_id(c, "thread id")?),
        "UID" => {
            c.sp("UID set")?;
            SearchKey::Uid(sequence_set(c)?)
        }
        "NOT" => {
            c.sp("search key after NOT")?;
            SearchKey::Not(Box::new(key(c, text, depth + 1)?))
        }
        "OR" => {
            c.sp("first search key of OR")?;
            let a = key(c, text, depth + 1)?;
            c.sp("second search key of OR")?;
            let b = key(c, text, depth + 1)?;
            SearchKey::Or(Box::new(a), Box::new(b))
        }
        other => return bad(format!("Unknown search key {other}")),
    })
}
