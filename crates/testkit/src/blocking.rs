//! The same client for synchronous tests (the end-to-end tests, the
//! benchmarks): each [`BlockingClient`] drives a [`Client`] on a private
//! current-thread runtime. Not for use inside async code (a runtime cannot
//! block inside another); there, use [`Client`] itself.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::runtime::Runtime;

use crate::client::{Client, ClientError, Part};
use crate::commands::append::Append;
use crate::reply::Reply;
use crate::response::Response;

/// A blocking IMAP client: one connection, one private runtime.
pub struct BlockingClient<S = TcpStream> {
    runtime: Runtime,
    client: Client<S>,
}

impl BlockingClient<TcpStream> {
    /// Connects to `addr` (giving up after `timeout`), reads the greeting
    /// (which must be `* OK` or `* PREAUTH`) and uses `timeout` for every
    /// later wait too.
    pub fn connect(addr: SocketAddr, timeout: Duration) -> Result<Self, ClientError> {
        let runtime = runtime()?;
        let client = runtime.block_on(async {
            let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
                .await
                .map_err(|_| ClientError::Timeout {
                    waited: timeout,
                    unread: Vec::new(),
                })??;
            stream.set_nodelay(true)?;
            let mut client = Client::new(stream);
            client.set_timeout(Some(timeout));
            client.read_greeting().await?;
            Ok::<_, ClientError>(client)
        })?;
        Ok(BlockingClient { runtime, client })
    }

    /// Ends the connection without LOGOUT: shuts down the sending side,
    /// so the server reads end-of-file.
    pub fn close(&mut self) {
        use tokio::io::AsyncWriteExt;
        let _ = self.runtime.block_on(self.client.stream_mut().shutdown());
    }
}

/// A current-thread runtime with I/O and timers.
fn runtime() -> Result<Runtime, ClientError> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

impl<S: AsyncRead + AsyncWrite + Unpin> BlockingClient<S> {
    /// A blocking client over a stream made in `make` on the client's own
    /// runtime (a tokio stream must be registered with the runtime that
    /// drives it); the greeting is read.
    pub fn over<F>(make: F) -> Result<Self, ClientError>
    where
        F: AsyncFnOnce() -> std::io::Result<S>,
    {
        let runtime = runtime()?;
        let client = runtime.block_on(async {
            let mut client = Client::new(make().await?);
            client.read_greeting().await?;
            Ok::<_, ClientError>(client)
        })?;
        Ok(BlockingClient { runtime, client })
    }

    /// Runs `f` on the async client, for steps this facade does not offer.
    pub fn with<T>(&mut self, f: impl AsyncFnOnce(&mut Client<S>) -> T) -> T {
        self.runtime.block_on(f(&mut self.client))
    }

    /// The async client.
    pub fn client(&mut self) -> &mut Client<S> {
        &mut self.client
    }

    /// The same client over a new layer on its stream, made by `wrap` on
    /// the client's runtime (see [`Client::upgrade`]): TLS after STARTTLS,
    /// deflate after COMPRESS.
    pub fn upgrade<T: AsyncRead + AsyncWrite + Unpin>(
        self,
        wrap: impl AsyncFnOnce(S, Vec<u8>) -> std::io::Result<T>,
    ) -> Result<BlockingClient<T>, ClientError> {
        let BlockingClient { runtime, client } = self;
        let client = runtime.block_on(client.upgrade(wrap))?;
        Ok(BlockingClient { runtime, client })
    }

    /// The greeting.
    pub fn greeting(&self) -> Option<&Response> {
        self.client.greeting()
    }

