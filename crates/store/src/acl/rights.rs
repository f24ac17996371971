//! [`Rights`]: a set of the IMAP ACL rights of RFC 4314 (RIGHTS=texk), one
//! bit per right, in the canonical order `lrswipkxtea`.

use std::fmt;
use std::str::FromStr;

use crate::error::StoreError;

/// The right letters in canonical order: bit `i` of a [`Rights`] is
/// `LETTERS[i]`. The order is also how rights are stored in the index, so
/// it never changes; a new right gets the next bit.
const LETTERS: [char; 11] = ['l', 'r', 's', 'w', 'i', 'p', 'k', 'x', 't', 'e', 'a'];

/// Every bit that names a right.
const ALL_BITS: u16 = (1 << LETTERS.len()) - 1;

/// A set of RFC 4314 rights on a mailbox. Small and `Copy`: checked on
/// every call a guest makes. Shown (`Display`) as its letters in the
/// canonical order `lrswipkxtea`, the form IMAP and the storage RPC use.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Rights(u16);

impl Rights {
    /// `l`: the mailbox is visible to LIST and may be subscribed to.
    pub const LOOKUP: Rights = Rights(1 << 0);
    /// `r`: SELECT, EXAMINE, STATUS, FETCH, SEARCH, COPY from.
    pub const READ: Rights = Rights(1 << 1);
    /// `s`: keep `\Seen` across sessions (set or clear it).
    pub const SEEN: Rights = Rights(1 << 2);
    /// `w`: set or clear flags other than `\Seen` and `\Deleted`.
    pub const WRITE: Rights = Rights(1 << 3);
    /// `i`: APPEND and COPY into the mailbox.
    pub const INSERT: Rights = Rights(1 << 4);
    /// `p`: send mail to the mailbox's submission address (LMTP to a
    /// shared folder).
    pub const POST: Rights = Rights(1 << 5);
    /// `k`: CREATE mailboxes below this one, RENAME into it.
    pub const CREATE: Rights = Rights(1 << 6);
    /// `x`: DELETE the mailbox, RENAME it away.
    pub const DELETE_MAILBOX: Rights = Rights(1 << 7);
    /// `t`: set or clear `\Deleted` on messages.
    pub const DELETE_MESSAGES: Rights = Rights(1 << 8);
    /// `e`: EXPUNGE, and expunge as part of CLOSE.
    pub const EXPUNGE: Rights = Rights(1 << 9);
    /// `a`: administer: SETACL, DELETEACL, GETACL, LISTRIGHTS.
    pub const ADMIN: Rights = Rights(1 << 10);

    /// No right.
    pub const NONE: Rights = Rights(0);
    /// Every right (what the owner holds).
    pub const ALL: Rights = Rights(ALL_BITS);

    /// No right (the same as [`Rights::NONE`]).
    pub const fn empty() -> Rights {
        Rights::NONE
    }

    /// Whether no right is in the set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether every right of `other` is in `self` (an empty `other` is
    /// always contained).
    pub const fn contains(self, other: Rights) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether `self` and `other` have some right in common.
    pub const fn intersects(self, other: Rights) -> bool {
        self.0 & other.0 != 0
    }

    /// The rights in `self` or in `other`.
    pub const fn union(self, other: Rights) -> Rights {
        Rights(self.0 | other.0)
    }

    /// The rights in both `self` and `other`.
    pub const fn intersection(self, other: Rights) -> Rights {
        Rights(self.0 & other.0)
    }

    /// The rights in `self` that are not in `other`.
    pub const fn minus(self, other: Rights) -> Rights {
        Rights(self.0 & !other.0)
    }

    /// Each right of the set on its own, in canonical order (LISTRIGHTS
    /// lists the rights that may be granted one by one).
    pub fn iter(self) -> impl Iterator<Item = Rights> {
        (0..LETTERS.len())
            .map(|i| Rights(1 << i))
            .filter(move |r| self.contains(*r))
    }

    /// Parses right letters, in any order, repeated or not: `lrswipkxtea`
    /// and the obsolete `c` (= `k`) and `d` (= `xte`) of RFC 4314 §2.1.1
    /// (its second reading, where `d` controls DELETE).
    /// The empty string is no right. Any other character is
    /// [`StoreError::InvalidArgument`] (rights are lower case; digits, the
    /// rights a server may define itself, are not defined here).
    pub fn parse(text: &str) -> Result<Rights, StoreError> {
        let mut rights = Rights::NONE;
        for c in text.chars() {
            let right = match c {
                'c' => Rights::CREATE,
                'd' => Rights::DELETE_MAILBOX
                    .union(Rights::DELETE_MESSAGES)
                    .union(Rights::EXPUNGE),
                _ => match LETTERS.iter().position(|l| *l == c) {
                    Some(i) => Rights(1 << i),
                    None => {
                        return Err(StoreError::InvalidArgument(format!(
                            "{c:?} in {text:?} is not an ACL right (rights are letters of \"lrswipkxtea\")"
                        )));
                    }
                },
            };
            rights = rights.union(right);
        }
        Ok(rights)
    }

