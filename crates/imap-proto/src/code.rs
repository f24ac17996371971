//! Response codes: the bracketed `[CODE ...]` of a status response
//! (RFC 9051 §7.1 and the extensions'), typed so that a storage error
//! reaches the client as an exact code rather than as text.

use std::fmt;

use crate::types::SequenceSet;

/// A response code. Rendered by [`crate::status_response`] between
/// brackets; `Display` gives the same text without them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Code {
    /// ALERT: text the user must see.
    Alert,
    /// ALREADYEXISTS (RFC 9051): the target name is taken.
    AlreadyExists,
    /// APPENDUID uidvalidity uid-set (RFC 4315; a set after MULTIAPPEND).
    AppendUid {
        /// The target mailbox's UIDVALIDITY.
        uidvalidity: u32,
        /// The new messages' UIDs, in the order appended.
        uids: SequenceSet,
    },
    /// AUTHENTICATIONFAILED (RFC 5530).
    AuthenticationFailed,
    /// AUTHORIZATIONFAILED (RFC 5530).
    AuthorizationFailed,
    /// BADCHARSET, with the charsets the server supports (may be empty).
    BadCharset(Vec<String>),
    /// BADEVENT (RFC 5465), with the events the server supports.
    BadEvent(Vec<String>),
    /// BADURL url (RFC 4469): a CATENATE URL could not be used.
    BadUrl(String),
    /// CANNOT (RFC 5530).
    Cannot,
    /// CAPABILITY list, e.g. in the greeting or after login.
    Capability(Vec<String>),
    /// CLIENTBUG (RFC 5530).
    ClientBug,
    /// CLOSED (RFC 7162): the previous mailbox is now closed.
    Closed,
    /// COMPRESSIONACTIVE (RFC 4978).
    CompressionActive,
    /// CONTACTADMIN (RFC 5530).
    ContactAdmin,
    /// COPYUID uidvalidity source-uids destination-uids (RFC 4315).
    CopyUid {
        /// The destination's UIDVALIDITY.
        uidvalidity: u32,
        /// The source messages' UIDs.
        source: SequenceSet,
        /// The copies' UIDs, in the same order.
        destination: SequenceSet,
    },
    /// CORRUPTION (RFC 5530).
    Corruption,
    /// EXPIRED (RFC 5530).
    Expired,
    /// EXPUNGEISSUED (RFC 5530).
    ExpungeIssued,
    /// HASCHILDREN (RFC 9051): DELETE of a mailbox with children.
    HasChildren,
    /// HIGHESTMODSEQ n (RFC 7162).
    HighestModSeq(u64),
    /// INUSE (RFC 5530).
    InUse,
    /// LIMIT (RFC 5530).
    Limit,
    /// MAILBOXID (objectid) (RFC 8474).
    MailboxId(String),
    /// METADATA ... (RFC 5464).
    Metadata(MetadataCode),
    /// MODIFIED set (RFC 7162): messages a conditional STORE left alone.
    Modified(SequenceSet),
    /// NOMODSEQ (RFC 7162).
    NoModSeq,
    /// NONEXISTENT (RFC 5530).
    NonExistent,
    /// NOPERM (RFC 5530).
    NoPerm,
    /// NOTIFICATIONOVERFLOW (RFC 5465).
    NotificationOverflow,
    /// NOTSAVED (RFC 5182).
    NotSaved,
    /// NOUPDATE "tag" (RFC 5267): a CONTEXT search will not be updated.
    NoUpdate(String),
    /// OVERQUOTA (RFC 5530, RFC 9208).
    OverQuota,
    /// PARSE: the message could not be parsed.
    Parse,
    /// PERMANENTFLAGS (flags), `\*` included when keywords may be created.
    PermanentFlags(Vec<String>),
    /// PRIVACYREQUIRED (RFC 5530).
    PrivacyRequired,
    /// READ-ONLY.
    ReadOnly,
    /// READ-WRITE.
    ReadWrite,
    /// SERVERBUG (RFC 5530).
    ServerBug,
    /// TOOBIG (RFC 4469, RFC 7889).
    TooBig,
    /// TRYCREATE: the target mailbox does not exist.
    TryCreate,
    /// UIDNEXT n.
    UidNext(u32),
    /// UIDNOTSTICKY (RFC 4315).
    UidNotSticky,
    /// UIDREQUIRED (RFC 9586).
    UidRequired,
    /// UIDVALIDITY n.
    UidValidity(u32),
    /// UNAVAILABLE (RFC 5530).
    Unavailable,
    /// UNKNOWN-CTE (RFC 3516).
    UnknownCte,
    /// UNSEEN n (IMAP4rev1).
    Unseen(u32),
    /// USEATTR (RFC 6154).
    UseAttr,
    /// A code this enum does not name yet (QUOTA and ACL plugins' codes):
    /// an atom and optional text, written as given after dropping bytes
    /// that would break the response line (CR, LF, NUL, `]`).
    Other {
        /// The code's atom, e.g. `QUOTA-X`.
        name: String,
        /// Text after the atom.
        text: Option<String>,
    },
}

/// The METADATA response code's forms (RFC 5464 §4.2.1, §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataCode {
    /// LONGENTRIES n: the longest value not returned (GETMETADATA MAXSIZE).
    LongEntries(u64),
    /// MAXSIZE n: a SETMETADATA value is over the server's size limit.
    MaxSize(u64),
    /// TOOMANY: too many annotations.
    TooMany,
    /// NOPRIVATE: private annotations cannot be stored.
    NoPrivate,
}

/// Writes `text`, dropping bytes a response code cannot carry.
fn clean(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    for c in text.chars() {
        if !matches!(c, '\r' | '\n' | '\0' | ']') {
            write!(f, "{c}")?;
        }
    }
    Ok(())
}

