//! One client's session (RFC 1939 §3): the AUTHORIZATION state until a
//! login opens the maildrop, then TRANSACTION until QUIT commits (the
//! UPDATE state) or the connection ends, which commits nothing.
//!
//! Commands are answered strictly in order; a client may pipeline them
//! (RFC 2449 PIPELINING): replies are flushed only when no further
//! complete command is waiting.

use std::io;
use std::sync::Arc;

use mailkeep_frontend::{
    Admission, ConnInfo, ConnReader, ConnWriter, Connection, ReadError, SessionEnd, Traffic,
};
use tokio::time::Instant;

use crate::maildrop::{IDLE_AHEAD, Maildrop, Unavailable};
use crate::parse::{Command, parse};
use crate::process::Process;
use crate::reply::{Reply, RespCode};

/// Where a session is (RFC 1939 §3).
pub(crate) enum State {
    /// Not logged in; the name a USER gave, waiting for PASS.
    Authorization(Option<String>),
    /// Logged in, with the maildrop as it was at login.
    Transaction(Box<Maildrop>),
}

/// Whether the session goes on after a command.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Flow {
    Continue,
    Close,
}

/// What the next line of input is.
enum Line {
    Command(Vec<u8>),
    /// Longer than the limit; its bytes were skipped up to its end.
    TooLong,
    Closed,
    TimedOut,
}

/// One client session.
pub(crate) struct Session {
    pub(crate) process: Arc<Process>,
    pub(crate) reader: ConnReader,
    pub(crate) writer: ConnWriter,
    pub(crate) info: ConnInfo,
    pub(crate) admission: Arc<Admission>,
    pub(crate) state: State,
    traffic: Arc<Traffic>,
    /// When the connection was accepted (the login timeout counts from it).
    started_at: Instant,
    commands: u64,
    /// The user last logged in, for the line at the end.
    pub(crate) user: Option<String>,
}

impl Session {
    /// A session on an accepted connection.
    pub(crate) fn new(process: Arc<Process>, connection: Connection) -> Session {
        let info = connection.info().clone();
        let admission = connection.admission();
        let traffic = connection.traffic();
        let (reader, writer) = connection.split();
        Session {
            process,
            reader,
            writer,
            info,
            admission,
            state: State::Authorization(None),
            traffic,
            started_at: Instant::now(),
            commands: 0,
            user: None,
        }
    }

    /// Serves the connection until QUIT, a close, or a failure.
    pub(crate) async fn run(mut self) -> io::Result<()> {
        let greeting = Reply::ok(format!(
            "{} mailkeep POP3 ready.",
            self.process.settings.hostname
        ));
        self.send(&greeting).await?;
        let result = self.serve().await;
        let _ = self.writer.flush().await;
        self.end().await;
        result
    }

    async fn serve(&mut self) -> io::Result<()> {
        loop {
            if !self.reader.buf().contains(&b'\n') {
                self.writer.flush().await?;
            }
            if self.idle_ahead().await? == Flow::Close {
                return Ok(());
            }
            let line = match self.next_line().await? {
                Line::Command(line) => line,
                Line::TooLong => {
                    self.send(&Reply::err("Line too long")).await?;
                    continue;
                }
                Line::Closed => return Ok(()),
                Line::TimedOut => {
                    self.send(&Reply::err("Disconnected for inactivity."))
                        .await?;
                    return Ok(());
                }
            };
            self.commands += 1;
            let command = match parse(&line) {
                Ok(command) => command,
                Err(e) => {
                    self.send(&Reply::err(e.to_string())).await?;
                    continue;
                }
            };
            if self.dispatch(command).await? == Flow::Close {
                return Ok(());
            }
        }
    }

    /// Runs one command in the current state.
    async fn dispatch(&mut self, command: Command) -> io::Result<Flow> {
        match (&mut self.state, command) {
            (_, Command::Capa) => {
                let logged_in = matches!(self.state, State::Transaction(_));
                let caps = self.process.capabilities(&self.info, logged_in);
                self.send_multiline(&Reply::ok("Capability list follows"), &caps)
                    .await?;
                Ok(Flow::Continue)
            }
            (State::Authorization(_), Command::Quit) => {
                self.send(&Reply::ok("Logging out.")).await?;
                Ok(Flow::Close)
            }
            (State::Authorization(_), Command::User(name)) => self.user_command(name).await,
            (State::Authorization(_), Command::Pass(password)) => self.pass_command(password).await,
            (State::Authorization(_), Command::Auth { mechanism, initial }) => {
                self.auth_command(mechanism, initial).await
            }
            (State::Authorization(_), Command::Apop) => {
                self.send(&Reply::err("APOP is not supported; use USER/PASS or AUTH"))
                    .await?;
                Ok(Flow::Continue)
            }
            (State::Authorization(_), Command::Stls) => self.stls_command().await,
            (State::Authorization(_), _) => {
                self.send(&Reply::err("Not logged in; log in first"))
                    .await?;
                Ok(Flow::Continue)
            }
            (State::Transaction(_), Command::Quit) => self.quit().await,
            (
                State::Transaction(_),
                Command::User(_)
                | Command::Pass(_)
                | Command::Apop
                | Command::Auth { .. }
                | Command::Stls,
            ) => {
                self.send(&Reply::err("Already logged in")).await?;
                Ok(Flow::Continue)
            }
            (State::Transaction(maildrop), command) => {
                let writer = self.writer.clone();
                maildrop.run(command, &writer).await
            }
        }
    }

