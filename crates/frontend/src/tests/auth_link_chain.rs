//! The link's reply chain against an auth of the test's own (the real one
//! is in `mailkeep-auth`, which the imap tests drive): a link begins one
//! chain per connection and names an index per step; an auth that begins
//! none gets a reply key per step; a connection that broke is replaced,
//! with a new chain, by the next login; a call that may not be retried
//! fails once on a broken connection, and the next one connects afresh.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use mailkeep_storage_rpc::auth::auth_client::AuthClient;
use mailkeep_storage_rpc::auth::auth_server::{Auth, AuthServer};
use mailkeep_storage_rpc::auth::{
    DeliverRequest, DeliverResponse, OpenChainRequest, OpenChainResponse, RenewRequest,
    RenewResponse, StepRequest, StepResponse, Success, step_response,
};
use mailkeep_storage_rpc::leased::LeasedChannel;
use mailkeep_storage_rpc::socket_channel::{SocketChannel, socket_channel};
use mailkeep_ticket_seal::{Purpose, SealTo, SealerChain};
use tokio::task::JoinHandle;
use tonic::{Request, Response, Status};

use crate::sasl::{ClientFacts, SaslStep, login_with_password};
use crate::{AnyConnector, AuthLink, ConnectError, Connector};

const TICKET: &str = "mk2.Y2xhaW1z.c2lnbmF0dXJl";

/// What a step carried for its ticket: its reply key and its reply index.
type StepSeen = (Vec<u8>, u64);

/// A connection's server task and a descriptor of its server end.
type ServerOf = (JoinHandle<()>, std::os::fd::OwnedFd);

/// An auth that answers every step with a login of alice, sealed where
/// the step says, and begins chains only when told to.
#[derive(Clone, Default)]
struct FakeAuth {
    chains: bool,
    /// Each step's reply key and reply index, in order.
    steps: Arc<Mutex<Vec<StepSeen>>>,
    /// OpenChain calls answered.
    opened: Arc<AtomicUsize>,
    /// The chain of the latest connection that began one.
    sealer: Arc<Mutex<Option<SealerChain>>>,
}

impl FakeAuth {
    /// An auth that begins a reply chain on every connection.
    fn with_chains() -> FakeAuth {
        FakeAuth {
            chains: true,
            ..FakeAuth::default()
        }
    }
}

#[tonic::async_trait]
impl Auth for FakeAuth {
    async fn step(&self, request: Request<StepRequest>) -> Result<Response<StepResponse>, Status> {
        let step = request.into_inner();
        self.steps
            .lock()
            .unwrap()
            .push((step.reply_key.clone(), step.reply_index));
        let sealed = if step.reply_index != 0 {
            let key = self
                .sealer
                .lock()
                .unwrap()
                .as_mut()
                .ok_or_else(|| Status::invalid_argument("no chain"))?
                .key_for(step.reply_index)
                .map_err(|e| Status::invalid_argument(e.to_string()))?;
            key.seal(TICKET, Purpose::Login, "alice")
        } else {
            SealTo::from_bytes(&step.reply_key)
                .map_err(|e| Status::invalid_argument(e.to_string()))?
                .seal(TICKET, Purpose::Login, "alice")
        }
        .map_err(|e| Status::internal(e.to_string()))?;
        Ok(Response::new(StepResponse {
            outcome: Some(step_response::Outcome::Success(Success {
                user: "alice".into(),
                sealed_ticket: sealed,
                expires_unix: 2_000_000_000,
                final_data: Vec::new(),
                request_key: vec![7; 32],
            })),
        }))
    }

    async fn renew(&self, _: Request<RenewRequest>) -> Result<Response<RenewResponse>, Status> {
        Err(Status::unimplemented("not in this test"))
    }

    async fn deliver(
        &self,
        _: Request<DeliverRequest>,
    ) -> Result<Response<DeliverResponse>, Status> {
        Err(Status::unimplemented("not in this test"))
    }

    async fn open_chain(
        &self,
        request: Request<OpenChainRequest>,
    ) -> Result<Response<OpenChainResponse>, Status> {
        if !self.chains {
            return Err(Status::unimplemented("an auth without chains"));
        }
        let (chain, sealer_key) = SealerChain::begin(&request.into_inner().requester_key)
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        *self.sealer.lock().unwrap() = Some(chain);
        self.opened.fetch_add(1, Ordering::SeqCst);
        Ok(Response::new(OpenChainResponse { sealer_key }))
    }
}

/// Connects to a new server of the fake auth each time, and keeps each
/// connection's server end so that a test can break them (a killed auth).
#[derive(Clone)]
struct ToFake {
    auth: FakeAuth,
    servers: Arc<Mutex<Vec<ServerOf>>>,
}

impl ToFake {
    fn new(auth: FakeAuth) -> ToFake {
        ToFake {
            auth,
            servers: Arc::default(),
        }
    }

    /// Ends every server so far: their connections break.
    fn kill(&self) {
        for (server, end) in self.servers.lock().unwrap().drain(..) {
            server.abort();
            let _ = nix::sys::socket::shutdown(
                std::os::fd::AsRawFd::as_raw_fd(&end),
                nix::sys::socket::Shutdown::Both,
            );
        }
    }
}

