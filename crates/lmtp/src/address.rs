//! Recipient addresses: `local@domain` or a bare local part, with an
//! optional `+detail` after the configured separator (Dovecot's
//! `recipient_delimiter` and `lmtp_save_to_detail_mailbox`).

/// A recipient as the session keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// The address as the client gave it (for Received's `for <...>`).
    pub given: String,
    /// The address without the detail: what auth looks up, and what
    /// Delivered-To names.
    pub address: String,
    /// The detail (`lists` of `alice+lists@example.org`), if any.
    pub detail: Option<String>,
}

impl Recipient {
    /// Splits `given` at the first of the `separators` characters in its
    /// local part (none: no detail is taken).
    pub fn parse(given: &str, separators: &str) -> Recipient {
        let (local, domain) = match given.rsplit_once('@') {
            Some((local, domain)) => (local, Some(domain)),
            None => (given, None),
        };
        let split = local
            .char_indices()
            .find(|(_, c)| separators.contains(*c))
            .map(|(i, c)| (&local[..i], &local[i + c.len_utf8()..]));
        let (user, detail) = match split {
            Some((user, detail)) if !user.is_empty() => {
                (user, (!detail.is_empty()).then(|| detail.to_owned()))
            }
            _ => (local, None),
        };
        let address = match domain {
            Some(domain) => format!("{user}@{domain}"),
            None => user.to_owned(),
        };
        Recipient {
            given: given.to_owned(),
            address,
            detail,
        }
    }

    /// Whether a Delivered-To value names this recipient (the address
    /// with or without the detail; the domain in any case, the local part
    /// exactly).
    pub fn is_named_by(&self, delivered_to: &str) -> bool {
        let value = delivered_to.trim();
        let value = value
            .strip_prefix('<')
            .and_then(|v| v.strip_suffix('>'))
            .unwrap_or(value);
        same_address(value, &self.address) || same_address(value, &self.given)
    }
}

fn same_address(a: &str, b: &str) -> bool {
    match (a.rsplit_once('@'), b.rsplit_once('@')) {
        (Some((la, da)), Some((lb, db))) => la == lb && da.eq_ignore_ascii_case(db),
        (None, None) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_the_detail_at_the_first_separator() {
        let r = Recipient::parse("alice+lists+x@Example.org", "+");
        assert_eq!(r.address, "alice@Example.org");
        assert_eq!(r.detail.as_deref(), Some("lists+x"));
        let r = Recipient::parse("bob-work", "+-");
        assert_eq!(
            (r.address.as_str(), r.detail.as_deref()),
            ("bob", Some("work"))
        );
        let r = Recipient::parse("+x@h", "+");
        assert_eq!((r.address.as_str(), r.detail), ("+x@h", None));
        let r = Recipient::parse("carol+@h", "+");
        assert_eq!((r.address.as_str(), r.detail), ("carol@h", None));
        let r = Recipient::parse("dave+x@h", "");
        assert_eq!((r.address.as_str(), r.detail), ("dave+x@h", None));
    }

    #[test]
    fn delivered_to_matches_with_the_domain_in_any_case() {
        let r = Recipient::parse("alice+lists@example.org", "+");
        assert!(r.is_named_by(" alice@EXAMPLE.org"));
        assert!(r.is_named_by("<alice+lists@example.org>"));
        assert!(!r.is_named_by("Alice@example.org"));
        assert!(!r.is_named_by("bob@example.org"));
    }
}
