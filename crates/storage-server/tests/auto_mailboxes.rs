//! The mailboxes every owner gets (Drafts, Sent, Trash, Junk, as Dovecot's
//! `auto = subscribe`), made by the storage process when it opens the
//! owner's store: listed with their special-use attributes, subscribed,
//! and made again by the next process after the user deleted one.

#[allow(dead_code)]
mod common;

use common::{OWNER, Process, delete_mailbox, storage_client};
use mailkeep_storage_rpc::metadata::with_ticket;
use mailkeep_storage_rpc::storage::organize_client::OrganizeClient;
use mailkeep_storage_rpc::storage::*;
use mailkeep_storage_server::{StorageSettings, Tuning};
use mailkeep_store::AutoMailbox;
use mailkeep_ticket::Scope;

fn tuning() -> Tuning {
    Tuning {
        auto_mailboxes: [
            ("Drafts", "\\Drafts"),
            ("Sent Items", "\\Sent"),
            ("Trash", "\\Trash"),
        ]
        .into_iter()
        .map(|(name, attribute)| AutoMailbox {
            name: name.into(),
            attribute: attribute.into(),
        })
        .collect(),
        ..Tuning::default()
    }
}

fn start(home: &std::path::Path, key: &common::TestKey) -> Process {
    let settings = StorageSettings {
        owner: OWNER.into(),
        home: home.to_path_buf(),
        maildir: None,
    };
    Process::start_with(settings, tuning(), key)
}

/// Every mailbox's name with its attributes.
async fn listed(p: &Process, t: &str) -> Vec<(String, Vec<String>)> {
    let mut c = storage_client(p.channel(1).await);
    let request = ListMailboxesRequest {
        owner: OWNER.into(),
    };
    c.list_mailboxes(with_ticket(request, t))
        .await
        .unwrap()
        .into_inner()
        .mailboxes
        .into_iter()
        .map(|m| (m.name, m.attributes))
        .collect()
}

#[tokio::test]
async fn the_configured_special_use_mailboxes_are_there_at_first_login() {
    let home = tempfile::tempdir().unwrap();
    let key = common::TestKey::generate();
    let t = common::ticket_signed_with(&key, OWNER, Scope::Session);
    let p = start(home.path(), &key);
    let list = listed(&p, &t).await;
    let with = |name: &str, attribute: &str| {
        list.iter()
            .any(|(n, a)| n == name && a.iter().any(|x| x == attribute))
    };
    assert!(with("Drafts", "\\Drafts"), "{list:?}");
    assert!(with("Sent Items", "\\Sent"), "{list:?}");
    assert!(with("Trash", "\\Trash"), "{list:?}");
    assert_eq!(list.len(), 4, "INBOX and the three: {list:?}");
    let mut o = OrganizeClient::new(p.channel(2).await);
    let subscribed = o
        .list_subscriptions(with_ticket(
            ListSubscriptionsRequest {
                owner: OWNER.into(),
            },
            &t,
        ))
        .await
        .unwrap()
        .into_inner()
        .names;
    assert_eq!(subscribed, ["Drafts", "Sent Items", "Trash"]);

    // Deleted by the user; the next storage process for the owner makes
    // it again.
    let mut c = p.client(3).await;
    delete_mailbox(&mut c, &t, "Trash").await.unwrap();
    drop(c);
    drop(o);
    p.stop().await.unwrap();
    let again = start(home.path(), &key);
    let list = listed(&again, &t).await;
    assert!(list.iter().any(|(n, _)| n == "Trash"), "{list:?}");
}
