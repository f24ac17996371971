//! `mailkeep admin expunge USER MAILBOX [savedbefore AGE] [seen|unseen|
//! deleted|undeleted|flagged|unflagged]... | all`: removes messages of one
//! of USER's mailboxes. The running master has the owner's storage process
//! do it, as the owner (the tool that must run as root elsewhere opens no
//! mail file here); watchers see the expunges at once.

use std::path::Path;

use anyhow::{Context, bail};
use mailkeep_storage_rpc::broker::{AdminRequest, ExpireMessages, admin_request};

/// The flag conditions the storage process knows.
const FLAG_CONDITIONS: [&str; 6] = [
    "seen",
    "unseen",
    "deleted",
    "undeleted",
    "flagged",
    "unflagged",
];

/// The request for `conditions` (as typed after the mailbox), with `now`
/// the current Unix time.
fn request(
    owner: &str,
    mailbox: &str,
    conditions: &[String],
    now: i64,
) -> anyhow::Result<ExpireMessages> {
    if conditions.is_empty() {
        bail!("say which messages: savedbefore AGE, a flag condition, or all");
    }
    let mut asked = ExpireMessages {
        owner: owner.to_owned(),
        mailbox: mailbox.to_owned(),
        ..ExpireMessages::default()
    };
    let mut words = conditions.iter();
    while let Some(word) = words.next() {
        let lower = word.to_ascii_lowercase();
        match lower.as_str() {
            "all" => {}
            "savedbefore" => {
                let age = words.next().context("savedbefore needs an age, e.g. 30d")?;
                let age = mailkeep_config::parse_age(age).map_err(anyhow::Error::msg)?;
                let age = i64::try_from(age.as_secs()).unwrap_or(i64::MAX);
                // At or before the moment: an age of 0s takes everything
                // saved until now.
                asked.saved_until_unix = now.saturating_sub(age).max(1);
            }
            flag if FLAG_CONDITIONS.contains(&flag) => asked.flags.push(lower),
            other => bail!(
                "unknown condition {other:?} (savedbefore AGE, {}, all)",
                FLAG_CONDITIONS.join(", ")
            ),
        }
    }
    Ok(asked)
}

/// Asks the running master; prints how many messages went.
pub fn run(
    config_path: Option<&Path>,
    owner: &str,
    mailbox: &str,
    conditions: &[String],
) -> anyhow::Result<()> {
    let asked = request(owner, mailbox, conditions, mailkeep_ticket::now_unix())?;
    let reply = crate::admin_socket::request(
        config_path,
        AdminRequest {
            kind: Some(admin_request::Kind::Expire(asked)),
        },
    )
    .context("expunge")?;
    println!("expunged={}", reply.count);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_become_a_moment_and_flags() {
        let asked = request(
            "alice",
            "Trash",
            &["savedbefore".into(), "30d".into()],
            10_000_000,
        )
        .unwrap();
        assert_eq!(asked.saved_until_unix, 10_000_000 - 30 * 86_400);
        assert!(asked.flags.is_empty());
        let asked = request("alice", "INBOX", &["Seen".into(), "undeleted".into()], 5).unwrap();
        assert_eq!(
            (asked.saved_until_unix, asked.flags),
            (0, vec!["seen".to_owned(), "undeleted".to_owned()])
        );
        assert!(request("alice", "INBOX", &[], 5).is_err(), "nothing said");
        assert!(request("alice", "INBOX", &["savedbefore".into()], 5).is_err());
        assert!(request("alice", "INBOX", &["larger".into()], 5).is_err());
    }
}