    /// Sets how long any one wait for the server may take.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.client.set_timeout(Some(timeout));
    }

    /// See [`Client::tag`].
    pub fn tag(&mut self) -> String {
        self.client.tag()
    }

    /// See [`Client::send`].
    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        self.runtime.block_on(self.client.send(bytes))
    }

    /// See [`Client::send_command`].
    pub fn send_command(&mut self, command: &str) -> Result<String, ClientError> {
        self.runtime.block_on(self.client.send_command(command))
    }

    /// See [`Client::read_response`].
    pub fn read_response(&mut self) -> Result<Response, ClientError> {
        self.runtime.block_on(self.client.read_response())
    }

    /// See [`Client::response_ready`].
    pub fn response_ready(&mut self) -> Result<Option<Response>, ClientError> {
        self.runtime.block_on(self.client.response_ready())
    }

    /// See [`Client::read_reply`].
    pub fn read_reply(&mut self, tag: &str) -> Result<Reply, ClientError> {
        self.runtime.block_on(self.client.read_reply(tag))
    }

    /// See [`Client::run`].
    pub fn run(&mut self, command: &str) -> Result<Reply, ClientError> {
        self.runtime.block_on(self.client.run(command))
    }

    /// Runs `command` and returns its reply, panicking (with the reply)
    /// unless it is OK.
    #[track_caller]
    pub fn ok(&mut self, command: &str) -> Reply {
        let r = self
            .run(command)
            .unwrap_or_else(|e| panic!("{command}: {e}"));
        assert!(r.is_ok(), "{command} failed:\n{r:?}");
        r
    }

    /// See [`Client::run_parts`].
    pub fn run_parts(&mut self, parts: &[Part<'_>]) -> Result<Reply, ClientError> {
        self.runtime.block_on(self.client.run_parts(parts))
    }

    /// See [`Client::login`].
    pub fn login(&mut self, user: &str, password: &str) -> Result<Reply, ClientError> {
        self.runtime.block_on(self.client.login(user, password))
    }

    /// See [`Client::authenticate`].
    pub fn authenticate(
        &mut self,
        mechanism: &str,
        initial: Option<&[u8]>,
        respond: impl FnMut(&[u8]) -> Option<Vec<u8>>,
    ) -> Result<Reply, ClientError> {
        self.runtime
            .block_on(self.client.authenticate(mechanism, initial, respond))
    }

    /// See [`Client::append`].
    pub fn append(
        &mut self,
        mailbox: &str,
        flags: &[&str],
        message: &[u8],
    ) -> Result<Reply, ClientError> {
        self.runtime
            .block_on(self.client.append(mailbox, flags, message))
    }

    /// See [`Client::append_with`].
    pub fn append_with(&mut self, append: &Append<'_>) -> Result<Reply, ClientError> {
        self.runtime.block_on(self.client.append_with(append))
    }

    /// Starts IDLE (see [`Client::idle`]).
    pub fn idle(&mut self) -> Result<BlockingIdle<'_, S>, ClientError> {
        let BlockingClient { runtime, client } = self;
        let idle = runtime.block_on(client.idle())?;
        Ok(BlockingIdle { runtime, idle })
    }

    /// LOGOUT, asserting the `* BYE` and the tagged OK.
    #[track_caller]
    pub fn logout(mut self) {
        let r = self.run("LOGOUT").unwrap_or_else(|e| panic!("LOGOUT: {e}"));
        assert!(r.is_ok() && r.has_bye(), "LOGOUT:\n{r:?}");
    }

    /// See [`Client::read_until_closed`].
    pub fn read_until_closed(&mut self) -> Result<Vec<u8>, ClientError> {
        self.runtime.block_on(self.client.read_until_closed())
    }
}

/// A blocking client in IDLE; see [`crate::Idle`].
pub struct BlockingIdle<'c, S> {
    runtime: &'c Runtime,
    idle: crate::commands::idle::Idle<'c, S>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> BlockingIdle<'_, S> {
    /// The responses before the server's `+`.
    pub fn before(&self) -> &[Response] {
        &self.idle.before
    }

    /// The next response.
    pub fn next_response(&mut self) -> Result<Response, ClientError> {
        self.runtime.block_on(self.idle.next_response())
    }

    /// Reads until a response satisfies `want`; returns all read.
    pub fn wait_for(
        &mut self,
        want: impl FnMut(&Response) -> bool,
    ) -> Result<Vec<Response>, ClientError> {
        self.runtime.block_on(self.idle.wait_for(want))
    }

    /// The next response if it is there already.
    pub fn ready(&mut self) -> Result<Option<Response>, ClientError> {
        self.runtime.block_on(self.idle.ready())
    }

    /// DONE, and the IDLE command's reply.
    pub fn done(self) -> Result<Reply, ClientError> {
        self.runtime.block_on(self.idle.done())
    }
}
