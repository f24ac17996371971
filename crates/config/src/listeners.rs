//! Listener checks across services: names unique and usable as systemd
//! socket names, TCP addresses that parse (IPv6 included).

use std::net::SocketAddr;

use crate::{Config, ConfigError, Listener, ListenerKind};

impl Config {
    /// Every listener of every protocol service, with the service's role
    /// name (`imap`; `pop3` and `lmtp` when they come).
    pub fn listeners(&self) -> Vec<(&'static str, &Listener)> {
        self.imap.listener.iter().map(|l| ("imap", l)).collect()
    }
}

impl Listener {
    /// The TCP address, for `plain` and `tls` listeners.
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        match self.kind {
            ListenerKind::Plain | ListenerKind::Tls => self.address.parse().ok(),
            ListenerKind::Unix => None,
        }
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

pub(crate) fn validate(config: &Config) -> Result<(), ConfigError> {
    let mut seen = std::collections::HashSet::new();
    for (service, l) in config.listeners() {
        let invalid = |why: String| ConfigError::Invalid(format!("[[{service}.listener]] {why}"));
        if !valid_name(&l.name) {
            return Err(invalid(format!(
                "name {:?} must be letters, digits, '.', '_' or '-'",
                l.name
            )));
        }
        if !seen.insert(l.name.as_str()) {
            return Err(invalid(format!("name {:?} is used twice", l.name)));
        }
        match l.kind {
            ListenerKind::Plain | ListenerKind::Tls if l.socket_addr().is_none() => {
                return Err(invalid(format!(
                    "{:?}: address {:?} is not ip:port (IPv6 as [::1]:143)",
                    l.name, l.address
                )));
            }
            ListenerKind::Unix if l.address.trim().is_empty() => {
                return Err(invalid(format!(
                    "{:?}: a unix listener needs a path",
                    l.name
                )));
            }
            _ => {}
        }
    }
    Ok(())
}
