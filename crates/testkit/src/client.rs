//! The IMAP test client: commands out, parsed responses in, over any
//! byte stream (TCP, a UNIX socket, an in-memory duplex, TLS).
//!
//! Every wait for the server is bounded by the client's timeout (default
//! [`DEFAULT_TIMEOUT`]), so a silent server fails a test instead of hanging
//! it. Under tokio's paused clock a timeout would fire as soon as the
//! runtime idles (while the server waits on a blocking thread, say): turn it
//! off there with [`Client::set_timeout`]`(None)`.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::framing::{FramingError, Limits, response_len};
use crate::reply::Reply;
use crate::response::{Response, Status};
use crate::value::ParseError;

/// How long the client waits for the server by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a client operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The stream failed.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The server closed the connection.
    #[error("the server closed the connection (unread: {:?})", crate::value::preview(.unread))]
    Closed {
        /// What came after the last whole response.
        unread: Vec<u8>,
    },
    /// Nothing (or not enough) came within the timeout.
    #[error("no response within {waited:?} (unread: {:?})", crate::value::preview(.unread))]
    Timeout {
        /// The timeout.
        waited: Duration,
        /// What came after the last whole response.
        unread: Vec<u8>,
    },
    /// The server's bytes are not IMAP.
    #[error("unparsable response: {0}")]
    Parse(#[from] ParseError),
    /// A response over the client's limits.
    #[error(transparent)]
    Framing(#[from] FramingError),
    /// The server answered with a tagged response where a continuation
    /// request was needed (IDLE refused, say).
    #[error("refused: {0:?}")]
    Refused(Box<Reply>),
    /// The server sent something a step of a command cannot go on from.
    #[error("unexpected: {0}")]
    Unexpected(String),
}

impl ClientError {
    /// Whether the connection is gone: closed, reset, aborted, or a write
    /// into a closed socket.
    pub fn is_disconnect(&self) -> bool {
        use std::io::ErrorKind as K;
        match self {
            ClientError::Closed { .. } => true,
            ClientError::Io(e) => matches!(
                e.kind(),
                K::UnexpectedEof | K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe
            ),
            _ => false,
        }
    }
}

/// How a literal in a command is announced (RFC 9051 §4.3, RFC 7888,
/// RFC 3516).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiteralMode {
    /// `{n}`: wait for the server's `+` before sending the bytes.
    Sync,
    /// `{n+}` (LITERAL+ / LITERAL-): send the bytes at once.
    NonSync,
    /// `~{n}`: a literal8 (BINARY), waiting for `+`.
    Binary,
    /// `~{n+}`: a literal8 sent at once.
    BinaryNonSync,
}

impl LiteralMode {
    fn announce(self, size: usize) -> String {
        match self {
            LiteralMode::Sync => format!("{{{size}}}"),
            LiteralMode::NonSync => format!("{{{size}+}}"),
            LiteralMode::Binary => format!("~{{{size}}}"),
            LiteralMode::BinaryNonSync => format!("~{{{size}+}}"),
        }
    }

    fn waits(self) -> bool {
        matches!(self, LiteralMode::Sync | LiteralMode::Binary)
    }
}

