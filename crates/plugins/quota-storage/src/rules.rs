//! Quota limits in Dovecot's syntax, so a Dovecot users file keeps its
//! quotas: `userdb_quota_rule=*:storage=1G`, `userdb_quota_rule2=*:messages=10000`
//! (also `quota_rule`, `*:bytes=N`, `*:ignore`, `*:storage=0` for none).
//! `storage` counts kilobytes unless a suffix says otherwise (`b`, `k`,
//! `M`, `G`, `T`, powers of 1024), as Dovecot's does; `bytes` counts bytes.
//! Rules for one folder (`Trash:storage=+100M`) are not supported and are
//! reported, never guessed at.

/// Limits of one quota root; `None`: not set at this level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Most bytes (0: unlimited).
    pub storage: Option<u64>,
    /// Most messages (0: unlimited).
    pub messages: Option<u64>,
}

impl Limits {
    /// `self`, with what it leaves unset taken from `fallback`.
    pub fn or(self, fallback: Limits) -> Limits {
        Limits {
            storage: self.storage.or(fallback.storage),
            messages: self.messages.or(fallback.messages),
        }
    }
}

/// A rule that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// Not `MAILBOX:KEY=VALUE`.
    #[error("quota rule {0:?} is not MAILBOX:KEY=VALUE")]
    Shape(String),
    /// A rule for one folder, which mailkeep does not support.
    #[error("quota rule {0:?} is for one folder; only '*' rules are supported")]
    Folder(String),
    /// A key other than storage, bytes, messages.
    #[error("quota rule {0:?}: unknown resource")]
    Resource(String),
    /// A value that is not a size.
    #[error("quota rule {0:?}: bad value")]
    Value(String),
}

/// Reads one rule's value into `limits`.
pub fn apply_rule(rule: &str, limits: &mut Limits) -> Result<(), RuleError> {
    let (mailbox, rest) = rule
        .split_once(':')
        .ok_or_else(|| RuleError::Shape(rule.to_owned()))?;
    if mailbox != "*" {
        return Err(RuleError::Folder(rule.to_owned()));
    }
    for part in rest.split(':') {
        if part == "ignore" || part == "noenforcing" {
            continue;
        }
        let (key, value) = part
            .split_once('=')
            .ok_or_else(|| RuleError::Shape(rule.to_owned()))?;
        let bad = || RuleError::Value(rule.to_owned());
        match key {
            "storage" => limits.storage = Some(size(value, 1024).ok_or_else(bad)?),
            "bytes" => limits.storage = Some(size(value, 1).ok_or_else(bad)?),
            "messages" => limits.messages = Some(size(value, 1).ok_or_else(bad)?),
            _ => return Err(RuleError::Resource(rule.to_owned())),
        }
    }
    Ok(())
}

/// The limits named by a users-file entry's extra fields: every
/// `userdb_quota_rule`, `userdb_quota_rule2`, ... (or without the
/// `userdb_` prefix), in order. Bad rules are returned beside the limits.
pub fn from_userdb<'a>(
    fields: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> (Limits, Vec<RuleError>) {
    let mut limits = Limits::default();
    let mut errors = Vec::new();
    for (key, value) in fields {
        let key = key.strip_prefix("userdb_").unwrap_or(key);
        let Some(index) = key.strip_prefix("quota_rule") else {
            continue;
        };
        if !index.is_empty() && !index.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if let Err(e) = apply_rule(value, &mut limits) {
            errors.push(e);
        }
    }
    (limits, errors)
}

/// A size: digits with an optional suffix (`b`, `k`, `M`, `G`, `T`, any
/// case, powers of 1024); without one, `unit` bytes each.
pub fn size(text: &str, unit: u64) -> Option<u64> {
    let text = text.trim();
    let digits = text.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let suffix = &text[digits.len()..];
    let number: u64 = digits.parse().ok()?;
    let multiplier = match suffix.to_ascii_lowercase().as_str() {
        "" => unit,
        "b" => 1,
        "k" | "kb" => 1 << 10,
        "m" | "mb" => 1 << 20,
        "g" | "gb" => 1 << 30,
        "t" | "tb" => 1 << 40,
        _ => return None,
    };
    number.checked_mul(multiplier)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dovecot_rules_from_userdb_fields() {
        let fields = [
            ("userdb_mail", "maildir:~/Maildir"),
            ("userdb_quota_rule", "*:storage=1G"),
            ("userdb_quota_rule2", "*:messages=10000"),
        ];
        let (limits, errors) = from_userdb(fields);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(limits.storage, Some(1 << 30));
        assert_eq!(limits.messages, Some(10_000));
    }

    #[test]
    fn storage_without_suffix_is_kilobytes_and_bytes_is_bytes() {
        let mut limits = Limits::default();
        apply_rule("*:storage=100", &mut limits).unwrap();
        assert_eq!(limits.storage, Some(102_400));
        apply_rule("*:bytes=100", &mut limits).unwrap();
        assert_eq!(limits.storage, Some(100));
        apply_rule("*:storage=2M:messages=5", &mut limits).unwrap();
        assert_eq!(limits.storage, Some(2 << 20));
        assert_eq!(limits.messages, Some(5));
    }

    #[test]
    fn folder_rules_and_nonsense_are_reported() {
        let mut limits = Limits::default();
        assert!(matches!(
            apply_rule("Trash:storage=+100M", &mut limits),
            Err(RuleError::Folder(_))
        ));
        assert!(matches!(
            apply_rule("*:storage=lots", &mut limits),
            Err(RuleError::Value(_))
        ));
        assert!(matches!(
            apply_rule("*:widgets=3", &mut limits),
            Err(RuleError::Resource(_))
        ));
        assert!(matches!(
            apply_rule("storage=3", &mut limits),
            Err(RuleError::Shape(_))
        ));
        assert_eq!(limits, Limits::default());
        assert_eq!(size("18446744073709551615T", 1), None);
    }

    #[test]
    fn userdb_limits_fall_back_to_the_defaults_per_resource() {
        let user = Limits {
            storage: Some(10),
            messages: None,
        };
        let defaults = Limits {
            storage: Some(99),
            messages: Some(7),
        };
        assert_eq!(
            user.or(defaults),
            Limits {
                storage: Some(10),
                messages: Some(7)
            }
        );
    }
}
