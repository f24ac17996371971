//! The in-process services: a login through the real auth, a storage
//! connection through the Connector as the broker would give it, and mail
//! appended and read back through the storage RPC of a real storage
//! process.

use mailkeep_frontend::Connector;
use mailkeep_storage_rpc::broker::RefusalCode;
use mailkeep_storage_rpc::fetch_items::FetchItems;
use mailkeep_storage_rpc::metadata::with_ticket;
use mailkeep_storage_rpc::storage::{FetchRequest, MailboxStatusRequest, UidRange, fetch_item};
use mailkeep_testkit::Services;

const MESSAGE: &[u8] = b"Subject: kit\r\nMessage-ID: <kit@test>\r\n\r\nThrough the kit.\r\n";

#[tokio::test]
async fn a_login_attaches_real_storage_that_appends_and_fetches() {
    let services = Services::start().await.unwrap();
    services.add_user("alice", "a-secret").await.unwrap();
    let login = services.login("alice", "a-secret").await.unwrap();
    assert_eq!(login.user, "alice");

    let mut client = services
        .storage_client(&login.ticket, "alice")
        .await
        .unwrap();
    let uid = services
        .append("alice", "INBOX", &["\\Flagged"], MESSAGE)
        .await
        .unwrap();
    let status = client
        .mailbox_status(with_ticket(
            MailboxStatusRequest {
                owner: "alice".into(),
                name: "INBOX".into(),
                ..Default::default()
            },
            &login.ticket,
        ))
        .await
        .unwrap()
        .into_inner()
        .status
        .unwrap();
    assert_eq!(status.messages, 1);

    let request = FetchRequest {
        owner: "alice".into(),
        mailbox: "INBOX".into(),
        uidvalidity: status.uidvalidity,
        uids: vec![UidRange {
            first: 1,
            last: u32::MAX,
        }],
        body: true,
        cuts: Vec::new(),
        ..Default::default()
    };
    let stream = client
        .fetch(with_ticket(request, &login.ticket))
        .await
        .unwrap()
        .into_inner();
    let (mut body, mut fetched) = (Vec::new(), Vec::new());
    let mut stream = FetchItems::new(stream);
    while let Some(item) = stream.next().await.unwrap() {
        match Some(item) {
            Some(fetch_item::Item::Message(m)) => fetched.push((m.uid, m.flags)),
            Some(fetch_item::Item::BodyChunk(c)) => body.extend_from_slice(&c),
            other => panic!("no cuts were asked for: {other:?}"),
        }
    }
    assert_eq!(fetched, [(uid, vec!["\\Flagged".to_owned()])]);
    assert_eq!(body, MESSAGE);
    // The message is a file in alice's Maildir under the kit's directory.
    let files = std::fs::read_dir(services.maildir("alice").join("cur"))
        .unwrap()
        .count();
    assert_eq!(files, 1);
    assert_eq!(services.attaches("alice"), 2, "one per storage connection");
}

#[tokio::test]
async fn a_wrong_password_gets_no_ticket() {
    let services = Services::start().await.unwrap();
    services.add_user("alice", "a-secret").await.unwrap();
    let e = services.login("alice", "wrong").await.unwrap_err();
    assert!(e.to_string().contains("login of \"alice\" failed"), "{e}");
}

