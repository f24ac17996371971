//! Lists a user's mailboxes with their message counts, as a program that is
//! not part of the server would (a webmail backend, a report script): it
//! connects to the server's client socket, logs the user in through auth,
//! and calls the storage RPC with its own session ticket.
//!
//! ```sh
//! MAILKEEP_PASSWORD=secret cargo run -p mailkeep-frontend --example list_mailboxes -- \
//!     mailkeep-data/run/client.sock alice
//! ```

use mailkeep_frontend::Retry;
use mailkeep_frontend::client::login;
use mailkeep_storage_rpc::broker_client::BrokerClient;
use mailkeep_storage_rpc::storage::{ListMailboxesRequest, MailboxStatusRequest};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(socket), Some(user)) = (args.next(), args.next()) else {
        eprintln!("usage: list_mailboxes CLIENT-SOCKET USER (password in MAILKEEP_PASSWORD)");
        std::process::exit(2);
    };
    let password = std::env::var("MAILKEEP_PASSWORD")?;
    let broker = BrokerClient::connect(&socket).await?;
    let storage = login(broker, &user, password.as_bytes(), "list_mailboxes").await?;
    let owner = storage.user().to_owned();
    let listing = storage
        .call(&owner, Retry::Idempotent, |rpc| {
            let request = rpc.request(ListMailboxesRequest {
                owner: owner.clone(),
            });
            async move { rpc.storage().list_mailboxes(request).await }
        })
        .await?;
    for mailbox in listing.mailboxes {
        let name = mailbox.name;
        let status = storage
            .call(&owner, Retry::Idempotent, |rpc| {
                let request = rpc.request(MailboxStatusRequest {
                    owner: owner.clone(),
                    name: name.clone(),
                    ..Default::default()
                });
                async move { rpc.storage().mailbox_status(request).await }
            })
            .await;
        match status {
            Ok(s) => {
                let s = s.status.unwrap_or_default();
                println!("{name}\t{} messages, {} unseen", s.messages, s.unseen);
            }
            Err(e) => println!("{name}\t({e})"),
        }
    }
    Ok(())
}
