//! A session's first call goes out on a warm storage channel while the
//! broker is still being asked for the owner's process (the broker here is
//! the test kit's services behind a gate a test opens): it is answered
//! without the broker's answer, and a warm channel whose process does not
//! serve the owner sends the call to the broker's answer instead.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use mailkeep_frontend::{AnyConnector, AuthLink, Clock, ConnectError, Connector, KeepWarm};
use mailkeep_storage_rpc::auth::auth_client::AuthClient;
use mailkeep_storage_rpc::leased::LeasedChannel;
use mailkeep_storage_rpc::socket_channel::SocketChannel;
use mailkeep_testkit::Services;
use tokio::sync::{Notify, watch};

use super::{PASSWORD, USER, connect, message, services};
use crate::cmd::fetch::cache::FetchCache;
use crate::process::Process;
use crate::settings::ImapSettings;

/// The services, with storage attaches that wait for a gate and are
/// counted, and (when set) a warm channel of its own to offer.
#[derive(Clone)]
struct Gated {
    services: Services,
    /// Whether attaches are answered (held while false).
    gate: Arc<watch::Sender<bool>>,
    asked: Arc<AtomicUsize>,
    answered: Arc<AtomicUsize>,
    /// Offered as warm for every owner (instead of none).
    warm: Arc<std::sync::Mutex<Option<LeasedChannel>>>,
    /// Notified when a warm channel is asked for.
    warm_asked: Arc<Notify>,
}

impl Gated {
    fn new(services: Services) -> Gated {
        Gated {
            services,
            gate: Arc::new(watch::Sender::new(true)),
            asked: Arc::default(),
            answered: Arc::default(),
            warm: Arc::default(),
            warm_asked: Arc::default(),
        }
    }

    /// Holds every attach from now on until [`Gated::open`].
    fn close(&self) {
        self.gate.send_replace(false);
    }

    fn open(&self) {
        self.gate.send_replace(true);
    }
}

impl Connector for Gated {
    async fn auth(&self) -> Result<AuthClient<SocketChannel>, ConnectError> {
        self.services.auth().await
    }

    async fn storage(&self, ticket: &str, owner: &str) -> Result<LeasedChannel, ConnectError> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        let mut gate = self.gate.subscribe();
        gate.wait_for(|open| *open).await.expect("the gate");
        let channel = self.services.storage(ticket, owner).await;
        self.answered.fetch_add(1, Ordering::SeqCst);
        channel
    }

    fn warm_storage(&self, _owner: &str) -> Option<LeasedChannel> {
        self.warm_asked.notify_one();
        self.warm.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    async fn end_session(&self, ticket: &str) {
        self.services.end_session(ticket).await;
    }
}

/// How long a step that must not wait for the broker may take before the
/// test fails instead of hanging (never reached when it passes).
const GUARD: Duration = Duration::from_secs(60);

fn process_over(connector: impl Connector) -> Arc<Process> {
    Arc::new(Process {
        settings: ImapSettings::default(),
        auth: Arc::new(AuthLink::new(AnyConnector::new(connector))),
        clock: Clock::system(),
        tls: None,
        plugin_commands: Default::default(),
        fetch_cache: FetchCache::new(ImapSettings::default().fetch_cache_bytes),
    })
}

#[tokio::test]
async fn the_first_call_goes_out_on_the_warm_channel_before_the_broker_answers() {
    let services = services().await;
    for subject in ["one", "two"] {
        services
            .append(USER, "INBOX", &[], &message(subject, "body"))
            .await
            .expect("APPEND");
    }
    let gated = Gated::new(services);
    let process = process_over(KeepWarm::new(gated.clone(), Duration::from_secs(600)));

    // The first session gets the owner's channel from the broker; it stays
    // warm after the session.
    let mut first = connect(&process).await;
    assert!(first.login(USER, PASSWORD).await.expect("LOGIN").is_ok());
    let reply = first.run("SELECT INBOX").await.expect("SELECT");
    assert_eq!(reply.exists(), Some(2), "{reply:?}");
    assert!(first.run("LOGOUT").await.expect("LOGOUT").is_ok());
    assert_eq!(gated.answered.load(Ordering::SeqCst), 1);

    // The broker answers nothing now: the next session's SELECT is
    // answered all the same, over the warm channel, while its attach waits.
    gated.close();
    let mut second = connect(&process).await;
    assert!(second.login(USER, PASSWORD).await.expect("LOGIN").is_ok());
    let reply = tokio::time::timeout(GUARD, second.run("SELECT INBOX"))
        .await
        .expect("the SELECT waited for the broker")
        .expect("SELECT");
    assert!(reply.is_ok(), "{reply:?}");
    assert_eq!(reply.exists(), Some(2), "{reply:?}");
    assert_eq!(
        gated.asked.load(Ordering::SeqCst),
        2,
        "the attach was asked"
    );
    assert_eq!(
        gated.answered.load(Ordering::SeqCst),
        1,
        "the SELECT was answered before the broker answered the attach"
    );

    // Later calls use the broker's answer, once it comes.
    gated.open();
    let reply = second.run("FETCH 1:* (FLAGS)").await.expect("FETCH");
    assert_eq!(reply.fetches().len(), 2, "{reply:?}");
    assert_eq!(gated.answered.load(Ordering::SeqCst), 2);
    assert!(second.run("LOGOUT").await.expect("LOGOUT").is_ok());
}

#[tokio::test]
async fn a_warm_channel_of_a_process_not_serving_the_owner_falls_back_to_the_broker() {
    let services = services().await;
    services
        .add_user("bob", "bobs-secret")
        .await
        .expect("adding bob");
    services
        .append(USER, "INBOX", &[], &message("alice's", "body"))
        .await
        .expect("APPEND");
    let gated = Gated::new(services.clone());
    // Bob's process, offered as warm for alice: it refuses her calls as
    // not served.
    let bobs = services
        .storage(&services.ticket("bob"), "bob")
        .await
        .expect("bob's process");
    *gated.warm.lock().expect("the warm slot") = Some(bobs);
    let process = process_over(gated.clone());

    let mut client = connect(&process).await;
    gated.close();
    assert!(client.login(USER, PASSWORD).await.expect("LOGIN").is_ok());
    let (reply, ()) = tokio::join!(client.run("SELECT INBOX"), async {
        // The SELECT tries the warm channel (and is refused there) before
        // the broker answers.
        tokio::time::timeout(GUARD, gated.warm_asked.notified())
            .await
            .expect("the SELECT asked for no warm channel");
        gated.open();
    });
    let reply = reply.expect("SELECT");
    assert!(reply.is_ok(), "{reply:?}");
    assert_eq!(reply.exists(), Some(1), "alice's INBOX: {reply:?}");
    assert_eq!(gated.answered.load(Ordering::SeqCst), 1);
}
