//! The header fields a delivery adds (Return-Path, Delivered-To, Received:
//! RFC 5321 §4.4) and the loop check on the Delivered-To fields a message
//! already has.

use crate::address::Recipient;

/// What the Received field says about the transaction.
#[derive(Debug, Clone)]
pub struct Transaction<'a> {
    /// The reverse path (empty: the null sender).
    pub from: &'a str,
    /// The name the client gave in LHLO.
    pub lhlo: &'a str,
    /// The client's address, as the log shows it.
    pub peer: &'a str,
    /// This server's name.
    pub hostname: &'a str,
    /// An id for the transaction, shown in logs too.
    pub id: &'a str,
    /// `Tue, 01 Dec 2026 03:00:00 +0000`.
    pub date: &'a str,
}

/// The fields to put before the message for `rcpt`, CRLF-terminated.
pub fn prefix(t: &Transaction<'_>, rcpt: &Recipient) -> Vec<u8> {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect()
    };
    format!(
        "Return-Path: <{}>\r\nDelivered-To: {}\r\nReceived: from {} ({})\r\n\tby {} (mailkeep) with LMTP id {}\r\n\tfor <{}>; {}\r\n",
        clean(t.from),
        clean(&rcpt.address),
        clean(t.lhlo),
        clean(t.peer),
        clean(t.hostname),
        clean(t.id),
        clean(&rcpt.given),
        t.date,
    )
    .into_bytes()
}

/// The values of the Delivered-To fields in the header of `message` (the
/// lines before the first empty line), unfolded.
pub fn delivered_to(message: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    let mut current: Option<String> = None;
    for line in message.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            if let Some(value) = current.as_mut() {
                value.push_str(&String::from_utf8_lossy(line));
            }
            continue;
        }
        found.extend(current.take());
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        if line[..colon]
            .trim_ascii()
            .eq_ignore_ascii_case(b"Delivered-To")
        {
            current = Some(String::from_utf8_lossy(&line[colon + 1..]).into_owned());
        }
    }
    found.extend(current);
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_delivered_to_in_the_header_only() {
        let m = b"Subject: x\r\ndelivered-to: a@b\r\nDelivered-To: \r\n <c@d>\r\n\r\nDelivered-To: e@f\r\n";
        assert_eq!(
            delivered_to(m),
            vec![" a@b".to_owned(), "  <c@d>".to_owned()]
        );
        assert!(delivered_to(b"\r\nDelivered-To: x\r\n").is_empty());
    }

    #[test]
    fn the_prefix_names_sender_recipient_and_transaction() {
        let t = Transaction {
            from: "s@x",
            lhlo: "mx",
            peer: "127.0.0.1",
            hostname: "mail",
            id: "abc",
            date: "Tue, 01 Dec 2026 03:00:00 +0000",
        };
        let r = Recipient::parse("alice+l@example.org", "+");
        let p = String::from_utf8(prefix(&t, &r)).unwrap();
        assert!(p.starts_with("Return-Path: <s@x>\r\nDelivered-To: alice@example.org\r\n"));
        assert!(p.contains("for <alice+l@example.org>; Tue"));
        assert!(p.ends_with("+0000\r\n"));
    }
}
