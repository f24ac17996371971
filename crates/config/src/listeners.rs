//! Listener checks across services: names unique and usable as systemd
//! socket names, TCP addresses that parse (IPv6 included).

use std::net::SocketAddr;

use crate::{Config, ConfigError, Listener, ListenerKind};

impl Config {
    /// Every listener of every protocol service, with the service's role
    /// name (`imap`, `lmtp`, `pop3`, `auth-socket`).
    pub fn listeners(&self) -> Vec<(&'static str, &Listener)> {
        let imap = self.imap.listener.iter().map(|l| ("imap", l));
        let lmtp = self.lmtp.listener.iter().map(|l| ("lmtp", l));
        let pop3 = self.pop3.listener.iter().map(|l| ("pop3", l));
        let auth_socket = self.auth_socket.listener.iter().map(|l| ("auth-socket", l));
        imap.chain(lmtp).chain(pop3).chain(auth_socket).collect()
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
        let section = service.replace('-', "_");
        let invalid = |why: String| ConfigError::Invalid(format!("[[{section}.listener]] {why}"));
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
            ListenerKind::Plain | ListenerKind::Tls
                if l.mode.is_some() || l.owner.is_some() || l.group.is_some() =>
            {
                return Err(invalid(format!(
                    "{:?}: mode, owner and group are for unix listeners",
                    l.name
                )));
            }
            ListenerKind::Plain | ListenerKind::Tls if service == "auth-socket" => {
                return Err(invalid(format!(
                    "{:?}: the auth socket is a unix listener only (the MTA is on this host)",
                    l.name
                )));
            }
            ListenerKind::Unix if l.proxy_protocol => {
                return Err(invalid(format!(
                    "{:?}: proxy_protocol is for TCP listeners",
                    l.name
                )));
            }
            _ => {}
        }
    }
    for (setting, networks) in [
        ("imap.exempt_networks", &config.imap.exempt_networks),
        ("imap.trusted_networks", &config.imap.trusted_networks),
        ("pop3.exempt_networks", &config.pop3.exempt_networks),
        ("pop3.trusted_networks", &config.pop3.trusted_networks),
    ] {
        if let Some(bad) = networks.iter().find(|n| !valid_network(n)) {
            return Err(ConfigError::Invalid(format!(
                "{setting}: {bad:?} is not an address or address/prefix \
                 (192.0.2.0/24, 2001:db8::/32)"
            )));
        }
    }
    Ok(())
}

/// Whether `text` is `address` or `address/prefix` with a prefix the
/// address family allows.
fn valid_network(text: &str) -> bool {
    let (address, prefix) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text, None),
    };
    let Ok(address) = address.parse::<std::net::IpAddr>() else {
        return false;
    };
    let bits = if address.is_ipv4() { 32 } else { 128 };
    prefix.is_none_or(|p| p.parse::<u8>().is_ok_and(|p| p <= bits))
}
