//! The Quota service behind the storage process's gate for guests (RFC
//! 9208 GETQUOTAROOT and GETQUOTA of a shared mailbox's root, the
//! owner's): bob's own session ticket on alice's storage reads alice's
//! usage and limits only with `l` or `r` on the mailbox he names (or,
//! naming none, on some mailbox of hers), and may never set limits or
//! recount. Over the real RPC, with the plugin in a real storage server.

use std::sync::Arc;

use mailkeep_frontend::Connector;
use mailkeep_quota_storage::pb::quota_client::QuotaClient;
use mailkeep_quota_storage::{QuotaPlugin, QuotaSettings, pb};
use mailkeep_storage_rpc::errors::{ErrorReason, reason_of};
use mailkeep_storage_rpc::metadata::with_ticket;
use mailkeep_storage_server::plugin::Plugins;
use mailkeep_store::{AclChange, Rights, Store};
use mailkeep_testkit::Services;

fn get(mailbox: &str) -> pb::GetQuotaRequest {
    pb::GetQuotaRequest {
        owner: "alice".into(),
        mailbox: mailbox.into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guests_with_l_or_r_read_the_owners_quota_and_change_nothing() {
    let table: toml::Table = toml::from_str("messages = 50").unwrap();
    let plugin = QuotaPlugin::new(&QuotaSettings::from_table(&table).unwrap());
    let services = Services::builder()
        .storage_plugins(Plugins::new(vec![Arc::new(plugin)]))
        .start()
        .await
        .expect("the services");
    services.add_user("alice", "a-secret").await.unwrap();
    services.add_user("bob", "b-secret").await.unwrap();
    services
        .append("alice", "INBOX", &[], b"Subject: one\r\n\r\nbody\r\n")
        .await
        .unwrap();
    // alice's mailboxes and ACLs, as her storage process keeps them.
    let store = Store::open(&services.maildir("alice")).unwrap();
    let grant = |mailbox: &str, rights: Rights, change: AclChange| {
        store.set_acl(mailbox, "bob", rights, change).unwrap();
    };
    for mailbox in ["Team", "Lists", "Drop"] {
        store.create(mailbox).unwrap();
    }
    grant("Team", Rights::READ, AclChange::Replace);
    grant("Lists", Rights::LOOKUP, AclChange::Replace);
    grant("Drop", Rights::INSERT, AclChange::Replace);

    let bob = services.ticket("bob");
    let channel = Connector::storage(&services, &bob, "alice").await.unwrap();
    let mut quota = QuotaClient::new(channel);
    for mailbox in ["Team", "Lists", ""] {
        let reply = quota
            .get_quota(with_ticket(get(mailbox), &bob))
            .await
            .unwrap_or_else(|e| panic!("{mailbox:?}: {e:?}"))
            .into_inner();
        assert_eq!(
            (reply.messages, reply.message_limit),
            (1, 50),
            "{mailbox:?}"
        );
    }
    // Only 'i' on Drop, nothing on INBOX, no such Nope: as if missing.
    for mailbox in ["Drop", "INBOX", "Nope"] {
        let refused = quota
            .get_quota(with_ticket(get(mailbox), &bob))
            .await
            .expect_err(mailbox);
        assert_eq!(
            reason_of(&refused),
            ErrorReason::Nonexistent,
            "{mailbox}: {refused:?}"
        );
    }
    // Limits and recounts stay the owner's.
    let set = pb::SetQuotaRequest {
        owner: "alice".into(),
        storage_limit: Some(1),
        message_limit: None,
    };
    let refused = quota.set_quota(with_ticket(set, &bob)).await.unwrap_err();
    assert_eq!(
        reason_of(&refused),
        ErrorReason::NoPermission,
        "{refused:?}"
    );
    let recalc = pb::RecalcRequest {
        owner: "alice".into(),
    };
    let refused = quota.recalc(with_ticket(recalc, &bob)).await.unwrap_err();
    assert_eq!(
        reason_of(&refused),
        ErrorReason::NoPermission,
        "{refused:?}"
    );

    // A delivery to bob (his deliver ticket, as a compromised lmtp process
    // holds one for any user) reads none of alice's quota, not even where
    // bob himself may read.
    let bob_delivers = services.deliver_ticket("bob");
    let channel = Connector::storage(&services, &bob_delivers, "alice")
        .await
        .unwrap();
    let mut delivering = QuotaClient::new(channel);
    for mailbox in ["Team", ""] {
        let refused = delivering
            .get_quota(with_ticket(get(mailbox), &bob_delivers))
            .await
            .expect_err(mailbox);
        assert_eq!(
            reason_of(&refused),
            ErrorReason::NoPermission,
            "{mailbox:?}: {refused:?}"
        );
    }

    // Without 'l' or 'r' anywhere, alice's root is none of bob's business.
    grant("Team", Rights::READ, AclChange::Remove);
    grant("Lists", Rights::LOOKUP, AclChange::Remove);
    let refused = quota
        .get_quota(with_ticket(get(""), &bob))
        .await
        .unwrap_err();
    assert_eq!(
        reason_of(&refused),
        ErrorReason::NoPermission,
        "{refused:?}"
    );

    // The owner asking about a missing mailbox of hers: no root.
    let alice = services.ticket("alice");
    let channel = Connector::storage(&services, &alice, "alice")
        .await
        .unwrap();
    let mut own = QuotaClient::new(channel);
    let missing = own
        .get_quota(with_ticket(get("Nope"), &alice))
        .await
        .unwrap_err();
    assert_eq!(reason_of(&missing), ErrorReason::Nonexistent, "{missing:?}");
    let reply = own
        .get_quota(with_ticket(get("INBOX"), &alice))
        .await
        .unwrap();
    assert_eq!(reply.into_inner().messages, 1);
}
