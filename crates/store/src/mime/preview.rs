//! PREVIEW (RFC 8970): up to 200 characters of the first text part,
//! text/plain preferred, HTML reduced to text, whitespace collapsed.

use mail_parser::Message;

/// Longest preview in characters (RFC 8970 §3).
pub(crate) const MAX_CHARS: usize = 200;

/// The preview of a parsed message (empty if it has no text).
pub(crate) fn preview(msg: &Message<'_>) -> String {
    // body_text converts HTML to text when there is no text/plain part.
    let text = msg.body_text(0).unwrap_or_default();
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