/// Writes `NAME (a b c)` from atoms, cleaned.
fn list(f: &mut fmt::Formatter<'_>, name: &str, items: &[String]) -> fmt::Result {
    write!(f, "{name} (")?;
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(" ")?;
        }
        atom(f, item)?;
    }
    f.write_str(")")
}

/// Writes an atom-like word, dropping characters that would end it. The
/// runs between such characters are written whole (a word is nearly
/// always one run): every login's CAPABILITY code is some sixty of them.
fn atom(f: &mut fmt::Formatter<'_>, word: &str) -> fmt::Result {
    let ends_atom =
        |c: char| !c.is_ascii_graphic() || matches!(c, '(' | ')' | '{' | '"' | ']' | '%');
    for run in word.split(ends_atom) {
        f.write_str(run)?;
    }
    Ok(())
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let simple = match self {
            Code::Alert => "ALERT",
            Code::AlreadyExists => "ALREADYEXISTS",
            Code::AuthenticationFailed => "AUTHENTICATIONFAILED",
            Code::AuthorizationFailed => "AUTHORIZATIONFAILED",
            Code::Cannot => "CANNOT",
            Code::ClientBug => "CLIENTBUG",
            Code::Closed => "CLOSED",
            Code::CompressionActive => "COMPRESSIONACTIVE",
            Code::ContactAdmin => "CONTACTADMIN",
            Code::Corruption => "CORRUPTION",
            Code::Expired => "EXPIRED",
            Code::ExpungeIssued => "EXPUNGEISSUED",
            Code::HasChildren => "HASCHILDREN",
            Code::InUse => "INUSE",
            Code::Limit => "LIMIT",
            Code::NoModSeq => "NOMODSEQ",
            Code::NonExistent => "NONEXISTENT",
            Code::NoPerm => "NOPERM",
            Code::NotificationOverflow => "NOTIFICATIONOVERFLOW",
            Code::NotSaved => "NOTSAVED",
            Code::OverQuota => "OVERQUOTA",
            Code::Parse => "PARSE",
            Code::PrivacyRequired => "PRIVACYREQUIRED",
            Code::ReadOnly => "READ-ONLY",
            Code::ReadWrite => "READ-WRITE",
            Code::ServerBug => "SERVERBUG",
            Code::TooBig => "TOOBIG",
            Code::TryCreate => "TRYCREATE",
            Code::UidNotSticky => "UIDNOTSTICKY",
            Code::UidRequired => "UIDREQUIRED",
            Code::Unavailable => "UNAVAILABLE",
            Code::UnknownCte => "UNKNOWN-CTE",
            Code::UseAttr => "USEATTR",
            Code::AppendUid { uidvalidity, uids } => {
                return write!(f, "APPENDUID {uidvalidity} {uids}");
            }
            Code::BadCharset(charsets) if charsets.is_empty() => "BADCHARSET",
            Code::BadCharset(charsets) => return list(f, "BADCHARSET", charsets),
            Code::BadEvent(events) => return list(f, "BADEVENT", events),
            Code::BadUrl(url) => {
                f.write_str("BADURL ")?;
                return clean(f, url);
            }
            Code::Capability(caps) => {
                f.write_str("CAPABILITY")?;
                for cap in caps {
                    f.write_str(" ")?;
                    atom(f, cap)?;
                }
                return Ok(());
            }
            Code::CopyUid {
                uidvalidity,
                source,
                destination,
            } => return write!(f, "COPYUID {uidvalidity} {source} {destination}"),
            Code::HighestModSeq(n) => return write!(f, "HIGHESTMODSEQ {n}"),
            Code::MailboxId(id) => {
                f.write_str("MAILBOXID (")?;
                atom(f, id)?;
                return f.write_str(")");
            }
            Code::Metadata(m) => {
                return match m {
                    MetadataCode::LongEntries(n) => write!(f, "METADATA LONGENTRIES {n}"),
                    MetadataCode::MaxSize(n) => write!(f, "METADATA MAXSIZE {n}"),
                    MetadataCode::TooMany => f.write_str("METADATA TOOMANY"),
                    MetadataCode::NoPrivate => f.write_str("METADATA NOPRIVATE"),
                };
            }
            Code::Modified(set) => return write!(f, "MODIFIED {set}"),
            Code::NoUpdate(tag) => {
                f.write_str("NOUPDATE \"")?;
                // A tag never holds '"' or '\\' (tag chars are astring chars
                // other than '+'), but a caller might pass anything.
                for c in tag.chars() {
                    if c.is_ascii_graphic() && c != '"' && c != '\\' && c != ']' {
                        write!(f, "{c}")?;
                    }
                }
                return f.write_str("\"");
            }
            Code::PermanentFlags(flags) => {
                f.write_str("PERMANENTFLAGS (")?;
                for (i, flag) in flags.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    for c in flag.chars() {
                        if c == '\\' || c == '*' || (c.is_ascii_graphic() && !"(){\"]%".contains(c))
                        {
                            write!(f, "{c}")?;
                        }
                    }
                }
                return f.write_str(")");
            }
            Code::UidNext(n) => return write!(f, "UIDNEXT {n}"),
            Code::UidValidity(n) => return write!(f, "UIDVALIDITY {n}"),
            Code::Unseen(n) => return write!(f, "UNSEEN {n}"),
            Code::Other { name, text } => {
                atom(f, name)?;
                if let Some(text) = text {
                    f.write_str(" ")?;
                    clean(f, text)?;
                }
                return Ok(());
            }
        };
        f.write_str(simple)
    }
}
