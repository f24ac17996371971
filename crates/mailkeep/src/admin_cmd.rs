//! `mailkeep admin verify USER`, `mailkeep admin reindex USER` and
//! `mailkeep admin quota get|recalc USER`: check or rebuild one user's
//! index against the files, or read and recount their quota usage. Run as root, the command
//! first becomes the user's uid/gid (no chroot), so every file it touches
//! stays the owner's; run as the owner, it works as is.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use mailkeep_config::Config;
use mailkeep_master::privileges::{DropTo, drop_privileges, running_as_root};
use mailkeep_store::Store;

/// The Maildir++ root inside a home.
const MAILDIR: &str = "Maildir";

/// What to do with the user's store.
#[derive(Debug, Clone, Copy)]
pub enum Action {
    /// Check the index against the files; fail on any inconsistency.
    Verify,
    /// Rebuild the index from the files.
    Reindex,
    /// Print usage (outside changes picked up first) and the limits in
    /// force (the quota plugin's rules).
    QuotaGet,
    /// Recount usage from the files, store it, print it as QuotaGet does.
    QuotaRecalc,
}

/// Opens `user`'s store as [`open_as_owner`] does and runs `action`
/// on it (`<home>/Maildir`, or where the entry's
/// `userdb_mail` says) and runs `action`, printing the report on
/// stdout. Verify fails (non-zero exit) when the report lists problems.
pub fn run(config_path: Option<&Path>, user: &str, action: Action) -> anyhow::Result<()> {
    let config = Config::load(config_path)?;
    let (store, entry) = open_as_owner(&config, user)?;
    let maildir = store.root().to_owned();
    match action {
        Action::Verify => {
            let report = store.verify().context("verifying")?;
            print!("{report}");
            if !report.is_ok() {
                bail!(
                    "{} inconsistencies in {}",
                    report.problems.len(),
                    maildir.display()
                );
            }
        }
        Action::Reindex => {
            let report = store.reindex().context("reindexing")?;
            print!("{report}");
            let check = store.verify().context("verifying after reindex")?;
            print!("{check}");
            if !check.is_ok() {
                bail!("the rebuilt index still has inconsistencies");
            }
        }
        Action::QuotaGet | Action::QuotaRecalc => {
            let (bytes, messages) = if matches!(action, Action::QuotaRecalc) {
                store.recalc_quota().context("recounting quota usage")?
            } else {
                store
                    .sync_all(false)
                    .context("picking up outside changes")?;
                store.quota_usage().context("reading quota usage")?
            };
            let limits = quota_limits(&config, user, &entry.extra, &store)?;
            println!(
                "user={user} bytes={bytes} messages={messages} storage_limit={} message_limit={}",
                limits.storage.unwrap_or(0),
                limits.messages.unwrap_or(0)
            );
        }
    }
    Ok(())
}

/// The limits the quota plugin applies to `user` (0: unlimited), from its
/// settings, the user's entry and any override in the index.
fn quota_limits(
    config: &Config,
    user: &str,
    extra: &[(String, String)],
    store: &Store,
) -> anyhow::Result<mailkeep_quota_storage::Limits> {
    use mailkeep_storage_server::plugin::{OwnerInfo, StoragePlugin};
    let table = config.plugins.settings_of(mailkeep_quota_storage::NAME);
    let settings = mailkeep_quota_storage::QuotaSettings::from_table(&table)?;
    let plugin = mailkeep_quota_storage::QuotaPlugin::new(&settings);
    plugin.owner_added(&OwnerInfo {
        owner: user.to_owned(),
        userdb: extra.to_vec(),
    });
    Ok(plugin.limits(user, store)?)
}

/// Looks `user` up in the users file, drops to their uid/gid when root,
/// and opens their Maildir (`<home>/Maildir`, or where the entry's
/// `userdb_mail` says); never creates one (a typo in a home must not make
/// an empty store). Returns the store and the user's entry.
pub fn open_as_owner(
    config: &Config,
    user: &str,
) -> anyhow::Result<(Store, mailkeep_auth::UserEntry)> {
    let users = config.users_file();
    let file = mailkeep_auth::PasswdFile::load(&users)
        .with_context(|| format!("reading the users file {}", users.display()))?;
    let Some(entry) = file.lookup(user) else {
        bail!("no user {user:?} in {}", users.display());
    };
    let entry = entry.clone();
    let home: PathBuf = entry
        .home
        .clone()
        .unwrap_or_else(|| config.home_base().join(&entry.name));
    if running_as_root() {
        let uid = entry.uid.unwrap_or(config.privileges.mail_uid);
        let gid = entry.gid.unwrap_or(config.privileges.mail_gid);
        if uid == 0 {
            bail!("user {user:?} has uid 0; refusing to work on its mail as root");
        }
        drop_privileges(&DropTo {
            uid,
            gid,
            chroot: None,
        })
        .with_context(|| format!("becoming uid {uid} gid {gid}"))?;
    }
    // Dovecot's userdb_mail=maildir:PATH, as the storage process serves it.
    let maildir = match entry.maildir()? {
        Some(maildir) => maildir,
        None => home.join(MAILDIR),
    };
    match std::fs::metadata(&maildir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => bail!("{} is not a directory", maildir.display()),
        Err(e) => bail!("{}: {e}", maildir.display()),
    }
    let store = Store::open(&maildir)
        .with_context(|| format!("opening the store {}", maildir.display()))?;
    Ok((store, entry))
}
