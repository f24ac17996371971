//! Quota warnings: when an addition takes the owner's usage across one of
//! the configured percentages of a limit (`warnings = [80, 95]`), a short
//! message goes into their INBOX, once per crossing (usage that falls back
//! below and rises again warns again), as Dovecot's `quota_warning`.

use mailkeep_storage_server::plugin::{AddKind, Adding};
use mailkeep_store::{Flags, Store, StoreError};

use crate::Limits;

/// The highest of `percents` that `added` took `used` across for one
/// resource with `limit` (0: none): `before < threshold <= used`.
pub fn crossed(percents: &[u8], limit: Option<u64>, used: u64, added: u64) -> Option<u8> {
    let limit = limit.filter(|&l| l > 0)?;
    let before = used.saturating_sub(added);
    percents
        .iter()
        .copied()
        .filter(|&p| {
            let threshold = limit.saturating_mul(u64::from(p)) / 100;
            before < threshold && used >= threshold
        })
        .max()
}

/// The warning for `adding`, if it crossed a threshold: its text.
pub(crate) fn warning_for(
    percents: &[u8],
    limits: Limits,
    usage: (u64, u64),
    adding: &Adding<'_>,
) -> Option<String> {
    if percents.is_empty() || adding.kind == AddKind::Move {
        return None;
    }
    let storage = crossed(percents, limits.storage, usage.0, adding.bytes);
    let messages = crossed(percents, limits.messages, usage.1, adding.messages);
    let (percent, what) = match (storage, messages) {
        (Some(s), Some(m)) if m > s => (m, "messages"),
        (Some(s), _) => (s, "storage"),
        (None, Some(m)) => (m, "messages"),
        (None, None) => return None,
    };
    Some(format!(
        "Subject: Quota warning: {percent}% of your mailbox {what} quota used\r\n\
         From: Mail system <MAILER-DAEMON>\r\n\
         To: {owner}\r\n\
         Auto-Submitted: auto-generated\r\n\
         Content-Type: text/plain; charset=us-ascii\r\n\
         \r\n\
         Your mailbox now uses {bytes} bytes in {count} messages; the limits\r\n\
         are {storage_limit} bytes and {message_limit} messages (0: none).\r\n\
         Mail that would pass a limit is refused. Please delete or archive\r\n\
         some messages.\r\n",
        owner = adding.owner,
        bytes = usage.0,
        count = usage.1,
        storage_limit = limits.storage.unwrap_or(0),
        message_limit = limits.messages.unwrap_or(0),
    ))
}

/// Puts `text` into the owner's INBOX (not through the hooks: a warning is
/// never refused and never warns again).
pub(crate) fn deliver(store: &Store, text: &str) -> Result<(), StoreError> {
    let mut writer = store.begin_append("INBOX", Flags::default(), None, text.len() as u64)?;
    writer.outside_quota();
    writer.write(text.as_bytes())?;
    store.commit_appends(vec![writer.finish()?], None)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_highest_threshold_crossed_by_this_addition_counts() {
        let p = [80, 95];
        assert_eq!(crossed(&p, Some(1000), 850, 100), Some(80));
        assert_eq!(crossed(&p, Some(1000), 960, 300), Some(95));
        assert_eq!(crossed(&p, Some(1000), 900, 50), None, "already past 80");
        assert_eq!(crossed(&p, Some(1000), 700, 100), None);
        assert_eq!(crossed(&p, None, 10_000, 10_000), None);
        assert_eq!(crossed(&p, Some(0), 10_000, 10_000), None);
    }

    #[test]
    fn a_move_never_warns() {
        let adding = Adding {
            owner: "alice",
            mailbox: "INBOX",
            kind: AddKind::Move,
            messages: 1,
            bytes: 900,
        };
        let limits = Limits {
            storage: Some(1000),
            messages: None,
        };
        assert_eq!(warning_for(&[80], limits, (900, 1), &adding), None);
        let copy = Adding {
            kind: AddKind::Copy,
            ..adding
        };
        let text = warning_for(&[80], limits, (900, 1), &copy).expect("a warning");
        assert!(text.starts_with("Subject: Quota warning: 80% of your mailbox storage"));
    }
}
