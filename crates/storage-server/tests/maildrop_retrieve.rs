//! Maildrop.Retrieve (POP3 RETR): the listed messages' bytes in the order
//! listed, CRLF, each a RetrievedMessage item with its first bytes and
//! `more` items for the rest; a message removed since the list was made
//! is left out; a stale UIDVALIDITY is the call's status; only the owner
//! may call it.

#[allow(dead_code)]
mod common;

use common::{Harness, OWNER, mailbox_status};
use mailkeep_storage_rpc::CHUNK_SIZE;
use mailkeep_storage_rpc::errors::{ErrorReason, reason_of};
use mailkeep_storage_rpc::metadata::with_ticket;
use mailkeep_storage_rpc::storage::maildrop_client::MaildropClient;
use mailkeep_storage_rpc::storage::retrieve_maildrop_item::Item;
use mailkeep_storage_rpc::storage::*;
use mailkeep_ticket::Scope;
use tonic::transport::Channel;

/// Each message retrieved: its UID, announced size, and bytes.
async fn retrieve(
    client: &mut MaildropClient<Channel>,
    ticket: &str,
    uidvalidity: u32,
    uids: &[u32],
) -> Result<Vec<(u32, u64, Vec<u8>)>, tonic::Status> {
    let request = RetrieveMaildropRequest {
        owner: OWNER.into(),
        mailbox: "INBOX".into(),
        uidvalidity,
        uids: uids.to_vec(),
    };
    let mut stream = client
        .retrieve(with_ticket(request, ticket))
        .await?
        .into_inner();
    let mut got: Vec<(u32, u64, Vec<u8>)> = Vec::new();
    while let Some(batch) = stream.message().await? {
        for item in batch.items.into_iter().filter_map(|i| i.item) {
            match item {
                Item::Message(m) => got.push((m.uid, m.size, m.data)),
                Item::More(more) => got.last_mut().expect("more after a message").2.extend(more),
            }
        }
    }
    Ok(got)
}

fn maildrop_client(channel: Channel) -> MaildropClient<Channel> {
    MaildropClient::new(channel).max_decoding_message_size(mailkeep_storage_rpc::MAX_GRPC_MESSAGE)
}

#[tokio::test]
async fn messages_come_in_the_order_listed_with_crlf_and_big_ones_in_pieces() {
    let h = Harness::start();
    let t = h.ticket();
    let mut storage = common::storage_client(h.channel(1).await);
    let small = b"Subject: small\n\nbare LF body\n.dot line\n".to_vec();
    let mut big = b"Subject: big\r\n\r\n".to_vec();
    while big.len() < 3 * CHUNK_SIZE {
        big.extend_from_slice(b"a line of a big message, long enough to need several chunks\r\n");
    }
    let first = common::append(&mut storage, &t, "INBOX", &small).await;
    let second = common::append(&mut storage, &t, "INBOX", &big).await;
    let uidvalidity = mailbox_status(&mut storage, &t, "INBOX")
        .await
        .unwrap()
        .uidvalidity;
    let mut maildrop = maildrop_client(h.channel(2).await);

    let got = retrieve(&mut maildrop, &t, uidvalidity, &[second.uid, first.uid])
        .await
        .unwrap();
    let crlf = b"Subject: small\r\n\r\nbare LF body\r\n.dot line\r\n".to_vec();
    assert_eq!(
        got,
        vec![
            (second.uid, big.len() as u64, big.clone()),
            (first.uid, crlf.len() as u64, crlf),
        ]
    );
}

#[tokio::test]
async fn a_message_removed_since_is_left_out_and_a_stale_uidvalidity_refused() {
    let h = Harness::start();
    let t = h.ticket();
    let mut storage = common::storage_client(h.channel(1).await);
    let a = common::append(&mut storage, &t, "INBOX", b"Subject: a\r\n\r\na\r\n").await;
    let b = common::append(&mut storage, &t, "INBOX", b"Subject: b\r\n\r\nb\r\n").await;
    let uidvalidity = mailbox_status(&mut storage, &t, "INBOX")
        .await
        .unwrap()
        .uidvalidity;
    let mut maildrop = maildrop_client(h.channel(2).await);
    let request = CommitMaildropRequest {
        owner: OWNER.into(),
        mailbox: "INBOX".into(),
        uidvalidity,
        uids: vec![a.uid],
    };
    maildrop.commit(with_ticket(request, &t)).await.unwrap();

    let got = retrieve(&mut maildrop, &t, uidvalidity, &[a.uid, b.uid])
        .await
        .unwrap();
    let uids: Vec<u32> = got.iter().map(|(uid, _, _)| *uid).collect();
    assert_eq!(uids, vec![b.uid]);

    let stale = retrieve(&mut maildrop, &t, uidvalidity + 1, &[b.uid])
        .await
        .unwrap_err();
    assert_eq!(reason_of(&stale), ErrorReason::UidvalidityChanged);
}

#[tokio::test]
async fn only_the_owner_retrieves() {
    let h = Harness::start();
    let t = h.ticket();
    let mut storage = common::storage_client(h.channel(1).await);
    let a = common::append(&mut storage, &t, "INBOX", b"Subject: a\r\n\r\na\r\n").await;
    let uidvalidity = mailbox_status(&mut storage, &t, "INBOX")
        .await
        .unwrap()
        .uidvalidity;
    let mut maildrop = maildrop_client(h.channel(2).await);
    for ticket in [
        h.ticket_for("bob", Scope::Session),
        h.ticket_for(OWNER, Scope::Deliver),
    ] {
        let refused = retrieve(&mut maildrop, &ticket, uidvalidity, &[a.uid])
            .await
            .unwrap_err();
        assert_eq!(reason_of(&refused), ErrorReason::NoPermission);
    }
}
