//! `mailkeep admin acl get|set|delete USER MAILBOX [ID [RIGHTS]]`: read or
//! change the ACL of one of USER's mailboxes (RFC 4314 rights, as IMAP
//! SETACL takes them: "lr", "+w", "-k"). Works as the owner's uid, as the
//! other admin commands do, never as root on the mail files. A change is
//! told to the running master (over its root-only admin socket, opened
//! while still root), or written to the master's list of shares when no
//! master runs, so that the grantee sees the mailbox in the shared
//! namespace.

use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::{Context, bail};
use mailkeep_config::Config;
use mailkeep_storage_rpc::broker::{AdminRequest, Shares, admin_request};
use mailkeep_store::{AclChange, Rights, Store};

/// What to do with the mailbox's ACL.
#[derive(Debug, Clone)]
pub enum AclAction {
    /// Print every entry, the owner's first.
    Get,
    /// Replace, add ("+…") or remove ("-…") an identifier's rights.
    Set { identifier: String, rights: String },
    /// Remove an identifier's entry.
    Delete { identifier: String },
}

/// Where a change of grantees is told: the running master, or its list
/// file when none runs.
enum ShareReport {
    Master(std::os::unix::net::UnixStream),
    File(std::fs::File),
}

impl ShareReport {
    /// Opened as root, before the command becomes the owner's uid.
    fn open(config: &Config) -> anyhow::Result<ShareReport> {
        if let Ok(stream) = crate::admin_socket::connect(config) {
            return Ok(ShareReport::Master(stream));
        }
        let path = config.data_dir().join("shares");
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("opening {} (are you root?)", path.display()))?;
        Ok(ShareReport::File(file))
    }

    fn send(self, owner: &str, grantees: Vec<String>) -> anyhow::Result<()> {
        match self {
            ShareReport::File(mut file) => {
                mailkeep_master::shares::update_file(&mut file, owner, grantees)
                    .context("updating the list of shares")
            }
            ShareReport::Master(stream) => {
                let request = AdminRequest {
                    kind: Some(admin_request::Kind::Shares(Shares {
                        owner: owner.to_owned(),
                        grantees,
                    })),
                };
                crate::admin_socket::ask(stream, request)
                    .map(drop)
                    .context("telling the server of the new shares")
            }
        }
    }
}

/// Runs `action` on `user`'s `mailbox`, printing the ACL for Get.
pub fn run(
    config_path: Option<&Path>,
    user: &str,
    mailbox: &str,
    action: AclAction,
) -> anyhow::Result<()> {
    let config = Config::load(config_path)?;
    let report = match action {
        AclAction::Get => None,
        _ => Some(ShareReport::open(&config)?),
    };
    let (store, _entry) = crate::admin_cmd::open_as_owner(&config, user)?;
    match action {
        AclAction::Get => {
            println!("{user} {}", Rights::ALL);
            for entry in store.acl(mailbox).context("reading the ACL")? {
                println!("{} {}", entry.identifier, entry.rights);
            }
            return Ok(());
        }
        AclAction::Set { identifier, rights } => {
            refuse_owner(user, &identifier)?;
            let (change, letters) = match rights.as_bytes().first() {
                Some(b'+') => (AclChange::Add, &rights[1..]),
                Some(b'-') => (AclChange::Remove, &rights[1..]),
                _ => (AclChange::Replace, rights.as_str()),
            };
            let rights = Rights::parse(letters).context("the rights")?;
            let now = store
                .set_acl(mailbox, &identifier, rights, change)
                .context("setting the ACL")?;
            println!("{identifier} {now}");
        }
        AclAction::Delete { identifier } => {
            refuse_owner(user, &identifier)?;
            store
                .delete_acl(mailbox, &identifier)
                .context("deleting the ACL entry")?;
        }
    }
    report_grantees(&store, user, report)
}

fn refuse_owner(owner: &str, identifier: &str) -> anyhow::Result<()> {
    if identifier == owner {
        bail!("the owner {owner:?} always holds every right");
    }
    Ok(())
}

fn report_grantees(store: &Store, owner: &str, report: Option<ShareReport>) -> anyhow::Result<()> {
    let grantees = store.grantees().context("reading the grantees")?;
    match report {
        Some(report) => report.send(owner, grantees),
        None => Ok(()),
    }
}
