//! `* STATUS mailbox (items)` (RFC 9051 §7.3.4), also sent by LIST-STATUS
//! and NOTIFY.

use super::strings::Encoder;

/// One STATUS item with its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusValue {
    /// MESSAGES n
    Messages(u32),
    /// RECENT n (IMAP4rev1)
    Recent(u32),
    /// UIDNEXT n
    UidNext(u32),
    /// UIDVALIDITY n
    UidValidity(u32),
    /// UNSEEN n
    Unseen(u32),
    /// DELETED n
    Deleted(u32),
    /// SIZE n
    Size(u64),
    /// HIGHESTMODSEQ n
    HighestModSeq(u64),
    /// APPENDLIMIT n, or NIL for no limit (RFC 7889)
    AppendLimit(Option<u64>),
    /// MAILBOXID (id) (RFC 8474)
    MailboxId(String),
    /// DELETED-STORAGE n (RFC 9208)
    DeletedStorage(u64),
}

impl StatusValue {
    /// Writes `NAME value`.
    fn write(&self, out: &mut Vec<u8>) {
        let text = match self {
            StatusValue::Messages(n) => format!("MESSAGES {n}"),
            StatusValue::Recent(n) => format!("RECENT {n}"),
            StatusValue::UidNext(n) => format!("UIDNEXT {n}"),
            StatusValue::UidValidity(n) => format!("UIDVALIDITY {n}"),
            StatusValue::Unseen(n) => format!("UNSEEN {n}"),
            StatusValue::Deleted(n) => format!("DELETED {n}"),
            StatusValue::Size(n) => format!("SIZE {n}"),
            StatusValue::HighestModSeq(n) => format!("HIGHESTMODSEQ {n}"),
            StatusValue::AppendLimit(Some(n)) => format!("APPENDLIMIT {n}"),
            StatusValue::AppendLimit(None) => "APPENDLIMIT NIL".to_string(),
            StatusValue::MailboxId(id) => {
                let id: String = id
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
                    .collect();
                format!("MAILBOXID ({id})")
            }
            StatusValue::DeletedStorage(n) => format!("DELETED-STORAGE {n}"),
        };
        out.extend_from_slice(text.as_bytes());
    }
}

/// Appends `* STATUS name (MESSAGES 3 UIDNEXT 9)\r\n`.
pub fn status_line(out: &mut Vec<u8>, enc: Encoder, mailbox: &str, values: &[StatusValue]) {
    out.extend_from_slice(b"* STATUS ");
    enc.mailbox(out, mailbox);
    out.extend_from_slice(b" (");
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        value.write(out);
    }
    out.extend_from_slice(b")\r\n");
}
