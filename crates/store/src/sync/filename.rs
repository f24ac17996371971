//! Maildir file names: the base name (up to `:`) that identifies a message
//! whatever its flags, and the `:2,LETTERS` info that carries the system
//! flags (D draft, F flagged, R answered, S seen, T deleted; ASCII order).
//! Keyword letters (`a`–`z`, Dovecot's) are kept as found but never written.

use crate::flags::{ANSWERED, DELETED, DRAFT, FLAGGED, Flags, SEEN};

/// The part of a Maildir file name before the info (`:2,...`): stable
/// across flag changes, so it identifies a message's file.
pub fn base_name(name: &str) -> &str {
    name.split_once(':').map_or(name, |(base, _)| base)
}

/// The system flags a file name carries in its `:2,` info, or `None` when
/// the name has no (or an unknown) info part.
pub fn system_flags_of(name: &str) -> Option<u8> {
    let (_, info) = name.split_once(':')?;
    let letters = info.strip_prefix("2,")?;
    let mut bits = 0;
    for c in letters.chars() {
        bits |= match c {
            'D' => DRAFT,
            'F' => FLAGGED,
            'R' => ANSWERED,
            'S' => SEEN,
            'T' => DELETED,
            _ => 0,
        };
    }
    Some(bits)
}

/// `name` with its info replaced by `:2,` and the letters of `system`;
/// lowercase keyword letters of an existing `:2,` info are kept.
pub fn with_system_flags(name: &str, system: u8) -> String {
    let keep: String = name
        .split_once(':')
        .and_then(|(_, info)| info.strip_prefix("2,"))
        .map(|l| l.chars().filter(char::is_ascii_lowercase).collect())
        .unwrap_or_default();
    let flags = Flags {
        system,
        keywords: Default::default(),
    };
    format!("{}:2,{}{}", base_name(name), flags.maildir_letters(), keep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_write() {
        let name = "1.M2P3Q4.host,S=10,W=12:2,FRS";
        assert_eq!(base_name(name), "1.M2P3Q4.host,S=10,W=12");
        assert_eq!(system_flags_of(name), Some(FLAGGED | ANSWERED | SEEN));
        assert_eq!(system_flags_of("1.x.host"), None);
        assert_eq!(system_flags_of("1.x.host:2,"), Some(0));
        assert_eq!(
            with_system_flags(name, DRAFT | DELETED),
            "1.M2P3Q4.host,S=10,W=12:2,DT"
        );
        assert_eq!(with_system_flags("1.x:2,Sab", SEEN), "1.x:2,Sab");
        assert_eq!(with_system_flags("1.x", 0), "1.x:2,");
    }
}
