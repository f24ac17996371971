//! `[plugins.quota]` as the protocol side reads it: who may SETQUOTA, and
//! whether a full mailbox fails a delivery temporarily. (The storage side
//! reads the default limits of the same table.)

/// The protocol side's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaProtocolSettings {
    /// Users who may SETQUOTA (`admins = ["postmaster"]`).
    pub admins: Vec<String>,
    /// LMTP answers `452 4.2.2` (try again) instead of `552 5.2.2` for a
    /// full mailbox (`full_tempfail = true`, Dovecot's
    /// `quota_full_tempfail`); `mailkeep deliver` then exits 75, not 77.
    pub full_tempfail: bool,
    /// The name of the `[[lmtp.listener]]` that speaks Postfix's policy
    /// protocol (quota-status) instead of LMTP (`"quota-status"`).
    pub status_listener: String,
}

impl Default for QuotaProtocolSettings {
    fn default() -> Self {
        QuotaProtocolSettings {
            admins: Vec::new(),
            full_tempfail: false,
            status_listener: "quota-status".into(),
        }
    }
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
        reason: &'static str,
    },
}

impl QuotaProtocolSettings {
    /// Reads `admins` (a list of user names) and `full_tempfail` (a
    /// boolean) from the table; other keys are the storage side's.
    pub fn from_table(table: &toml::Table) -> Result<QuotaProtocolSettings, SettingsError> {
        let admins = match table.get("admins") {
            None => Vec::new(),
            Some(toml::Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or(SettingsError::Bad {
                    key: "admins",
                    reason: "a list of user names",
                })?,
            Some(_) => {
                return Err(SettingsError::Bad {
                    key: "admins",
                    reason: "a list of user names",
                });
            }
        };
        let full_tempfail = match table.get("full_tempfail") {
            None => false,
            Some(toml::Value::Boolean(b)) => *b,
            Some(_) => {
                return Err(SettingsError::Bad {
                    key: "full_tempfail",
                    reason: "true or false",
                });
            }
        };
        let status_listener = match table.get("status_listener") {
            None => QuotaProtocolSettings::default().status_listener,
            Some(toml::Value::String(name)) => name.clone(),
            Some(_) => {
                return Err(SettingsError::Bad {
                    key: "status_listener",
                    reason: "a listener name",
                });
            }
        };
        Ok(QuotaProtocolSettings {
            admins,
            full_tempfail,
            status_listener,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admins_and_tempfail_are_read_and_bad_values_refused() {
        let table: toml::Table =
            toml::from_str("admins = [\"postmaster\"]\nfull_tempfail = true\nstorage = \"1G\"")
                .unwrap();
        let s = QuotaProtocolSettings::from_table(&table).unwrap();
        assert_eq!(s.admins, vec!["postmaster".to_owned()]);
        assert!(s.full_tempfail);
        let bad: toml::Table = toml::from_str("admins = \"postmaster\"").unwrap();
        assert!(QuotaProtocolSettings::from_table(&bad).is_err());
        let bad: toml::Table = toml::from_str("full_tempfail = 1").unwrap();
        assert!(QuotaProtocolSettings::from_table(&bad).is_err());
    }
}
