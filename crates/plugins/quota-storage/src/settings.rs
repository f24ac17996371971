//! `[plugins.quota]` as the storage side reads it: the default limits.
//! (The protocol side reads its own keys of the same table.)

use crate::rules::{Limits, size};

/// The storage side's settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuotaSettings {
    /// Limits of users whose entry names none.
    pub defaults: Limits,
    /// Percentages of a limit (1-100) at which a warning goes into the
    /// owner's INBOX (`warnings = [80, 95]`); empty: none.
    pub warnings: Vec<u8>,
}

/// A setting that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// `[plugins.quota] KEY` has a bad value.
    #[error("[plugins.quota] {key}: {reason}")]
    Bad {
        /// The key.
        key: &'static str,
        /// What is wrong.
        reason: String,
    },
}

impl QuotaSettings {
    /// Reads `storage` (a size: `"1G"`, `"500M"`, bytes as a number; 0 or
    /// absent: unlimited), `messages` (a count) and `warnings` (percentages)
    /// from the table.
    pub fn from_table(table: &toml::Table) -> Result<QuotaSettings, SettingsError> {
        let bad = |key, reason: &str| SettingsError::Bad {
            key,
            reason: reason.to_owned(),
        };
        let storage = match table.get("storage") {
            None => None,
            Some(toml::Value::Integer(n)) => {
                Some(u64::try_from(*n).map_err(|_| bad("storage", "must not be negative"))?)
            }
            Some(toml::Value::String(s)) => Some(
                size(s, 1).ok_or_else(|| bad("storage", "a size such as \"1G\" or \"500M\""))?,
            ),
            Some(_) => return Err(bad("storage", "a size such as \"1G\"")),
        };
        let messages = match table.get("messages") {
            None => None,
            Some(toml::Value::Integer(n)) => {
                Some(u64::try_from(*n).map_err(|_| bad("messages", "must not be negative"))?)
            }
            Some(_) => return Err(bad("messages", "a number of messages")),
        };
        let warnings = match table.get("warnings") {
            None => Vec::new(),
            Some(toml::Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_integer()
                        .and_then(|n| u8::try_from(n).ok())
                        .filter(|n| (1..=100).contains(n))
                })
                .collect::<Option<Vec<u8>>>()
                .ok_or_else(|| bad("warnings", "a list of percentages from 1 to 100"))?,
            Some(_) => return Err(bad("warnings", "a list of percentages from 1 to 100")),
        };
        Ok(QuotaSettings {
            defaults: Limits { storage, messages },
            warnings,
        })
    }
}
