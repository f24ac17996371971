//! Sharing across servers with no shared disk: carol is homed on host B,
//! dave on host A; carol shares a folder with dave, who finds her among
//! the owners sharing with him (A's broker asks B's gateway with dave's
//! ticket) and reads it through B's gateway, where carol's storage process
//! checks her ACLs for dave. A host that is down takes only its shared
//! mailboxes with it.

use std::path::Path;

use mailkeep_frontend::client::login;
use mailkeep_frontend::{Retry, Storage};
use mailkeep_storage_rpc::broker_client::BrokerClient;
use mailkeep_storage_rpc::errors::ErrorReason;
use mailkeep_storage_rpc::storage::{
    ListMailboxesRequest, MailboxStatusRequest, StoreFlagsRequest, StoreMode, UidRange,
};

use crate::cluster::{set_home_host, two_hosts};
use crate::harness::{TestDir, require_root};
use crate::sharing::admin_acl;

/// The number of messages in `owner`'s `mailbox` as `storage`'s user
/// sees it, or the reason it was refused.
async fn messages(storage: &Storage, owner: &str, mailbox: &str) -> Result<u32, ErrorReason> {
    storage
        .call(owner, Retry::Idempotent, |rpc| {
            let request = rpc.request(MailboxStatusRequest {
                owner: owner.into(),
                name: mailbox.into(),
                ..Default::default()
            });
            async move { rpc.storage().mailbox_status(request).await }
        })
        .await
        .map(|s| s.status.unwrap_or_default().messages)
        .map_err(|e| e.reason())
}

async fn login_at(socket: &Path, user: &str, password: &[u8]) -> Storage {
    let broker = BrokerClient::connect(socket)
        .await
        .expect("the client socket");
    login(broker, user, password, "e2e")
        .await
        .unwrap_or_else(|e| panic!("{user}'s login: {e:?}"))
}

#[test]
fn a_folder_shared_across_hosts_is_read_through_the_owners_gateway() {
    if !require_root("a_folder_shared_across_hosts_is_read_through_the_owners_gateway") {
        return;
    }
    let (dir_a, dir_b, admin) = (TestDir::new(), TestDir::new(), TestDir::new());
    let cluster_dir = admin.path().join("cluster");
    let (server_a, mut server_b, _) = two_hosts(&dir_a, &dir_b, &cluster_dir);
    // carol lives on B; A knows her as homed there. dave lives on A.
    server_b.add_user("carol", "c-secret");
    server_a.add_user("carol", "c-secret");
    set_home_host(&dir_a.users_file(), "carol", "b");
    server_a.add_user("dave", "d-secret");

    let mut carol = server_b.login("carol", "c-secret");
    carol.ok("CREATE Plans");
    let r = carol
        .append(
            "Plans",
            &[],
            b"Subject: the plan\r\n\r\nshared across hosts\r\n",
        )
        .expect("APPEND");
    assert!(r.is_ok(), "{r:?}");
    carol.logout();
    admin_acl(&server_b, &["set", "carol", "Plans", "dave", "lr"]);

    let socket = dir_a.data_dir().join("run/client.sock");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let dave = login_at(&socket, "dave", b"d-secret").await;
        assert_eq!(
            dave.sharing_owners().await.expect("sharing owners"),
            ["carol"],
            "A asked B who shares with dave"
        );
        let listed = dave
            .call("carol", Retry::Idempotent, |rpc| {
                let request = rpc.request(ListMailboxesRequest {
                    owner: "carol".into(),
                });
                async move { rpc.storage().list_mailboxes(request).await }
            })
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "carol's mailboxes from A: {e}\nA: {}\nB: {}",
                    server_a.logs(),
                    server_b.logs()
                )
            });
        let names: Vec<&str> = listed.mailboxes.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["Plans"]);
        assert_eq!(messages(&dave, "carol", "Plans").await, Ok(1));
        assert_eq!(
            messages(&dave, "carol", "INBOX").await,
            Err(ErrorReason::Nonexistent),
            "carol's INBOX is not shared"
        );
        let flagged = dave
            .call("carol", Retry::Idempotent, |rpc| {
                let request = rpc.request(StoreFlagsRequest {
                    owner: "carol".into(),
                    mailbox: "Plans".into(),
                    uidvalidity: 0,
                    uids: vec![UidRange { first: 1, last: 1 }],
                    mode: StoreMode::Add as i32,
                    flags: vec!["\\Flagged".into()],
                    unchanged_since: None,
                });
                async move { rpc.storage().store_flags(request).await }
            })
            .await;
        assert_eq!(
            flagged.map(drop).map_err(|e| e.reason()),
            Err(ErrorReason::NoPermission),
            "lr does not let dave flag"
        );
        assert_eq!(messages(&dave, "dave", "INBOX").await, Ok(0));
        dave.end().await;
    });

    // B goes down: dave's own mail at A is untouched, carol's shared
    // folder is unavailable, and the listing of sharers still answers.
    server_b.stop();
    runtime.block_on(async {
        let dave = login_at(&socket, "dave", b"d-secret").await;
        assert_eq!(messages(&dave, "dave", "INBOX").await, Ok(0));
        assert_eq!(
            messages(&dave, "carol", "Plans").await,
            Err(ErrorReason::Unavailable),
            "B is down"
        );
        assert!(dave.sharing_owners().await.is_ok());
        dave.end().await;
    });
}
