//! `dovecot-uidlist`: the UIDVALIDITY, the next UID and the UID of every
//! message file Dovecot knows in one Maildir folder.
//!
//! Version 3 (Dovecot 1.0 and later): a header
//! `3 V<uidvalidity> N<nextuid> G<guid> ...` and then lines
//! `<uid> [<ext>...] :<filename>`, where the extension fields (`S<size>`,
//! `W<vsize>`, `G<guid>`, `P<pop3 uidl>`, ...) are single tokens. The
//! `P` field is the UIDL a POP3 client knows the message by when it is
//! not Dovecot's default form (set by `pop3_save_uidl` or a migration
//! from another server); it is kept so that POP3 clients do not download
//! their mail again. Version 1: a header
//! `1 <uidvalidity> <nextuid>` and lines `<uid> <filename>`.

use std::collections::HashMap;
use std::path::Path;

use crate::error::{Result, StoreError};

/// The uidlist's file name inside a Maildir folder.
pub const UIDLIST_FILE: &str = "dovecot-uidlist";

/// What a `dovecot-uidlist` says about one Maildir folder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UidList {
    /// The folder's UIDVALIDITY.
    pub uidvalidity: u32,
    /// The UID Dovecot would give the next new message.
    pub next_uid: u32,
    /// Base name (file name up to `:`) to UID.
    uids: HashMap<String, u32>,
    /// Base name to the POP3 UIDL recorded for it (`P` field).
    uidls: HashMap<String, String>,
}

impl UidList {
    /// Reads `<mailbox_dir>/dovecot-uidlist`; `Ok(None)` when there is none.
    pub fn read(mailbox_dir: &Path) -> Result<Option<UidList>> {
        let path = mailbox_dir.join(UIDLIST_FILE);
        match super::read_optional(&path)? {
            None => Ok(None),
            Some(text) => UidList::parse(&text).map(Some).map_err(|reason| {
                StoreError::InvalidArgument(format!("{}: {reason}", path.display()))
            }),
        }
    }

    /// A list with no UIDVALIDITY (0: keep the index's own), next UID 1
    /// and no files: for a folder Dovecot never wrote a uidlist in.
    pub fn empty() -> UidList {
        UidList {
            uidvalidity: 0,
            next_uid: 1,
            uids: HashMap::new(),
            uidls: HashMap::new(),
        }
    }

    /// Parses the text of a uidlist (version 1 or 3).
    pub fn parse(text: &str) -> std::result::Result<UidList, String> {
        let mut lines = text.lines();
        let header = lines.next().ok_or("empty file")?;
        let mut fields = header.split_ascii_whitespace();
        let version = fields.next().ok_or("empty header")?;
        let mut list = UidList::default();
        let v3 = match version {
            "1" => {
                list.uidvalidity = number(fields.next(), "UIDVALIDITY")?;
                list.next_uid = number(fields.next(), "next UID")?;
                false
            }
            "3" => {
                for field in fields {
                    match field.split_at(1) {
                        ("V", v) => list.uidvalidity = number(Some(v), "UIDVALIDITY")?,
                        ("N", v) => list.next_uid = number(Some(v), "next UID")?,
                        _ => {}
                    }
                }
                true
            }
            other => return Err(format!("unsupported uidlist version {other:?}")),
        };
        for (n, line) in lines.enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let (uid, name) = if v3 { line_v3(line) } else { line_v1(line) }
                .ok_or_else(|| format!("line {}: cannot parse {line:?}", n + 2))?;
            if uid == 0 {
                return Err(format!("line {}: UID 0", n + 2));
            }
            if v3 && let Some(uidl) = pop3_uidl(line) {
                list.uidls
                    .insert(base_name(name).to_owned(), uidl.to_owned());
            }
            list.uids.insert(base_name(name).to_owned(), uid);
            if uid >= list.next_uid {
                // A damaged header must not make new UIDs collide.
                list.next_uid = uid.saturating_add(1);
            }
        }
        if list.next_uid == 0 {
            list.next_uid = 1;
        }
        Ok(list)
    }

    /// The UID Dovecot gave the file with this base name (file name up to ':').
    pub fn uid_of(&self, base_name: &str) -> Option<u32> {
        self.uids.get(base_name).copied()
    }

    /// The POP3 UIDL Dovecot recorded for the file with this base name
    /// (its `P` field), if any.
    pub fn pop3_uidl_of(&self, base_name: &str) -> Option<&str> {
        self.uidls.get(base_name).map(String::as_str)
    }

    /// Number of files listed.
    pub fn len(&self) -> usize {
        self.uids.len()
    }

    /// Whether no file is listed.
    pub fn is_empty(&self) -> bool {
        self.uids.is_empty()
    }
}