    /// QUIT in TRANSACTION: the UPDATE state removes the deleted messages
    /// at once and durably, then the session ends: its ticket is revoked
    /// before the client is told so (as IMAP's LOGOUT), so that a ticket
    /// taken from this process reads no mail once the client has seen
    /// the `+OK`.
    async fn quit(&mut self) -> io::Result<Flow> {
        let State::Transaction(maildrop) = &self.state else {
            return Ok(Flow::Close);
        };
        let reply = match maildrop.commit().await {
            Ok(0) => Reply::ok("Logging out."),
            Ok(n) => Reply::ok(format!("Logging out, {n} messages deleted.")),
            Err(Unavailable(why)) => {
                tracing::warn!(error = %why, "QUIT: deleted messages not removed");
                Reply::err("Deleted messages could not be removed; try again later")
                    .code(RespCode::SysTemp)
            }
        };
        self.log_out().await;
        self.send(&reply).await?;
        Ok(Flow::Close)
    }

    /// Ends a logged-in session's login: its ticket is revoked (its
    /// maildrop lock, if any, goes with it). Nothing for a session not
    /// logged in (or logged out already).
    async fn log_out(&mut self) {
        if let State::Transaction(maildrop) =
            std::mem::replace(&mut self.state, State::Authorization(None))
        {
            maildrop.close().await;
            self.admission.log_out();
        }
    }

    /// The session's end: a logged-in session is logged out (see
    /// [`Session::log_out`]), and the line is logged.
    async fn end(&mut self) {
        self.log_out().await;
        SessionEnd {
            user: self.user.as_deref(),
            admission: &self.admission,
            started_at: self.started_at,
            traffic: &self.traffic,
            commands: self.commands,
        }
        .log();
    }

    /// While messages stream ahead of the client's RETRs, waits at most
    /// [`IDLE_AHEAD`] for its next bytes, then stops the stream (so
    /// storage holds nothing for an idle client). Waits for nothing when
    /// bytes are buffered already.
    async fn idle_ahead(&mut self) -> io::Result<Flow> {
        let State::Transaction(maildrop) = &mut self.state else {
            return Ok(Flow::Continue);
        };
        if !maildrop.reads_ahead() || !self.reader.buf().is_empty() {
            return Ok(Flow::Continue);
        }
        let now = Instant::now();
        let deadline = now + self.process.settings.idle_timeout;
        let ahead_until = now + IDLE_AHEAD;
        // One timer, for whichever comes first (this runs before every
        // command of a poller); a timeout loses no byte.
        match self.reader.fill(ahead_until.min(deadline)).await {
            Ok(_) => Ok(Flow::Continue),
            Err(ReadError::Timeout) if ahead_until < deadline => {
                maildrop.stop_reading_ahead();
                Ok(Flow::Continue)
            }
            Err(e) => match ended(e)? {
                Line::Closed | Line::TimedOut => Ok(Flow::Close),
                _ => Ok(Flow::Continue),
            },
        }
    }

    /// How long to wait for the client's next line.
    fn deadline(&self) -> Instant {
        let settings = &self.process.settings;
        match self.state {
            State::Authorization(_) => self.started_at + settings.login_timeout,
            State::Transaction(_) => Instant::now() + settings.idle_timeout,
        }
    }

    /// The next line, bounded by the line limit: a longer one is skipped
    /// to its end (nothing of it is taken for a command).
    async fn next_line(&mut self) -> io::Result<Line> {
        let max = self.process.settings.max_line;
        let deadline = self.deadline();
        match self.reader.read_line(max, deadline).await {
            Ok(Some(line)) => return Ok(Line::Command(line)),
            Ok(None) => {}
            Err(e) => return ended(e),
        }
        loop {
            let buf = self.reader.buf();
            if let Some(at) = buf.iter().position(|&b| b == b'\n') {
                self.reader.consume(at + 1);
                return Ok(Line::TooLong);
            }
            let all = buf.len();
            self.reader.consume(all);
            if let Err(e) = self.reader.fill(deadline).await {
                return ended(e);
            }
        }
    }

    /// Reads one line for a SASL exchange (a response to a challenge).
    pub(crate) async fn sasl_line(&mut self) -> io::Result<Option<Vec<u8>>> {
        Ok(match self.next_line().await? {
            Line::Command(line) => Some(line),
            Line::TooLong => Some(Vec::new()),
            Line::Closed | Line::TimedOut => None,
        })
    }

    /// Queues a status line.
    pub(crate) async fn send(&self, reply: &Reply) -> io::Result<()> {
        self.writer.write(&reply.encode()).await
    }

    /// Queues a status line and a multi-line body of text lines.
    pub(crate) async fn send_multiline(&self, reply: &Reply, lines: &[String]) -> io::Result<()> {
        let mut out = reply.encode();
        let mut body = crate::reply::DotStuffer::default();
        for line in lines {
            body.push(line.as_bytes(), &mut out);
            body.push(b"\r\n", &mut out);
        }
        body.finish(&mut out);
        self.writer.write(&out).await
    }
}

/// What a read error means for the session.
fn ended(e: ReadError) -> io::Result<Line> {
    match e {
        ReadError::Eof | ReadError::Closed => Ok(Line::Closed),
        ReadError::Timeout => Ok(Line::TimedOut),
        ReadError::Io(e) => Err(e),
        other => Err(io::Error::other(other.to_string())),
    }
}