/// A piece of a command with literals: text as written, or a literal.
#[derive(Debug, Clone, Copy)]
pub enum Part<'a> {
    /// Command text, sent as is (spaces included).
    Text(&'a str),
    /// A literal's bytes and how to announce them.
    Literal(&'a [u8], LiteralMode),
}

/// An IMAP client over `S`.
pub struct Client<S> {
    stream: S,
    /// Bytes received and not yet returned as responses.
    unread: Vec<u8>,
    next_tag: u32,
    timeout: Option<Duration>,
    limits: Limits,
    greeting: Option<Response>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    /// A client over a stream whose greeting (if any) is still unread.
    pub fn new(stream: S) -> Client<S> {
        Client {
            stream,
            unread: Vec::new(),
            next_tag: 1,
            timeout: Some(DEFAULT_TIMEOUT),
            limits: Limits::default(),
            greeting: None,
        }
    }

    /// A client over a new connection: reads the greeting, which must be
    /// `* OK` or `* PREAUTH` (a `* BYE` greeting is an error holding it).
    pub async fn connect(stream: S) -> Result<Client<S>, ClientError> {
        let mut client = Client::new(stream);
        client.read_greeting().await?;
        Ok(client)
    }

    /// Reads the greeting (see [`Client::connect`]).
    pub async fn read_greeting(&mut self) -> Result<&Response, ClientError> {
        let greeting = self.read_response().await?;
        let fine = greeting
            .status()
            .is_some_and(|s| s.tag.is_none() && matches!(s.status, Status::Ok | Status::Preauth));
        if !fine {
            return Err(ClientError::Unexpected(format!("greeting {greeting:?}")));
        }
        Ok(self.greeting.insert(greeting))
    }

    /// The greeting, once read.
    pub fn greeting(&self) -> Option<&Response> {
        self.greeting.as_ref()
    }

    /// Sets how long any one wait for the server may take; `None` waits
    /// for ever (for tests on tokio's paused clock).
    pub fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.timeout = timeout;
    }

    /// The current timeout.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// Sets the bounds on line and literal sizes.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// The stream and any bytes received but not yet read as responses
    /// (after STARTTLS this must be empty: RFC 9051 §6.2.1).
    pub fn into_inner(self) -> (S, Vec<u8>) {
        (self.stream, self.unread)
    }

    /// The stream, for what the client does not do itself.
    pub fn stream_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    /// The same client over a new layer on its stream (TLS after STARTTLS,
    /// deflate after COMPRESS): `wrap` gets the stream and any bytes
    /// received but not yet read as responses, and returns the new stream.
    /// Tags go on where they were; timeout, limits and greeting are kept.
    pub async fn upgrade<T>(
        self,
        wrap: impl AsyncFnOnce(S, Vec<u8>) -> std::io::Result<T>,
    ) -> Result<Client<T>, ClientError> {
        let Client {
            stream,
            unread,
            next_tag,
            timeout,
            limits,
            greeting,
        } = self;
        let stream = match timeout {
            None => wrap(stream, unread).await?,
            Some(t) => tokio::time::timeout(t, wrap(stream, unread))
                .await
                .map_err(|_| ClientError::Timeout {
                    waited: t,
                    unread: Vec::new(),
                })??,
        };
        Ok(Client {
            stream,
            unread: Vec::new(),
            next_tag,
            timeout,
            limits,
            greeting,
        })
    }

    /// A fresh tag: `t1`, `t2`, ...
    pub fn tag(&mut self) -> String {
        let tag = format!("t{}", self.next_tag);
        self.next_tag += 1;
        tag
    }

    /// Sends raw bytes.
    pub async fn send(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        let write = async {
            self.stream.write_all(bytes).await?;
            self.stream.flush().await
        };
        match self.timeout {
            None => write.await?,
            Some(t) => {
                tokio::time::timeout(t, write)
                    .await
                    .map_err(|_| ClientError::Timeout {
                        waited: t,
                        unread: Vec::new(),
                    })??
            }
        }
        Ok(())
    }

    /// Sends `tag command CRLF` with a fresh tag and returns the tag, so
    /// that several commands can be pipelined before their replies are read.
    pub async fn send_command(&mut self, command: &str) -> Result<String, ClientError> {
        let tag = self.tag();
        self.send(format!("{tag} {command}\r\n").as_bytes()).await?;
        Ok(tag)
    }

    /// Reads the next response.
    pub async fn read_response(&mut self) -> Result<Response, ClientError> {
        match self.timeout {
            None => self.next_response().await,
            Some(t) => match tokio::time::timeout(t, self.next_response()).await {
                Ok(r) => r,
                Err(_) => Err(ClientError::Timeout {
                    waited: t,
                    unread: self.unread.clone(),
                }),
            },
        }
    }

    /// The next response if one is complete already or arrives without
    /// waiting; `None` otherwise. Nothing is lost either way.
    pub async fn response_ready(&mut self) -> Result<Option<Response>, ClientError> {
        // The read is cancel-safe (bytes stay in `unread`), so a zero
        // timeout only asks what is there now.
        match tokio::time::timeout(Duration::ZERO, self.next_response()).await {
            Ok(r) => r.map(Some),
            Err(_) => Ok(None),
        }
    }

    async fn next_response(&mut self) -> Result<Response, ClientError> {
        loop {
            if let Some(len) = response_len(&self.unread, &self.limits)? {
                let raw: Vec<u8> = self.unread.drain(..len).collect();
                return Ok(Response::parse(raw)?);
            }
            self.unread.reserve(64 * 1024);
            let n = self.stream.read_buf(&mut self.unread).await?;
            if n == 0 {
                return Err(ClientError::Closed {
                    unread: std::mem::take(&mut self.unread),
                });
            }
        }
    }

    /// Reads responses up to the one tagged `tag`.
    pub async fn read_reply(&mut self, tag: &str) -> Result<Reply, ClientError> {
        let mut responses = Vec::new();
        loop {
            let r = self.read_response().await?;
            if r.is_tagged(tag) {
                return Reply::new(responses, r).ok_or_else(|| {
                    ClientError::Unexpected("a tagged response without tag".into())
                });
            }
            responses.push(r);
        }
    }

    /// Reads the replies of commands sent together, which may end in any
    /// order (RFC 9051 §5.5); returned in the order of `tags`. Each untagged
    /// response goes with the first reply that ends after it.
    pub async fn read_replies(&mut self, tags: &[String]) -> Result<Vec<Reply>, ClientError> {
        let mut replies: Vec<Option<Reply>> = tags.iter().map(|_| None).collect();
        let mut responses = Vec::new();
        while replies.iter().any(Option::is_none) {
            let r = self.read_response().await?;
            let Some(i) = tags.iter().position(|t| r.is_tagged(t)) else {
                responses.push(r);
                continue;
            };
            let reply = Reply::new(std::mem::take(&mut responses), r)
                .ok_or_else(|| ClientError::Unexpected("a tagged response without tag".into()))?;
            if replies[i].replace(reply).is_some() {
                return Err(ClientError::Unexpected(format!("{} ended twice", tags[i])));
            }
        }
        Ok(replies.into_iter().flatten().collect())
    }

    /// Runs one command (without literals) and reads its reply.
    pub async fn run(&mut self, command: &str) -> Result<Reply, ClientError> {
        let tag = self.send_command(command).await?;
        self.read_reply(&tag).await
    }

    /// Runs a command made of text and literals. Before each synchronizing
    /// literal it waits for the server's `+`; a tagged answer instead (the
    /// server refused the literal: `NO [TOOBIG]`) ends the command and is
    /// returned.
    pub async fn run_parts(&mut self, parts: &[Part<'_>]) -> Result<Reply, ClientError> {
        let tag = self.tag();
        let mut out = format!("{tag} ").into_bytes();
        let mut before = Vec::new();
        for part in parts {
            match *part {
                Part::Text(text) => out.extend_from_slice(text.as_bytes()),
                Part::Literal(bytes, mode) => {
                    out.extend_from_slice(mode.announce(bytes.len()).as_bytes());
                    out.extend_from_slice(b"\r\n");
                    if mode.waits() {
                        self.send(&out).await?;
                        out.clear();
                        if let Some(reply) = self.until_continuation(&tag, &mut before).await? {
                            return Ok(reply);
                        }
                    }
                    out.extend_from_slice(bytes);
                }
            }
        }
        out.extend_from_slice(b"\r\n");
        self.send(&out).await?;
        let mut reply = self.read_reply(&tag).await?;
        before.append(&mut reply.responses);
        reply.responses = before;
        Ok(reply)
    }

    /// Reads up to a continuation request (`None`, kept in `seen`) or the
    /// tagged response to `tag` (its reply).
    async fn until_continuation(
        &mut self,
        tag: &str,
        seen: &mut Vec<Response>,
    ) -> Result<Option<Reply>, ClientError> {
        loop {
            let r = self.read_response().await?;
            if r.continuation().is_some() {
                seen.push(r);
                return Ok(None);
            }
            if r.is_tagged(tag) {
                return Ok(Reply::new(std::mem::take(seen), r));
            }
            seen.push(r);
        }
    }

    /// LOGIN with both arguments as quoted strings.
    pub async fn login(&mut self, user: &str, password: &str) -> Result<Reply, ClientError> {
        self.run(&format!("LOGIN {} {}", quote(user), quote(password)))
            .await
    }

    /// LOGOUT; the reply should hold a `* BYE` ([`Reply::has_bye`]).
    pub async fn logout(&mut self) -> Result<Reply, ClientError> {
        self.run("LOGOUT").await
    }

    /// Reads until the server closes the connection and returns what came
    /// (after any whole responses still unread).
    pub async fn read_until_closed(&mut self) -> Result<Vec<u8>, ClientError> {
        let mut got = std::mem::take(&mut self.unread);
        let read_all = async {
            loop {
                let mut buf = vec![0u8; 64 * 1024];
                match self.stream.read(&mut buf).await {
                    Ok(0) => return Ok(()),
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::ConnectionReset
                                | std::io::ErrorKind::ConnectionAborted
                        ) =>
                    {
                        return Ok(());
                    }
                    Err(e) => return Err(ClientError::Io(e)),
                }
            }
        };
        let done = match self.timeout {
            None => read_all.await,
            Some(t) => match tokio::time::timeout(t, read_all).await {
                Ok(r) => r,
                Err(_) => {
                    return Err(ClientError::Timeout {
                        waited: t,
                        unread: got,
                    });
                }
            },
        };
        done.map(|()| got)
    }
}

/// `s` as an IMAP quoted string. For test input only: a CR, LF or NUL
/// cannot be quoted and is sent as is, which a server must refuse.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}
