//! AUTHENTICATE mechanism [initial-response] (RFC 9051 §6.2.2, SASL-IR
//! RFC 4959). The exchange's further lines are read with
//! [`crate::Parser::parse_sasl_response`].

use super::CommandBody;
use crate::base64;
use crate::grammar::{Cursor, Fail, PResult, bad};

/// AUTHENTICATE: a SASL exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticate {
    /// The mechanism name, upper-cased.
    pub mechanism: String,
    /// The SASL-IR initial response, base64-decoded; `Some(vec![])` for "=".
    pub initial_response: Option<Vec<u8>>,
}

/// `SP auth-type [SP (base64 / "=")]`.
pub(crate) fn parse(c: &mut Cursor<'_>, _uid: bool) -> PResult<CommandBody> {
    c.sp("mechanism")?;
    let mechanism = String::from_utf8_lossy(c.atom("mechanism")?).to_ascii_uppercase();
    let initial_response = if c.at_eol() {
        None
    } else {
        c.sp("initial response")?;
        let raw = c.take_while(base64::is_base64_char);
        if raw == b"=" {
            Some(Vec::new())
        } else if raw.is_empty() {
            return bad("Expected base64 initial response or '='");
        } else {
            Some(
                base64::decode(raw)
                    .ok_or_else(|| Fail::Bad("Invalid base64 in initial response".into()))?,
            )
        }
    };
    c.eol()?;
    Ok(CommandBody::Authenticate(Authenticate {
        mechanism,
        initial_response,
    }))
}
