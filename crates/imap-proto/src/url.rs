//! IMAP URLs (RFC 5092) as CATENATE (RFC 4469 §3) names message parts:
//! `imap://user@host/INBOX;UIDVALIDITY=9/;UID=20/;SECTION=1.2` or the
//! same from the path on (`/INBOX;UIDVALIDITY=9/;UID=20`). Only the parts
//! a server resolves for its own user are accepted; URLAUTH is not.

use crate::error::ParseError;
use crate::grammar::fetch::Section;

/// A parsed IMAP URL naming a message or a part of one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImapUrl {
    /// The user the URL names, when it has an authority part.
    pub user: Option<String>,
    /// The mailbox (percent-decoded UTF-8).
    pub mailbox: String,
    /// The UIDVALIDITY the URL was made under, if given.
    pub uidvalidity: Option<u32>,
    /// The message's UID.
    pub uid: u32,
    /// The part (as BODY[section] names it); `None` for the whole message.
    pub section: Option<Section>,
    /// `;PARTIAL=offset[.length]`.
    pub partial: Option<(u64, Option<u64>)>,
}

fn bad(message: impl Into<String>) -> ParseError {
    ParseError::Syntax(message.into())
}

/// Parses an IMAP URL of a message or message part.
pub fn parse_imap_url(url: &str) -> Result<ImapUrl, ParseError> {
    let mut user = None;
    let path = match strip_prefix_ignore_case(url, "imap://") {
        Some(rest) => {
            let slash = rest
                .find('/')
                .ok_or_else(|| bad("IMAP URL without a path"))?;
            let (authority, path) = rest.split_at(slash);
            if let Some((userinfo, _host)) = authority.rsplit_once('@') {
                let name = userinfo.split(';').next().unwrap_or_default();
                if !name.is_empty() {
                    user = Some(percent_decode(name)?);
                }
            }
            path
        }
        None => url,
    };
    let path = path
        .strip_prefix('/')
        .ok_or_else(|| bad("IMAP URL path must start with '/'"))?;
    // enc-mailbox [;UIDVALIDITY=n] "/;UID=" n ["/;SECTION=" s] ["/;PARTIAL=" r]
    let mut pieces = path.split("/;");
    let head = pieces.next().unwrap_or_default();
    let (mailbox, uidvalidity) = match find_ignore_case(head, ";UIDVALIDITY=") {
        Some(at) => {
            let n = &head[at + ";UIDVALIDITY=".len()..];
            (&head[..at], Some(nz_number(n)?))
        }
        None => (head, None),
    };
    if mailbox.is_empty() {
        return Err(bad("IMAP URL without a mailbox"));
    }
    let mut parsed = ImapUrl {
        user,
        mailbox: percent_decode(mailbox)?,
        uidvalidity,
        uid: 0,
        section: None,
        partial: None,
    };
    for piece in pieces {
        let (key, value) = piece
            .split_once('=')
            .ok_or_else(|| bad(format!("IMAP URL part without a value: {piece}")))?;
        match key.to_ascii_uppercase().as_str() {
            "UID" if parsed.uid == 0 => parsed.uid = nz_number(value)?,
            "SECTION" if parsed.uid != 0 && parsed.section.is_none() => {
                parsed.section = Some(crate::grammar::fetch::parse_section(&percent_decode(
                    value,
                )?)?);
            }
            "PARTIAL" if parsed.uid != 0 && parsed.partial.is_none() => {
                let (offset, length) = match value.split_once('.') {
                    Some((o, l)) => (o, Some(u64::from(nz_number(l)?))),
                    None => (value, None),
                };
                let offset = offset
                    .parse::<u64>()
                    .map_err(|_| bad("Invalid PARTIAL offset in IMAP URL"))?;
                parsed.partial = Some((offset, length));
            }
            other => return Err(bad(format!("IMAP URL part ;{other} is not supported here"))),
        }
    }
    if parsed.uid == 0 {
        return Err(bad("IMAP URL names no message (;UID=)"));
    }
    Ok(parsed)
}

fn nz_number(text: &str) -> Result<u32, ParseError> {
    match text.parse::<u32>() {
        Ok(n) if n > 0 && text.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
        _ => Err(bad(format!(
            "Expected a non-zero number in IMAP URL, got {text:?}"
        ))),
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

fn find_ignore_case(text: &str, needle: &str) -> Option<usize> {
    text.to_ascii_uppercase().find(&needle.to_ascii_uppercase())
}

/// Undoes `%XX` escapes; the result must be UTF-8 (RFC 5092 §3.1).
fn percent_decode(text: &str) -> Result<String, ParseError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| bad("Invalid %-escape in IMAP URL"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| bad("IMAP URL is not UTF-8 after %-decoding"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grammar::fetch::SectionText;

    #[test]
    fn the_rfc_examples_parse() {
        let u = parse_imap_url("/Drafts;UIDVALIDITY=385759045/;UID=20/;SECTION=1.2").unwrap();
        assert_eq!(u.mailbox, "Drafts");
        assert_eq!((u.uidvalidity, u.uid), (Some(385759045), 20));
        assert_eq!(u.section.as_ref().map(|s| s.part.clone()), Some(vec![1, 2]));
        let u = parse_imap_url("imap://joe@example.com/INBOX/;UID=5/;SECTION=HEADER").unwrap();
        assert_eq!(u.user.as_deref(), Some("joe"));
        assert_eq!(u.section.and_then(|s| s.text), Some(SectionText::Header));
        let u = parse_imap_url("/Sent%20Items/;uid=7/;partial=10.20").unwrap();
        assert_eq!(u.mailbox, "Sent Items");
        assert_eq!(u.partial, Some((10, Some(20))));
        let u = parse_imap_url("/INBOX/;UID=3/;SECTION=1.HEADER.FIELDS%20(TO%20FROM)").unwrap();
        assert_eq!(
            u.section.and_then(|s| s.text),
            Some(SectionText::HeaderFields(vec!["TO".into(), "FROM".into()]))
        );
    }

    #[test]
    fn bad_urls_are_refused() {
        for url in [
            "INBOX/;UID=1",
            "/INBOX",
            "/INBOX/;UID=0",
            "/INBOX/;UID=1/;URLAUTH=x",
            "/INBOX/;UID=1/;SECTION=BOGUS",
            "/%ZZ/;UID=1",
            "imap://host",
        ] {
            assert!(parse_imap_url(url).is_err(), "{url}");
        }
    }
}
