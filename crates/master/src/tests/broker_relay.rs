//! The broker and the relay, with the test playing the relay: an owner
//! homed on another host is relayed only once the ticket verified, the
//! protocol process gets a socket whose other end the relay got, a held
//! connection is reused until the relay reports it closed, and the
//! gateway's channel never gets a relayed connection (nor auth).

use std::io::{Read, Write};

use mailkeep_storage_rpc::broker::{
    ConnectAuth, RelayClosed, RelayControl, RelayEvent, relay_control, relay_event,
};

use super::*;

impl Setup {
    /// Installs a relay whose control channel the test holds.
    fn relay(&self) -> UnixStream {
        let (master_end, relay_end) = quiet_pair();
        let link = Arc::new(crate::relay::RelayLink::new(ControlChannel::new(
            master_end,
        )));
        tokio::spawn(Arc::clone(&link).read_events());
        crate::relay::set_link(&self.shared, Some(link));
        relay_end
    }

    /// The storage gateway's broker channel, served by the broker.
    fn gateway(&self, client_id: u64) -> UnixStream {
        let (theirs, ours) = quiet_pair();
        tokio::spawn(crate::broker::serve_gateway(
            Arc::clone(&self.shared),
            client_id,
            theirs,
        ));
        ours
    }
}

/// Sends request `id`: attach `owner` with `ticket`, holding `held`.
async fn attach_holding(client: &UnixStream, id: u64, owner: &str, ticket: String, held: Vec<u64>) {
    let request = BrokerRequest {
        id,
        kind: Some(broker_request::Kind::AttachStorage(AttachStorage {
            ticket,
            owner: owner.into(),
            held_connections: held,
        })),
    };
    send_frame(client, &request, None).await.unwrap();
}

/// The next request the relay gets: a connect, with its socket.
async fn relay_connect(
    relay: &UnixStream,
) -> (
    mailkeep_storage_rpc::broker::RelayConnect,
    std::os::fd::OwnedFd,
) {
    let (request, fd): (RelayControl, _) = recv_frame(relay).await.unwrap();
    match request.kind {
        Some(relay_control::Kind::Connect(c)) => (c, fd.expect("the connect's socket")),
        other => panic!("expected RelayConnect, got {other:?}"),
    }
}

/// The relay says `kind` to the master.
async fn relay_says(relay: &UnixStream, kind: relay_event::Kind) {
    send_frame(relay, &RelayEvent { kind: Some(kind) }, None)
        .await
        .unwrap();
}

/// A refusal's code, or a panic naming what came instead.
fn refused(kind: broker_reply::Kind) -> RefusalCode {
    match kind {
        broker_reply::Kind::Error(e) => e.code(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn an_owner_on_another_host_is_relayed_once_the_ticket_verifies_and_reused_until_closed() {
    let s = Setup::new();
    let relay = s.relay();
    let client = s.client(1);
    // A forged ticket: refused, the relay hears nothing.
    let forged = sign(
        &HostKey::generate(),
        &Claims::new("d", Scope::Session, now_unix(), 3600, "test"),
    );
    attach_holding(&client, 2, "d", forged.to_string(), vec![]).await;
    assert_eq!(refused(reply(&client).await), RefusalCode::Unauthenticated);
    assert!(
        !has_reply(&relay),
        "the relay was asked for an unverified session"
    );

    // A good ticket: the relay is asked to connect to d's home host.
    let ticket = s.ticket("d");
    attach_holding(&client, 3, "d", ticket.clone(), vec![]).await;
    let (connect, relay_fd) = relay_connect(&relay).await;
    assert_eq!(
        (connect.address.as_str(), connect.server_name.as_str()),
        ("127.0.0.9:4190", "127.0.0.9")
    );
    assert_eq!(
        (connect.owner.as_str(), connect.ticket.as_str()),
        ("d", ticket.as_str())
    );
    assert!(!has_reply(&client), "answered before the relay connected");
    relay_says(
        &relay,
        relay_event::Kind::Reply(ControlReply {
            request_id: connect.request_id,
            ..ControlReply::default()
        }),
    )
    .await;
    let (reply_msg, client_fd): (BrokerReply, _) = recv_frame(&client).await.unwrap();
    let Some(broker_reply::Kind::Storage(attached)) = reply_msg.kind else {
        panic!("expected StorageAttached, got {reply_msg:?}");
    };
    assert_eq!(
        (attached.connection_id, attached.reuse),
        (connect.request_id, false)
    );
    // The protocol process's socket is the other end of the relay's.
    let mut ours = std::os::unix::net::UnixStream::from(client_fd.expect("a socket"));
    let mut theirs = std::os::unix::net::UnixStream::from(relay_fd);
    ours.write_all(b"x").unwrap();
    let mut byte = [0u8; 1];
    theirs.read_exact(&mut byte).unwrap();
    assert_eq!(&byte, b"x");

    // Held: reused, no new connect.
    attach_holding(
        &client,
        4,
        "d",
        ticket.clone(),
        vec![attached.connection_id],
    )
    .await;
    match reply(&client).await {
        broker_reply::Kind::Storage(again) => {
            assert_eq!(
                (again.connection_id, again.reuse),
                (attached.connection_id, true)
            )
        }
        other => panic!("expected reuse, got {other:?}"),
    }
    // Once the relay says it closed, a new one is made.
    relay_says(
        &relay,
        relay_event::Kind::Closed(RelayClosed {
            connection_id: attached.connection_id,
        }),
    )
    .await;
    // The master's reader task takes the close in; until it has, the
    // attach is answered "reuse"; from then on the relay is asked again.
    let mut id = 5;
    let connect = loop {
        attach_holding(
            &client,
            id,
            "d",
            ticket.clone(),
            vec![attached.connection_id],
        )
        .await;
        id += 1;
        tokio::select! {
            kind = reply(&client) => match kind {
                broker_reply::Kind::Storage(a) if a.reuse => tokio::task::yield_now().await,
                other => panic!("expected reuse or a new connect, got {other:?}"),
            },
            (connect, _) = relay_connect(&relay) => break connect,
        }
    };
    assert_ne!(connect.request_id, attached.connection_id);
}

/// A delivery into a mailbox that an owner homed on another host shares:
/// the recipient's deliver ticket is relayed to the owner's host as it is
/// (whose gateway and storage process admit it by the owner's ACLs).
#[tokio::test]
async fn another_users_delivery_ticket_is_relayed_to_the_owners_host() {
    let s = Setup::new();
    let relay = s.relay();
    let client = s.client(1);
    let ticket = s.ticket_of_scope("a", Scope::Deliver);
    attach_holding(&client, 1, "d", ticket.clone(), vec![]).await;
    let (connect, _relay_fd) = relay_connect(&relay).await;
    assert_eq!(
        (connect.owner.as_str(), connect.ticket.as_str()),
        ("d", ticket.as_str())
    );
}

#[tokio::test]
async fn the_gateway_channel_gets_no_relayed_connection_and_no_auth() {
    let s = Setup::new();
    let relay = s.relay();
    let gateway = s.gateway(9);
    attach_holding(&gateway, 1, "d", s.ticket("d"), vec![]).await;
    assert_eq!(refused(reply(&gateway).await), RefusalCode::Refused);
    let auth = BrokerRequest {
        id: 2,
        kind: Some(broker_request::Kind::ConnectAuth(ConnectAuth {})),
    };
    send_frame(&gateway, &auth, None).await.unwrap();
    assert_eq!(refused(reply(&gateway).await), RefusalCode::Refused);
    assert!(
        !has_reply(&relay),
        "the gateway's request reached the relay"
    );
}
