//! Message flags: the IMAP system flags (a bit set) and keywords, their
//! validation, and their Maildir `:2,` letters.

use std::collections::BTreeSet;

use crate::error::{Result, StoreError};

/// `\Seen`.
pub const SEEN: u8 = 1;
/// `\Answered`.
pub const ANSWERED: u8 = 2;
/// `\Flagged`.
pub const FLAGGED: u8 = 4;
/// `\Deleted`.
pub const DELETED: u8 = 8;
/// `\Draft`.
pub const DRAFT: u8 = 16;

/// System flags in display order, with their canonical names and Maildir letters.
const SYSTEM: [(u8, &str, char); 5] = [
    (ANSWERED, "\\Answered", 'R'),
    (FLAGGED, "\\Flagged", 'F'),
    (DELETED, "\\Deleted", 'T'),
    (SEEN, "\\Seen", 'S'),
    (DRAFT, "\\Draft", 'D'),
];

/// The longest keyword accepted, in bytes.
pub const MAX_KEYWORD_LEN: usize = 255;

/// A message's flags: system flags and keywords.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flags {
    /// Bit set of [`SEEN`], [`ANSWERED`], [`FLAGGED`], [`DELETED`], [`DRAFT`].
    pub system: u8,
    /// Keywords (IMAP atoms), sorted; compared case-sensitively.
    pub keywords: BTreeSet<String>,
}

/// How [`crate::Store::store_flags`] combines the given flags with a
/// message's current ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreMode {
    /// The message's flags become exactly the given ones.
    Replace,
    /// The given flags are added.
    Add,
    /// The given flags are removed.
    Remove,
}

impl Flags {
    /// Parses flag names as an IMAP client sends them: system flags in any
    /// case (stored canonical, e.g. `\Seen`), keywords as atoms. `\Recent`
    /// and unknown `\`-flags are refused.
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<Flags> {
        let mut flags = Flags::default();
        for name in names {
            let name = name.as_ref();
            if let Some(bare) = name.strip_prefix('\\') {
                let bit = SYSTEM
                    .iter()
                    .find(|(_, canon, _)| canon[1..].eq_ignore_ascii_case(bare))
                    .map(|(bit, _, _)| *bit);
                match bit {
                    Some(bit) => flags.system |= bit,
                    None if bare.eq_ignore_ascii_case("Recent") => {
                        return Err(StoreError::InvalidArgument(
                            "\\Recent cannot be stored".into(),
                        ));
                    }
                    None => {
                        return Err(StoreError::InvalidArgument(format!(
                            "unknown system flag {name:?}"
                        )));
                    }
                }
            } else {
                validate_keyword(name)?;
                flags.keywords.insert(name.to_owned());
            }
        }
        Ok(flags)
    }

    /// The flag names, system flags first (canonical spelling), then keywords.
    pub fn names(&self) -> Vec<String> {
        SYSTEM
            .iter()
            .filter(|(bit, _, _)| self.system & bit != 0)
            .map(|(_, name, _)| (*name).to_owned())
            .chain(self.keywords.iter().cloned())
            .collect()
    }

    /// Whether `\Seen` is set.
    pub fn seen(&self) -> bool {
        self.system & SEEN != 0
    }

    /// Whether `\Deleted` is set.
    pub fn deleted(&self) -> bool {
        self.system & DELETED != 0
    }

    /// The Maildir info letters for the system flags, in ASCII order
    /// (`D F R S T`), as written after `:2,`.
    pub fn maildir_letters(&self) -> String {
        let mut letters: Vec<char> = SYSTEM
            .iter()
            .filter(|(bit, _, _)| self.system & bit != 0)
            .map(|(_, _, letter)| *letter)
            .collect();
        letters.sort_unstable();
        letters.into_iter().collect()
    }

    /// These flags changed by `mode` with `given`.
    pub fn apply(&self, mode: StoreMode, given: &Flags) -> Flags {
        match mode {
            StoreMode::Replace => given.clone(),
            StoreMode::Add => Flags {
                system: self.system | given.system,
                keywords: self.keywords.union(&given.keywords).cloned().collect(),
            },
            StoreMode::Remove => Flags {
                system: self.system & !given.system,
                keywords: self.keywords.difference(&given.keywords).cloned().collect(),
            },
        }
    }

    /// The keywords as stored in the index: space-separated.
    pub(crate) fn keywords_text(&self) -> String {
        self.keywords
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Flags from their index columns.
    pub(crate) fn from_columns(system: u8, keywords: &str) -> Flags {
        Flags {
            system,
            keywords: keywords
                .split(' ')
                .filter(|k| !k.is_empty())
                .map(str::to_owned)
                .collect(),
        }
    }
}

/// Refuses keywords that are not IMAP atoms (RFC 9051 `atom`: no space,
/// controls, `(){%*"\]`, non-ASCII), are empty or too long, or are `NIL`
/// in any case: an atom `NIL` reads as IMAP's nil value, so a client
/// given `FLAGS (NIL)` cannot tell the keyword from nothing.
fn validate_keyword(name: &str) -> Result<()> {
    let bad = |why: &str| StoreError::InvalidArgument(format!("keyword {name:?} {why}"));
    if name.is_empty() {
        return Err(bad("is empty"));
    }
    if name.len() > MAX_KEYWORD_LEN {
        return Err(bad("is longer than 255 bytes"));
    }
    let atom_char = |b: u8| b > 0x20 && b < 0x7f && !b"(){%*\"\\]".contains(&b);
    if !name.bytes().all(atom_char) {
        return Err(bad("is not an IMAP atom"));
    }
    // NIL is an atom, but in a FLAGS list it would read as the nil value.
    if name.eq_ignore_ascii_case("NIL") {
        return Err(bad("is NIL, which IMAP cannot send as a flag"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_render() {
        let f = Flags::parse(&["\\seen", "\\DELETED", "$Junk", "\\Draft"]).unwrap();
        assert_eq!(f.names(), ["\\Deleted", "\\Seen", "\\Draft", "$Junk"]);
        assert_eq!(f.maildir_letters(), "DST");
        assert!(Flags::parse(&["\\Recent"]).is_err());
        assert!(Flags::parse(&["\\Bogus"]).is_err());
        assert!(Flags::parse(&["a b"]).is_err());
        assert!(Flags::parse(&["a(b"]).is_err());
        assert!(Flags::parse(&[""]).is_err());
    }

    #[test]
    fn a_keyword_named_nil_is_refused_in_any_case() {
        for nil in ["NIL", "nil", "Nil"] {
            assert!(
                matches!(Flags::parse(&[nil]), Err(StoreError::InvalidArgument(_))),
                "{nil}"
            );
        }
        assert!(Flags::parse(&["NILS", "$nil"]).is_ok());
    }

    #[test]
    fn modes() {
        let cur = Flags::parse(&["\\Seen", "k1"]).unwrap();
        let given = Flags::parse(&["\\Flagged", "k1"]).unwrap();
        assert_eq!(
            cur.apply(StoreMode::Add, &given).names(),
            ["\\Flagged", "\\Seen", "k1"]
        );
        assert_eq!(cur.apply(StoreMode::Remove, &given).names(), ["\\Seen"]);
        assert_eq!(cur.apply(StoreMode::Replace, &given), given);
    }
}
