//! `* LIST` and `* LSUB` lines (RFC 9051 §7.3.1, RFC 3501 §7.2.3) with
//! their attributes (RFC 5258, RFC 6154 special use) and extended data
//! (CHILDINFO, RFC 5258 §4; OLDNAME, RFC 9051 §6.3.9; MYRIGHTS, RFC 8440).

use super::strings::Encoder;

/// A mailbox attribute in a LIST or LSUB line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailboxAttribute {
    /// \NonExistent: the name has no mailbox (LIST-EXTENDED).
    NonExistent,
    /// \Noinferiors: no children can be created.
    NoInferiors,
    /// \Noselect: cannot be selected.
    NoSelect,
    /// \HasChildren
    HasChildren,
    /// \HasNoChildren
    HasNoChildren,
    /// \Marked: new messages since last selected.
    Marked,
    /// \Unmarked
    Unmarked,
    /// \Subscribed (LIST-EXTENDED)
    Subscribed,
    /// \Remote (LIST-EXTENDED)
    Remote,
    /// \All (special use)
    All,
    /// \Archive (special use)
    Archive,
    /// \Drafts (special use)
    Drafts,
    /// \Flagged (special use)
    Flagged,
    /// \Junk (special use)
    Junk,
    /// \Sent (special use)
    Sent,
    /// \Trash (special use)
    Trash,
    /// \Important (RFC 8457)
    Important,
    /// Another `\Name` (without the backslash).
    Other(String),
}

impl MailboxAttribute {
    /// The attribute as written, e.g. `\HasNoChildren`.
    pub fn name(&self) -> String {
        let fixed = match self {
            MailboxAttribute::NonExistent => "\\NonExistent",
            MailboxAttribute::NoInferiors => "\\Noinferiors",
            MailboxAttribute::NoSelect => "\\Noselect",
            MailboxAttribute::HasChildren => "\\HasChildren",
            MailboxAttribute::HasNoChildren => "\\HasNoChildren",
            MailboxAttribute::Marked => "\\Marked",
            MailboxAttribute::Unmarked => "\\Unmarked",
            MailboxAttribute::Subscribed => "\\Subscribed",
            MailboxAttribute::Remote => "\\Remote",
            MailboxAttribute::All => "\\All",
            MailboxAttribute::Archive => "\\Archive",
            MailboxAttribute::Drafts => "\\Drafts",
            MailboxAttribute::Flagged => "\\Flagged",
            MailboxAttribute::Junk => "\\Junk",
            MailboxAttribute::Sent => "\\Sent",
            MailboxAttribute::Trash => "\\Trash",
            MailboxAttribute::Important => "\\Important",
            MailboxAttribute::Other(name) => {
                let clean: String = name
                    .chars()
                    .filter(|c| c.is_ascii_graphic() && !"(){\"\\]%*".contains(*c))
                    .collect();
                return format!("\\{clean}");
            }
        };
        fixed.to_string()
    }

    /// The special-use attribute named `name` (`\Drafts`, any case), as
    /// CREATE's USE list and storage carry them.
    pub fn special_use(name: &str) -> Option<MailboxAttribute> {
        let bare = name.strip_prefix('\\')?;
        [
            MailboxAttribute::All,
            MailboxAttribute::Archive,
            MailboxAttribute::Drafts,
            MailboxAttribute::Flagged,
            MailboxAttribute::Junk,
            MailboxAttribute::Sent,
            MailboxAttribute::Trash,
            MailboxAttribute::Important,
        ]
        .into_iter()
        .find(|a| a.name()[1..].eq_ignore_ascii_case(bare))
    }
}

/// One LIST or LSUB line's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListItem {
    /// The attributes, in the order to write them.
    pub attributes: Vec<MailboxAttribute>,
    /// The hierarchy delimiter; `None` is NIL (a flat namespace).
    pub delimiter: Option<char>,
    /// The mailbox name (UTF-8; written in the connection's encoding).
    pub name: String,
    /// CHILDINFO ("SUBSCRIBED"): a child matches the selection
    /// (RECURSIVEMATCH with SUBSCRIBED).
    pub child_info_subscribed: bool,
    /// OLDNAME: the name before a RENAME (RFC 9051 §6.3.9).
    pub old_name: Option<String>,
    /// MYRIGHTS: the user's rights on the mailbox (`LIST ... RETURN
    /// (MYRIGHTS)`, RFC 8440).
    pub my_rights: Option<String>,
}

impl ListItem {
    /// A line for `name` with no attributes or extended data.
    pub fn new(name: impl Into<String>, delimiter: Option<char>) -> ListItem {
        ListItem {
            attributes: Vec::new(),
            delimiter,
            name: name.into(),
            child_info_subscribed: false,
            old_name: None,
            my_rights: None,
        }
    }
}

/// Appends `* LIST (\HasNoChildren) "." INBOX\r\n` and any extended data.
pub fn list(out: &mut Vec<u8>, enc: Encoder, item: &ListItem) {
    mailbox_line(out, enc, "LIST", item);
}

/// Appends `* LSUB () "." name\r\n` (IMAP4rev1).
pub fn lsub(out: &mut Vec<u8>, enc: Encoder, item: &ListItem) {
    mailbox_line(out, enc, "LSUB", item);
}

/// The delimiter as a quoted character, or NIL.
pub(crate) fn delimiter(out: &mut Vec<u8>, delimiter: Option<char>) {
    match delimiter {
        Some(d @ ('"' | '\\')) => out.extend_from_slice(format!("\"\\{d}\"").as_bytes()),
        Some(d) => out.extend_from_slice(format!("\"{d}\"").as_bytes()),
        None => out.extend_from_slice(b"NIL"),
    }
}

/// The body of a LIST or LSUB line.
fn mailbox_line(out: &mut Vec<u8>, enc: Encoder, kind: &str, item: &ListItem) {
    out.extend_from_slice(b"* ");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b" (");
    for (i, attribute) in item.attributes.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(attribute.name().as_bytes());
    }
    out.extend_from_slice(b") ");
    delimiter(out, item.delimiter);
    out.push(b' ');
    enc.mailbox(out, &item.name);
    if item.child_info_subscribed || item.old_name.is_some() || item.my_rights.is_some() {
        out.extend_from_slice(b" (");
        let mut first = true;
        if item.child_info_subscribed {
            out.extend_from_slice(b"\"CHILDINFO\" (\"SUBSCRIBED\")");
            first = false;
        }
        if let Some(old) = &item.old_name {
            if !first {
                out.push(b' ');
            }
            out.extend_from_slice(b"\"OLDNAME\" (");
            enc.mailbox(out, old);
            out.push(b')');
            first = false;
        }
        if let Some(rights) = &item.my_rights {
            if !first {
                out.push(b' ');
            }
            // RFC 8440 §3: the rights as a string, as in MYRIGHTS.
            out.extend_from_slice(b"\"MYRIGHTS\" ");
            enc.string(out, super::acl::with_virtual_rights(rights).as_bytes());
        }
        out.push(b')');
    }
    out.extend_from_slice(b"\r\n");
}