/// The base name of a Maildir file name: everything before the `:`.
pub(crate) fn base_name(file_name: &str) -> &str {
    file_name.split(':').next().unwrap_or(file_name)
}

fn number(field: Option<&str>, what: &str) -> std::result::Result<u32, String> {
    let field = field.ok_or_else(|| format!("{what} missing"))?;
    field
        .parse()
        .map_err(|_| format!("{what} {field:?} is not a number"))
}

/// `<uid> [<ext>...] :<filename>`; a line without `:` is taken as
/// `<uid> <filename>` (what older writers produced).
fn line_v3(line: &str) -> Option<(u32, &str)> {
    let (uid, rest) = line.split_once(' ')?;
    let uid = uid.parse().ok()?;
    let name = match rest.find(':') {
        Some(at) if at == 0 || rest.as_bytes().get(at - 1) == Some(&b' ') => &rest[at + 1..],
        _ => rest.split_ascii_whitespace().last()?,
    };
    (!name.is_empty()).then_some((uid, name))
}

/// The `P<uidl>` extension field of a version-3 line: among the tokens
/// between the UID and the `:` that starts the file name. A UIDL is
/// printable ASCII without spaces (RFC 1939 §7), at most 70 characters.
fn pop3_uidl(line: &str) -> Option<&str> {
    let (_, rest) = line.split_once(' ')?;
    let fields = match rest.find(" :") {
        Some(at) => &rest[..at],
        None if rest.starts_with(':') => "",
        None => return None,
    };
    fields
        .split_ascii_whitespace()
        .find_map(|field| field.strip_prefix('P'))
        .filter(|uidl| {
            !uidl.is_empty() && uidl.len() <= 70 && uidl.bytes().all(|b| (0x21..=0x7e).contains(&b))
        })
}

fn line_v1(line: &str) -> Option<(u32, &str)> {
    let (uid, name) = line.split_once(' ')?;
    let name = name.trim();
    Some((uid.parse().ok()?, name)).filter(|(_, n)| !n.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pop3_uidls_are_read_from_p_fields_of_version_3_lines() {
        let text = "3 V1234 N5 G0123\n\
                    1 P0000a1b2c3 W1200 :1700000000.M1P2.host:2,S\n\
                    2 W300 :1700000001.M2P2.host:2,\n\
                    3 Pbad\u{7f}uidl :1700000002.M3P2.host\n\
                    4 P:notafield\n";
        let list = UidList::parse(text).unwrap();
        assert_eq!(list.uid_of("1700000000.M1P2.host"), Some(1));
        assert_eq!(
            list.pop3_uidl_of("1700000000.M1P2.host"),
            Some("0000a1b2c3")
        );
        assert_eq!(list.pop3_uidl_of("1700000001.M2P2.host"), None);
        // Not printable ASCII: no usable UIDL, the default form applies.
        assert_eq!(list.pop3_uidl_of("1700000002.M3P2.host"), None);
        assert_eq!(list.pop3_uidl_of("notafield"), None);
    }

    #[test]
    fn version_1_lists_have_no_pop3_uidls() {
        let list = UidList::parse("1 77 3\n1 Pname\n").unwrap();
        assert_eq!(list.uid_of("Pname"), Some(1));
        assert_eq!(list.pop3_uidl_of("Pname"), None);
    }
}
