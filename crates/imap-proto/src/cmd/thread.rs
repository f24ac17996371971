//! THREAD and UID THREAD (RFC 5256; REFS from RFC 9051's registry,
//! draft-ietf-morg-inthread).

use super::CommandBody;
use crate::grammar::search_key::{SearchKey, TextCharset, charset, check_charset, search_keys};
use crate::grammar::{Cursor, PResult, bad};

/// THREAD: matching messages as conversation trees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thread {
    /// UID THREAD: answer with UIDs.
    pub uid: bool,
    /// How to build the threads.
    pub algorithm: ThreadAlgorithm,
    /// The charset of the search strings, upper-cased (UTF-8 when the
    /// parser decoded the strings from another charset: the key holds UTF-8).
    pub charset: String,
    /// The search criteria.
    pub key: SearchKey,
}

/// A threading algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadAlgorithm {
    /// ORDEREDSUBJECT: by base subject, then date.
    OrderedSubject,
    /// REFERENCES: by References/In-Reply-To, then subject.
    References,
    /// REFS: like REFERENCES without subject grouping, newest threads last
    /// by their latest message.
    Refs,
}

/// `SP thread-alg SP charset 1*(SP search-key)`.
pub(crate) fn parse(c: &mut Cursor<'_>, uid: bool) -> PResult<CommandBody> {
    c.sp("threading algorithm")?;
    let raw = c.atom("threading algorithm")?;
    let algorithm = match raw.to_ascii_uppercase().as_slice() {
        b"ORDEREDSUBJECT" => ThreadAlgorithm::OrderedSubject,
        b"REFERENCES" => ThreadAlgorithm::References,
        b"REFS" => ThreadAlgorithm::Refs,
        _ => {
            return bad(format!(
                "Unknown threading algorithm {}",
                String::from_utf8_lossy(raw)
            ));
        }
    };
    c.sp("charset")?;
    let charset = charset(c)?;
    c.sp("search key")?;
    let text = TextCharset::named(Some(&charset));
    let key = search_keys(c, text)?;
    c.eol()?;
    check_charset(&charset)?;
    let charset = text.reported(charset);
    Ok(CommandBody::Thread(Thread {
        uid,
        algorithm,
        charset,
        key,
    }))
}