impl Connector for ToFake {
    async fn auth(&self) -> Result<AuthClient<SocketChannel>, ConnectError> {
        let (ours, theirs) =
            tokio::net::UnixStream::pair().map_err(|e| ConnectError::unavailable(e.to_string()))?;
        let end = std::os::fd::AsFd::as_fd(&theirs)
            .try_clone_to_owned()
            .map_err(|e| ConnectError::unavailable(e.to_string()))?;
        let service = AuthServer::new(self.auth.clone());
        let server = tokio::spawn(async move {
            let incoming = tokio_stream::StreamExt::chain(
                tokio_stream::once(Ok::<_, std::io::Error>(theirs)),
                tokio_stream::pending(),
            );
            let _ = tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(incoming)
                .await;
        });
        self.servers.lock().unwrap().push((server, end));
        let channel = socket_channel(ours)
            .await
            .map_err(|e| ConnectError::unavailable(e.to_string()))?;
        Ok(AuthClient::new(channel))
    }

    async fn storage(&self, _: &str, _: &str) -> Result<LeasedChannel, ConnectError> {
        Err(ConnectError::unavailable("no storage in this test"))
    }
}

fn facts() -> ClientFacts {
    ClientFacts {
        remote_ip: "192.0.2.1".into(),
        protocol: "imap".into(),
        channel_binding: None,
    }
}

/// One login through `link`, whose ticket must open.
async fn login(link: &Arc<AuthLink>) {
    match login_with_password(Arc::clone(link), "alice", b"secret", facts()).await {
        SaslStep::Success(logged_in) => assert_eq!(logged_in.ticket.as_str(), TICKET),
        other => panic!("expected a login, got {other:?}"),
    }
}

#[tokio::test]
async fn a_link_begins_one_chain_and_names_an_index_per_step() {
    let auth = FakeAuth::with_chains();
    let link = Arc::new(AuthLink::new(AnyConnector::new(ToFake::new(auth.clone()))));
    login(&link).await;
    login(&link).await;
    assert_eq!(auth.opened.load(Ordering::SeqCst), 1);
    assert_eq!(
        *auth.steps.lock().unwrap(),
        vec![(Vec::new(), 1), (Vec::new(), 2)]
    );
    assert_eq!(link.next_chain_index().await, Some(3));
}

#[tokio::test]
async fn without_a_chain_each_step_carries_a_reply_key_of_its_own() {
    let auth = FakeAuth::default();
    let link = Arc::new(AuthLink::new(AnyConnector::new(ToFake::new(auth.clone()))));
    login(&link).await;
    login(&link).await;
    let steps = auth.steps.lock().unwrap().clone();
    assert_eq!(steps.len(), 2);
    for (key, index) in &steps {
        assert_eq!((key.len(), *index), (32, 0));
    }
    assert_ne!(steps[0].0, steps[1].0, "a key per step");
    assert_eq!(link.next_chain_index().await, None);
}

#[tokio::test]
async fn a_broken_connection_is_replaced_with_a_new_chain() {
    let auth = FakeAuth::with_chains();
    let connector = ToFake::new(auth.clone());
    let link = Arc::new(AuthLink::new(AnyConnector::new(connector.clone())));
    login(&link).await;
    connector.kill();
    // The first step fails on the dead connection and is tried again on
    // a new one, which begins a chain of its own.
    login(&link).await;
    assert_eq!(auth.opened.load(Ordering::SeqCst), 2);
    let steps = auth.steps.lock().unwrap().clone();
    assert_eq!(steps.last(), Some(&(Vec::new(), 1)));
    assert_eq!(link.next_chain_index().await, Some(2));
}

#[tokio::test]
async fn a_call_that_may_not_be_retried_fails_once_and_the_next_connects_afresh() {
    let auth = FakeAuth::with_chains();
    let connector = ToFake::new(auth.clone());
    let link = Arc::new(AuthLink::new(AnyConnector::new(connector.clone())));
    let step = |link: Arc<AuthLink>, retry: bool| async move {
        link.call(true, retry, |mut client, seal| async move {
            let request = StepRequest {
                reply_key: seal.reply_key,
                reply_index: seal.reply_index,
                ..StepRequest::default()
            };
            client.step(request).await
        })
        .await
    };
    let (_, reply) = step(Arc::clone(&link), false).await.expect("a first call");
    assert_eq!(reply.map(|r| r.reply_index()), Some(1));
    connector.kill();
    // A later step of an exchange continues what the lost auth kept: it
    // is not made again on a new connection...
    match step(Arc::clone(&link), false).await {
        Err(crate::auth_link::CallError::Failed(status)) => {
            assert!(crate::auth_link::connection_lost(&status), "{status:?}");
        }
        other => panic!("expected the lost connection's failure, got {other:?}"),
    }
    assert_eq!(auth.opened.load(Ordering::SeqCst), 1);
    // ...but the next call connects afresh, with a chain of its own.
    let (_, reply) = step(Arc::clone(&link), false)
        .await
        .expect("a call after it");
    assert_eq!(reply.map(|r| r.reply_index()), Some(1));
    assert_eq!(auth.opened.load(Ordering::SeqCst), 2);
    assert_eq!(auth.steps.lock().unwrap().len(), 2);
}
