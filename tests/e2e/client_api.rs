//! The async client API from outside the server: a program that is not one
//! of the server's processes connects to the client socket, logs a user in
//! through auth and reads their mail with its own session ticket, through
//! the same storage path the IMAP process uses (mailkeep-frontend's
//! `Storage`); see crates/frontend/examples/list_mailboxes.rs.

use mailkeep_frontend::client::login;
use mailkeep_frontend::{AuthFailure, Retry};
use mailkeep_storage_rpc::broker_client::BrokerClient;
use mailkeep_storage_rpc::storage::{ListMailboxesRequest, MailboxStatusRequest};

use crate::harness::{Server, TestDir, require_root};

#[test]
fn a_program_logs_in_on_the_client_socket_and_reads_mail_with_its_own_ticket() {
    if !require_root("a_program_logs_in_on_the_client_socket_and_reads_mail_with_its_own_ticket") {
        return;
    }
    let dir = TestDir::new();
    let server = Server::start(&dir);
    server.add_user("webby", "w-secret");
    let mut c = server.login("webby", "w-secret");
    assert!(
        c.append("INBOX", &[], b"Subject: for the program\r\n\r\nhi\r\n")
            .expect("APPEND")
            .is_ok()
    );
    c.logout();
    let socket = dir.data_dir().join("run/client.sock");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let broker = BrokerClient::connect(&socket)
            .await
            .expect("the client socket");
        let wrong = login(broker, "webby", b"wrong", "e2e").await;
        assert!(
            matches!(wrong, Err(ref e) if e.0 == AuthFailure::Rejected),
            "a wrong password: {wrong:?}"
        );
        let broker = BrokerClient::connect(&socket)
            .await
            .expect("the client socket");
        let storage = login(broker, "webby", b"w-secret", "e2e")
            .await
            .expect("a login");
        let owner = storage.user().to_owned();
        assert_eq!(owner, "webby");
        let listing = storage
            .call(&owner, Retry::Idempotent, |rpc| {
                let request = rpc.request(ListMailboxesRequest {
                    owner: owner.clone(),
                });
                async move { rpc.storage().list_mailboxes(request).await }
            })
            .await
            .expect("ListMailboxes");
        let names: Vec<&str> = listing.mailboxes.iter().map(|m| m.name.as_str()).collect();
        assert!(
            names.contains(&"INBOX") && names.contains(&"Trash"),
            "{names:?}"
        );
        let status = storage
            .call(&owner, Retry::Idempotent, |rpc| {
                let request = rpc.request(MailboxStatusRequest {
                    owner: owner.clone(),
                    name: "INBOX".into(),
                    ..Default::default()
                });
                async move { rpc.storage().mailbox_status(request).await }
            })
            .await
            .expect("MailboxStatus")
            .status
            .unwrap_or_default();
        assert_eq!(status.messages, 1);
        // Its ticket is webby's: at another owner's storage webby is a
        // guest, who sees nothing demo's ACLs do not grant.
        let other = storage
            .call("demo", Retry::Idempotent, |rpc| {
                let request = rpc.request(ListMailboxesRequest {
                    owner: "demo".into(),
                });
                async move { rpc.storage().list_mailboxes(request).await }
            })
            .await
            .expect("a guest's listing");
        assert!(other.mailboxes.is_empty(), "demo's mailboxes: {other:?}");
        let inbox = storage
            .call("demo", Retry::Idempotent, |rpc| {
                let request = rpc.request(MailboxStatusRequest {
                    owner: "demo".into(),
                    name: "INBOX".into(),
                    ..Default::default()
                });
                async move { rpc.storage().mailbox_status(request).await }
            })
            .await;
        assert_eq!(
            inbox.map(drop).map_err(|e| e.reason()),
            Err(mailkeep_storage_rpc::errors::ErrorReason::Nonexistent),
            "demo's INBOX"
        );
    });
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&socket)
            .expect("the socket")
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "root only by default");
}
