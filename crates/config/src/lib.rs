//! mailkeep's configuration: typed settings with embedded defaults, read
//! from an optional TOML file. Every setting has a default, so `mailkeep
//! serve` runs with no file at all; `config/mailkeep.example.toml` documents
//! each one. Unknown keys are errors, so a typo is reported instead of
//! silently ignored.

mod age;
mod listeners;
mod paths;
mod settings;

pub use age::parse_age;
pub use settings::*;

use std::path::{Path, PathBuf};

/// Why the configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has unknown or mistyped settings.
    #[error("config file {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong and where.
        source: Box<toml::de::Error>,
    },
    /// A setting has a value that cannot work.
    #[error("config: {0}")]
    Invalid(String),
    /// The working directory is needed to resolve a relative data_dir.
    #[error("cannot resolve relative data_dir: {0}")]
    Cwd(std::io::Error),
}

impl Config {
    /// Loads the configuration: embedded defaults, overridden by the file
    /// at `path` if given. Relative paths are resolved (see [`Config::resolve`]).
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let mut config = match path {
            None => Config::default(),
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: p.to_owned(),
                    source,
                })?;
                toml::from_str::<Config>(&text).map_err(|source| ConfigError::Parse {
                    path: p.to_owned(),
                    source: Box::new(source),
                })?
            }
        };
        config.resolve()?;
        Ok(config)
    }

    /// Makes `data_dir` absolute (relative to the working directory) and
    /// fills every unset path from it, then checks values for sense.
    pub fn resolve(&mut self) -> Result<(), ConfigError> {
        paths::resolve(self)?;
        self.validate()
    }

    fn validate(&self) -> Result<(), ConfigError> {
        const TEN_YEARS_SECS: u64 = 10 * 366 * 24 * 3600;
        if self.imap.listener.is_empty() {
            return Err(ConfigError::Invalid(
                "imap needs at least one [[imap.listener]]".into(),
            ));
        }
        listeners::validate(self)?;
        if self.tls.cert_file.is_some() != self.tls.key_file.is_some() {
            return Err(ConfigError::Invalid(
                "tls.cert_file and tls.key_file are set together or not at all".into(),
            ));
        }
        for sni in &self.tls.sni {
            if sni.names.is_empty() || sni.names.iter().any(|n| n.trim().is_empty()) {
                return Err(ConfigError::Invalid(format!(
                    "[[tls.sni]] with cert_file {} needs non-empty names",
                    sni.cert_file.display()
                )));
            }
        }
        if self.imap.processes == 0 {
            return Err(ConfigError::Invalid(
                "imap.processes must be at least 1".into(),
            ));
        }
        if self.imap.idle_keepalive_secs == 0
            || self.imap.idle_keepalive_secs > self.imap.idle_timeout_secs
        {
            return Err(ConfigError::Invalid(
                "imap.idle_keepalive_secs must be at least 1 and at most imap.idle_timeout_secs \
                 (a keepalive that late would never be sent)"
                    .into(),
            ));
        }
        // Deadlines are reckoned from now: a time beyond any clock's range
        // would not be a deadline but a crash.
        if self.imap.idle_timeout_secs > TEN_YEARS_SECS {
            return Err(ConfigError::Invalid(
                "imap.idle_timeout_secs must be at most ten years".into(),
            ));
        }
        if self.pop3.processes == 0 {
            return Err(ConfigError::Invalid(
                "pop3.processes must be at least 1 (turn POP3 off with pop3.listener = [])".into(),
            ));
        }
        if self.privileges.mail_uid == 0 || self.privileges.mail_gid == 0 {
            return Err(ConfigError::Invalid(
                "privileges.mail_uid and mail_gid must not be 0: mail is never owned by root"
                    .into(),
            ));
        }
        if self.storage.shared_uid == 0
            || self.storage.shared_gid == 0
            || self.storage.shared_uid == self.privileges.mail_uid
        {
            return Err(ConfigError::Invalid(
                "storage.shared_uid and shared_gid must not be 0, nor shared_uid the mail uid: \
                 a shared-mode storage process owns no file"
                    .into(),
            ));
        }
        self.storage
            .autoexpunge_rules()
            .map_err(ConfigError::Invalid)?;
        if self.storage.autoexpunge_every_secs == 0 {
            return Err(ConfigError::Invalid(
                "storage.autoexpunge_every_secs must be at least 1".into(),
            ));
        }
        let folders = self.storage.special_use.enabled();
        for (i, (_, name)) in folders.iter().enumerate() {
            if folders[..i].iter().any(|(_, other)| other == name) {
                return Err(ConfigError::Invalid(format!(
                    "storage.special_use names {name:?} for two uses"
                )));
            }
            if name.contains('/') || name.starts_with('.') || name.ends_with('.') {
                return Err(ConfigError::Invalid(format!(
                    "storage.special_use: {name:?} is not a mailbox name"
                )));
            }
        }
        if self.auth.ticket_lifetime_secs < 60 {
            return Err(ConfigError::Invalid(
                "auth.ticket_lifetime_secs must be at least 60".into(),
            ));
        }
        self.validate_master_users()
    }

    /// The separator is one visible character, and no master user's name
    /// is empty or holds it (such a name could never be given).
    fn validate_master_users(&self) -> Result<(), ConfigError> {
        let separator = &self.auth.master_user_separator;
        let mut chars = separator.chars();
        let one_visible = matches!((chars.next(), chars.next()),
            (Some(c), None) if !c.is_whitespace() && !c.is_control());
        if !one_visible {
            return Err(ConfigError::Invalid(format!(
                "auth.master_user_separator must be one visible character, not {separator:?}"
            )));
        }
        for name in &self.auth.master_users {
            if name.is_empty() || name.contains(separator.as_str()) {
                return Err(ConfigError::Invalid(format!(
                    "auth.master_users: {name:?} is not an account name usable as a master \
                     (empty, or holding the separator {separator:?})"
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
