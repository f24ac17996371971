//! The cluster key that signs tickets, and its file format (64 hex digits).

use std::fmt;

/// Why a key file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file's contents are not 64 hex digits.
    #[error("cluster key file must hold 64 hex digits (32 bytes)")]
    BadFormat,
}

/// A 32-byte HMAC key shared by every host of a cluster.
#[derive(Clone)]
pub struct TicketKey([u8; 32]);

impl TicketKey {
    /// A new random key.
    pub fn generate() -> TicketKey {
        TicketKey(rand::random())
    }

    /// Parses a key file's contents (hex, surrounding whitespace ignored).
    pub fn parse(contents: &str) -> Result<TicketKey, KeyError> {
        let text = contents.trim();
        if text.len() != 64 {
            return Err(KeyError::BadFormat);
        }
        let mut out = [0u8; 32];
        for (i, pair) in text.as_bytes().chunks(2).enumerate() {
            let hi = hex_val(pair[0]).ok_or(KeyError::BadFormat)?;
            let lo = hex_val(pair[1]).ok_or(KeyError::BadFormat)?;
            out[i] = hi << 4 | lo;
        }
        Ok(TicketKey(out))
    }

    /// The key file's contents for this key.
    pub fn to_file_contents(&self) -> String {
        let mut s: String = self.0.iter().map(|b| format!("{b:02x}")).collect();
        s.push('\n');
        s
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for TicketKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TicketKey(..)")
    }
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}