#[tokio::test]
async fn storage_is_refused_as_the_broker_refuses_it() {
    let services = Services::start().await.unwrap();
    services.add_user("alice", "a-secret").await.unwrap();
    services.add_user("bob", "b-secret").await.unwrap();
    let bob = services.login("bob", "b-secret").await.unwrap();
    let other_key = mailkeep_ticket::HostKey::generate();
    let forged = mailkeep_ticket::sign(
        &other_key,
        &mailkeep_ticket::Claims::new(
            "alice",
            mailkeep_ticket::Scope::Session,
            mailkeep_ticket::now_unix(),
            60,
            "elsewhere",
        ),
    );
    let code = |r: Result<_, mailkeep_frontend::ConnectError>| match r {
        Ok(_) => panic!("a connection was handed out"),
        Err(e) => e.code,
    };
    assert_eq!(
        code(Connector::storage(&services, &forged, "alice").await),
        RefusalCode::Unauthenticated
    );
    let nobody = services.ticket("nobody");
    assert_eq!(
        code(Connector::storage(&services, &nobody, "nobody").await),
        RefusalCode::Refused
    );
    assert_eq!(services.attaches("alice"), 0);
    // Bob's session reaches alice's storage as a guest: there alice's
    // ACLs decide what he sees.
    Connector::storage(&services, &bob.ticket, "alice")
        .await
        .expect("a guest's connection");
    assert_eq!(services.attaches("alice"), 1);
    // So does a delivery to bob: it may post into a mailbox of alice's
    // where she granted bob 'p' (her storage process decides).
    let bob_delivers = services.deliver_ticket("bob");
    Connector::storage(&services, &bob_delivers, "alice")
        .await
        .expect("a deliverer's connection");
    assert_eq!(services.attaches("alice"), 2);
}

#[tokio::test]
async fn a_stopped_storage_process_breaks_its_connections_and_the_next_attach_starts_another() {
    let services = Services::start().await.unwrap();
    services.add_user("alice", "a-secret").await.unwrap();
    let ticket = services.ticket("alice");
    let mut client = services.storage_client(&ticket, "alice").await.unwrap();
    let status = |ticket: &str| {
        with_ticket(
            MailboxStatusRequest {
                owner: "alice".into(),
                name: "INBOX".into(),
                ..Default::default()
            },
            ticket,
        )
    };
    client.mailbox_status(status(&ticket)).await.unwrap();
    let load = services
        .wait_storage_load("alice", |l| l.connections == 1)
        .await
        .unwrap();
    assert_eq!(load.connections, 1);

    assert!(services.stop_storage("alice").await);
    let e = client.mailbox_status(status(&ticket)).await.unwrap_err();
    // As with a killed process: UNAVAILABLE once the channel has seen the
    // close, a transport error (UNKNOWN) for a call that races it.
    assert!(
        matches!(e.code(), tonic::Code::Unavailable | tonic::Code::Unknown),
        "{e:?}"
    );

    let mut again = services.storage_client(&ticket, "alice").await.unwrap();
    again.mailbox_status(status(&ticket)).await.unwrap();
    // The session's connection closing is reported as the master sees it.
    drop(again);
    drop(client);
    services
        .wait_storage_load("alice", |l| l.connections == 0)
        .await
        .unwrap();
}

/// Session tests can run on tokio's paused clock: auth's failed-login
/// delay (waited before the next attempt) passes in virtual time, and no timer fires early while storage
/// works on its blocking threads (tokio holds the clock while they run).
#[tokio::test(start_paused = true)]
async fn the_services_run_on_the_paused_clock() {
    let services = Services::builder()
        .failure_delay(std::time::Duration::from_secs(2))
        .start()
        .await
        .unwrap();
    services.add_user("alice", "a-secret").await.unwrap();
    let started = tokio::time::Instant::now();
    let far_timer = tokio::spawn(tokio::time::sleep(std::time::Duration::from_secs(3600)));
    assert!(services.login("alice", "wrong").await.is_err());
    // The failure's penalty is waited before the next attempt is checked.
    let login = services.login("alice", "a-secret").await.unwrap();
    assert!(started.elapsed() >= std::time::Duration::from_secs(2));
    services
        .append("alice", "INBOX", &[], MESSAGE)
        .await
        .unwrap();
    let mut client = services
        .storage_client(&login.ticket, "alice")
        .await
        .unwrap();
    let status = client
        .mailbox_status(with_ticket(
            MailboxStatusRequest {
                owner: "alice".into(),
                name: "INBOX".into(),
                ..Default::default()
            },
            &login.ticket,
        ))
        .await
        .unwrap()
        .into_inner()
        .status
        .unwrap();
    assert_eq!(status.messages, 1);
    assert!(
        !far_timer.is_finished(),
        "the clock jumped an hour while storage worked"
    );
    far_timer.abort();
}
