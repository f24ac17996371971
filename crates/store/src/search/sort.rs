//! SORT (RFC 5256, with DISPLAYFROM/DISPLAYTO of RFC 5957). Ties are
//! broken by UID, which is also sequence order.

use std::cmp::Ordering as Cmp;
use std::sync::atomic::{AtomicBool, Ordering};

use mail_parser::{Address, MessageParser};

use super::criteria::SearchKey;
use super::subject::base_subject;
use super::text::fold;
use crate::error::{Result, StoreError};
use crate::index::MessageMeta;
use crate::{Store, Viewer};

/// A sort key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// Internal date.
    Arrival,
    /// First Cc address's mailbox (local part).
    Cc,
    /// Date: header (UTC), internal date if none.
    Date,
    /// First From address's mailbox.
    From,
    /// Size in octets.
    Size,
    /// Base subject.
    Subject,
    /// First To address's mailbox.
    To,
    /// First From address's display name, else its address (RFC 5957).
    DisplayFrom,
    /// First To address's display name, else its address (RFC 5957).
    DisplayTo,
}

/// A sort key with its REVERSE modifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortCriterion {
    /// The key.
    pub key: SortKey,
    /// Whether REVERSE was given.
    pub reverse: bool,
}

/// The header facts SORT and THREAD need from one message.
#[derive(Debug, Clone, Default)]
pub(crate) struct Envelope {
    pub uid: u32,
    pub sent: i64,
    pub subject: String,
    pub from: String,
    pub to: String,
    pub cc: String,
    pub display_from: String,
    pub display_to: String,
    pub message_id: Option<String>,
    pub references: Vec<String>,
    pub in_reply_to: Option<String>,
}

/// The mailbox (local part) of the first address, as the envelope lists
/// it: a group's first entry is its start, whose mailbox is the group's
/// name (RFC 9051 §7.5.2), so `To: undisclosed-recipients:;` sorts by
/// that name, as Dovecot's SORT does, not as an empty address.
fn mailbox_of(a: Option<&Address<'_>>) -> String {
    if let Some(Address::Group(groups)) = a
        && let Some(name) = groups.first().and_then(|g| g.name.as_deref())
    {
        return fold(name);
    }
    a.and_then(|a| a.first())
        .and_then(|f| f.address())
        .map(|e| fold(e.split('@').next().unwrap_or("")))
        .unwrap_or_default()
}

fn display_of(a: Option<&Address<'_>>) -> String {
    a.and_then(|a| a.first())
        .and_then(|f| f.name().filter(|n| !n.is_empty()).or(f.address()))
        .map(fold)
        .unwrap_or_default()
}

fn id_list(v: &mail_parser::HeaderValue<'_>) -> Vec<String> {
    match v {
        mail_parser::HeaderValue::Text(t) => vec![t.to_string()],
        mail_parser::HeaderValue::TextList(l) => l.iter().map(|s| s.to_string()).collect(),
        _ => Vec::new(),
    }
}

/// Extracts the envelope facts from a message's bytes.
pub(crate) fn envelope(meta: &MessageMeta, raw: &[u8]) -> Envelope {
    let mut env = Envelope {
        uid: meta.uid,
        sent: meta.internal_date,
        ..Envelope::default()
    };
    let Some(m) = MessageParser::default().parse_headers(raw) else {
        return env;
    };
    if let Some(d) = m.date() {
        env.sent = d.to_timestamp();
    }
    env.subject = m.subject().unwrap_or("").to_string();
    env.from = mailbox_of(m.from());
    env.to = mailbox_of(m.to());
    env.cc = mailbox_of(m.cc());
    env.display_from = display_of(m.from());
    env.display_to = display_of(m.to());
    env.message_id = m.message_id().map(str::to_string);
    env.references = id_list(m.references());
    env.in_reply_to = id_list(m.in_reply_to()).into_iter().next();
    env
}

fn compare(key: SortKey, a: &(MessageMeta, Envelope), b: &(MessageMeta, Envelope)) -> Cmp {
    match key {
        SortKey::Arrival => a.0.internal_date.cmp(&b.0.internal_date),
        SortKey::Cc => a.1.cc.cmp(&b.1.cc),
        SortKey::Date => a.1.sent.cmp(&b.1.sent),
        SortKey::From => a.1.from.cmp(&b.1.from),
        SortKey::Size => a.0.size.cmp(&b.0.size),
        SortKey::Subject => {
            fold(&base_subject(&a.1.subject).0).cmp(&fold(&base_subject(&b.1.subject).0))
        }
        SortKey::To => a.1.to.cmp(&b.1.to),
        SortKey::DisplayFrom => a.1.display_from.cmp(&b.1.display_from),
        SortKey::DisplayTo => a.1.display_to.cmp(&b.1.display_to),
    }
}

impl Store {
    /// The envelopes of the messages matching `key`, ascending UID.
    pub(crate) fn envelopes(
        &self,
        mailbox: &str,
        uidvalidity: u32,
        key: &SearchKey,
        cancel: &AtomicBool,
        viewer: Viewer<'_>,
    ) -> Result<Vec<(MessageMeta, Envelope)>> {
        let matched = self.matching(mailbox, uidvalidity, key, cancel, viewer, true)?;
        let mut out = Vec::with_capacity(matched.len());
        for (meta, path) in matched {
            if cancel.load(Ordering::Relaxed) {
                return Err(StoreError::Cancelled);
            }
            let Some(raw) = super::read_message(&path, mailbox, meta.uid)? else {
                continue;
            };
            let env = envelope(&meta, &raw);
            out.push((meta, env));
        }
        Ok(out)
    }

    /// The UIDs of the messages matching `key`, ordered by `criteria`
    /// (RFC 5256 SORT); ties fall back to ascending UID.
    pub fn sort(
        &self,
        mailbox: &str,
        uidvalidity: u32,
        criteria: &[SortCriterion],
        key: &SearchKey,
        cancel: &AtomicBool,
    ) -> Result<Vec<u32>> {
        self.sort_as(mailbox, uidvalidity, criteria, key, cancel, Viewer::Owner)
    }

    /// [`Store::sort`] as `viewer` sees the mailbox (a guest's SEEN and
    /// UNSEEN keys test the guest's own `\Seen`).
    pub fn sort_as(
        &self,
        mailbox: &str,
        uidvalidity: u32,
        criteria: &[SortCriterion],
        key: &SearchKey,
        cancel: &AtomicBool,
        viewer: Viewer<'_>,
    ) -> Result<Vec<u32>> {
        let mut items = self.envelopes(mailbox, uidvalidity, key, cancel, viewer)?;
        items.sort_by(|a, b| {
            for c in criteria {
                let o = compare(c.key, a, b);
                let o = if c.reverse { o.reverse() } else { o };
                if o != Cmp::Equal {
                    return o;
                }
            }
            a.0.uid.cmp(&b.0.uid)
        });
        Ok(items.into_iter().map(|(m, _)| m.uid).collect())
    }
}