    /// The bits as stored in the index.
    pub(crate) const fn bits(self) -> u16 {
        self.0
    }

    /// The rights of stored bits; bits that name no right are dropped.
    pub(crate) const fn from_bits(bits: u16) -> Rights {
        Rights(bits & ALL_BITS)
    }
}

impl FromStr for Rights {
    type Err = StoreError;

    /// [`Rights::parse`].
    fn from_str(text: &str) -> Result<Rights, StoreError> {
        Rights::parse(text)
    }
}

impl fmt::Display for Rights {
    /// The letters of the rights in canonical order, e.g. `lrs`; nothing
    /// for no right.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, letter) in LETTERS.iter().enumerate() {
            if self.0 & (1 << i) != 0 {
                fmt::Write::write_char(f, *letter)?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Rights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Rights(\"{self}\")")
    }
}

impl std::ops::BitOr for Rights {
    type Output = Rights;

    /// [`Rights::union`].
    fn bitor(self, other: Rights) -> Rights {
        self.union(other)
    }
}

impl std::ops::BitOrAssign for Rights {
    fn bitor_assign(&mut self, other: Rights) {
        *self = self.union(other);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Rights {
        Rights::parse(text).unwrap()
    }

    #[test]
    fn each_letter_is_its_constant() {
        let constants = [
            ('l', Rights::LOOKUP),
            ('r', Rights::READ),
            ('s', Rights::SEEN),
            ('w', Rights::WRITE),
            ('i', Rights::INSERT),
            ('p', Rights::POST),
            ('k', Rights::CREATE),
            ('x', Rights::DELETE_MAILBOX),
            ('t', Rights::DELETE_MESSAGES),
            ('e', Rights::EXPUNGE),
            ('a', Rights::ADMIN),
        ];
        let mut all = Rights::NONE;
        for (letter, right) in constants {
            assert_eq!(parse(&letter.to_string()), right, "{letter}");
            assert_eq!(right.to_string(), letter.to_string());
            assert!(!all.intersects(right), "{letter} shares a bit");
            all |= right;
        }
        assert_eq!(all, Rights::ALL);
    }

    #[test]
    fn display_is_canonical_order_whatever_the_input_order() {
        assert_eq!(parse("aetxkpiwsrl").to_string(), "lrswipkxtea");
        assert_eq!(Rights::ALL.to_string(), "lrswipkxtea");
        assert_eq!(parse("srl").to_string(), "lrs");
        assert_eq!(parse("llrr").to_string(), "lr");
        assert_eq!(parse("").to_string(), "");
        assert_eq!(format!("{:?}", parse("rl")), "Rights(\"lr\")");
        assert_eq!("ie".parse::<Rights>().unwrap().to_string(), "ie");
    }

    #[test]
    fn obsolete_c_and_d_expand_per_rfc_4314() {
        assert_eq!(parse("c").to_string(), "k");
        assert_eq!(parse("d").to_string(), "xte");
        assert_eq!(parse("lrcd").to_string(), "lrkxte");
        assert_eq!(parse("lrc").to_string(), "lrk");
    }

    #[test]
    fn other_characters_are_invalid_arguments() {
        for bad in ["L", "lrz", "1", "lr ", "+l", "-l", "é", "n"] {
            assert!(
                matches!(Rights::parse(bad), Err(StoreError::InvalidArgument(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn set_operations() {
        let lr = parse("lr");
        let rs = parse("rs");
        assert_eq!(lr.union(rs), parse("lrs"));
        assert_eq!(lr | rs, parse("lrs"));
        assert_eq!(lr.minus(rs), Rights::LOOKUP);
        assert_eq!(lr.intersection(rs), Rights::READ);
        assert!(lr.contains(Rights::READ));
        assert!(!lr.contains(rs));
        assert!(lr.contains(Rights::NONE));
        assert!(Rights::ALL.contains(lr));
        assert!(Rights::empty().is_empty());
        assert!(!lr.is_empty());
        assert!(lr.minus(lr).is_empty());
        assert_eq!(Rights::default(), Rights::NONE);
        assert_eq!(
            parse("lea")
                .iter()
                .map(|r| r.to_string())
                .collect::<Vec<_>>(),
            ["l", "e", "a"]
        );
    }

    #[test]
    fn stored_bits_round_trip_and_unknown_bits_are_dropped() {
        for text in ["", "l", "lrswipkxtea", "xte"] {
            let r = parse(text);
            assert_eq!(Rights::from_bits(r.bits()), r);
        }
        assert_eq!(Rights::from_bits(u16::MAX), Rights::ALL);
    }
}
