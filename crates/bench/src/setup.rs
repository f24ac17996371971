//! The steps every comparison starts with: a temporary directory both
//! servers can use, accounts with `{PLAIN}` passwords on both, and the
//! same mail in both.

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use crate::client;
use crate::error::BenchError;
use crate::servers::Account;
use crate::servers::dovecot::Dovecot;
use crate::servers::mailkeep::Mailkeep;

/// A temporary directory searchable by the mail uid (storage processes
/// and Dovecot's imap processes run as uid 5000 and must reach their
/// homes under it). With `MAILKEEP_BENCH_KEEP_DIR` set it is kept after
/// the run (its path printed), so that the servers' logs can be read.
pub fn workdir(prefix: &str) -> Result<tempfile::TempDir, BenchError> {
    let mut dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .map_err(|e| BenchError::io("creating a temporary directory", e))?;
    if std::env::var_os("MAILKEEP_BENCH_KEEP_DIR").is_some() {
        dir.disable_cleanup(true);
        println!("kept: {}", dir.path().display());
    }
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
        .map_err(|e| BenchError::io("chmod of the temporary directory", e))?;
    Ok(dir)
}

/// Starts mailkeep (`extra` added to its configuration) and the Dovecot
/// baseline in `dir` with `accounts` on both, passwords stored as
/// `{PLAIN}` on both sides, so that password hashing does not dominate
/// what is measured. The Dovecot error says why there is no baseline.
pub fn both_with_plain_accounts(
    bin: &Path,
    dir: &Path,
    extra: &str,
    accounts: &[Account],
    dovecot_connections: usize,
) -> Result<(Mailkeep, Result<Dovecot, BenchError>), BenchError> {
    let mailkeep = Mailkeep::start(bin, dir, "mailkeep", extra)?;
    mailkeep.add_plain_users(accounts)?;
    let users: Vec<(String, String)> = accounts
        .iter()
        .map(|a| (a.name.clone(), format!("{{PLAIN}}{}", a.password)))
        .collect();
    let dovecot = Dovecot::start(dir, &users, dovecot_connections);
    Ok((mailkeep, dovecot))
}

/// Logs in as each of `accounts` (several at once) and appends
/// `messages` to `mailbox`; returns how long it took.
pub async fn fill_all(
    addr: SocketAddr,
    accounts: &[Account],
    mailbox: &str,
    messages: &[Vec<u8>],
) -> Result<Duration, BenchError> {
    let started = std::time::Instant::now();
    let timeout = Duration::from_secs(120);
    let mut tasks = tokio::task::JoinSet::new();
    for account in accounts.iter().cloned() {
        let messages = messages.to_vec();
        let mailbox = mailbox.to_owned();
        tasks.spawn(async move {
            let mut c = client::login(addr, timeout, &account.name, &account.password).await?;
            if !mailbox.eq_ignore_ascii_case("INBOX") {
                // Made if missing (an error if it exists is fine).
                let _ = c.run(&format!("CREATE {mailbox}")).await;
            }
            client::fill(&mut c, &mailbox, &messages).await?;
            let _ = c.logout().await;
            Ok::<(), BenchError>(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.map_err(|e| BenchError::Refused {
            what: "filling a mailbox".into(),
            answer: e.to_string(),
        })??;
    }
    Ok(started.elapsed())
}
