//! The hosts whose tickets a verifier accepts: host name to public key.
//! The file form is one `NAME PUBLIC-KEY` per line; `#` starts a comment.

use std::collections::BTreeMap;

use crate::key::{KeyError, PublicKey};

/// The trusted-host list of a cluster (or of a single host: itself).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedHosts {
    hosts: BTreeMap<String, PublicKey>,
}

impl TrustedHosts {
    /// An empty list, which trusts no ticket.
    pub fn new() -> TrustedHosts {
        TrustedHosts::default()
    }

    /// Trusts `name`'s tickets when they verify with `key`. Listing a host
    /// again with the same key changes nothing; with another key it fails.
    pub fn insert(&mut self, name: &str, key: PublicKey) -> Result<(), KeyError> {
        match self.hosts.get(name) {
            Some(existing) if *existing != key => Err(KeyError::Conflict(name.to_owned())),
            _ => {
                self.hosts.insert(name.to_owned(), key);
                Ok(())
            }
        }
    }

    /// Parses a trusted-host file.
    pub fn parse(text: &str) -> Result<TrustedHosts, KeyError> {
        let mut trusted = TrustedHosts::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let bad = |reason: &str| KeyError::BadLine {
                line: i + 1,
                reason: reason.to_owned(),
            };
            let mut fields = line.split_whitespace();
            let (Some(name), Some(key), None) = (fields.next(), fields.next(), fields.next())
            else {
                return Err(bad("expected NAME PUBLIC-KEY"));
            };
            let key = PublicKey::parse(key).map_err(|e| bad(&e.to_string()))?;
            trusted.insert(name, key)?;
        }
        Ok(trusted)
    }

    /// The file form of this list.
    pub fn to_file_contents(&self) -> String {
        self.hosts
            .iter()
            .map(|(name, key)| format!("{name} {key}\n"))
            .collect()
    }

    /// The key of host `name`, if trusted.
    pub fn get(&self, name: &str) -> Option<&PublicKey> {
        self.hosts.get(name)
    }

    /// Every trusted host, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &PublicKey)> {
        self.hosts.iter().map(|(n, k)| (n.as_str(), k))
    }

    /// How many hosts are trusted.
    pub fn len(&self) -> usize {
        self.hosts.len()
    }

    /// Whether no host is trusted.
    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }
}
