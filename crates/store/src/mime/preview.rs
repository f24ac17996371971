//! PREVIEW (RFC 8970): up to 200 characters of the first text part,
//! text/plain preferred, HTML reduced to text, whitespace collapsed.

use mail_parser::{Message, MessageParser};

/// Longest preview in characters (RFC 8970 §3).
pub(crate) const MAX_CHARS: usize = 200;

/// The preview of the message `raw` (empty if it has no text), which
/// parsed as `msg` with its bodies left encoded: the first text part is
/// parsed again alone, its transfer encoding and charset undone, so that
/// no other part is decoded for it.
pub(crate) fn preview(msg: &Message<'_>, raw: &[u8]) -> String {
    let Some(part) = msg
        .text_body
        .first()
        .and_then(|&i| msg.parts.get(i as usize))
    else {
        return String::new();
    };
    let start = (part.offset_header as usize).min(raw.len());
    let end = (part.offset_end as usize).clamp(start, raw.len());
    let alone = MessageParser::default().parse(&raw[start..end]);
    // body_text converts HTML to text when there is no text/plain part.
    let text = alone
        .as_ref()
        .and_then(|m| m.body_text(0))
        .unwrap_or_default();
    let mut out = String::with_capacity(MAX_CHARS);
    let mut count = 0;
    let mut space = false;
    for c in text.chars() {
        if c.is_whitespace() || c.is_control() {
            space = !out.is_empty();
            continue;
        }
        if space {
            if count + 1 >= MAX_CHARS {
                break;
            }
            out.push(' ');
            count += 1;
            space = false;
        }
        if count >= MAX_CHARS {
            break;
        }
        out.push(c);
        count += 1;
    }
    out
}
