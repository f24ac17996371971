//! One LMTP client, from greeting to QUIT: the command loop and the
//! transaction state (RFC 2033, RFC 5321 §3.3). Replies to pipelined
//! commands are written as each command is handled and sent when the
//! client's input runs dry (RFC 2920).

use std::sync::Arc;
use std::time::Duration;

use mailkeep_frontend::{ConnReader, ConnWriter, Connection, ReadError};
use tokio::time::Instant;

use crate::address::Recipient;
use crate::command::{Command, MAX_COMMAND_LINE, ParseError, parse};
use crate::data::{DotDecoder, Received};
use crate::deliver::{Mailbox, resolve};
use crate::fanout::Fanout;
use crate::process::Process;
use crate::reply::Reply;
use crate::trace::Transaction;

/// Where the session is (RFC 5321 §4.1.4).
enum State {
    /// Greeted; no LHLO yet.
    Greeted,
    /// After LHLO, no transaction.
    Ready,
    /// After MAIL FROM.
    Mail(Envelope),
}

/// One transaction's envelope.
struct Envelope {
    from: String,
    recipients: Vec<Mailbox>,
    /// RCPTs given, accepted or not (for the recipient limit).
    rcpt_count: usize,
    /// The BDAT transfer, `None` before the first chunk.
    chunks: Option<Chunks>,
}

/// A message coming in BDAT chunks.
struct Chunks {
    /// Where the chunks stream; `None` once they took the message over the
    /// limit (the rest is read and dropped).
    fanout: Option<Fanout>,
    /// Bytes so far.
    size: u64,
}

/// Why the session ends.
enum End {
    Quit,
    Gone,
}

/// Serves `connection` to the end.
pub async fn run(process: Arc<Process>, connection: Connection) {
    let peer = connection.info().peer.to_string();
    let (reader, writer) = connection.split();
    let mut session = Session {
        process,
        reader,
        writer,
        peer,
        lhlo: String::new(),
    };
    match session.serve().await {
        Ok(End::Quit) => {
            let _ = session.writer.shutdown().await;
        }
        Ok(End::Gone) => {}
        Err(e) => tracing::debug!(error = %e, "lmtp session ended"),
    }
}

struct Session {
    process: Arc<Process>,
    reader: ConnReader,
    writer: ConnWriter,
    peer: String,
    lhlo: String,
}

impl Session {
    fn deadline(&self) -> Instant {
        Instant::now() + self.process.settings.timeout
    }

    async fn reply(&self, reply: &Reply) -> std::io::Result<()> {
        let mut out = Vec::new();
        reply.encode(&mut out);
        self.writer.write(&out).await
    }

    async fn serve(&mut self) -> std::io::Result<End> {
        let hostname = self.process.settings.hostname.clone();
        self.reply(&Reply::new(
            220,
            "",
            format!("{hostname} mailkeep LMTP ready"),
        ))
        .await?;
        let mut state = State::Greeted;
        loop {
            // Pipelining: answers go out when the client waits for them.
            if self.reader.buf().is_empty() {
                self.writer.flush().await?;
            }
            let line = match self.read_command().await {
                Ok(line) => line,
                Err(ReadError::Timeout) => {
                    self.reply(&Reply::timeout()).await?;
                    self.writer.flush().await?;
                    return Ok(End::Gone);
                }
                Err(_) => return Ok(End::Gone),
            };
            let command = match line.map(|l| parse(&l)) {
                Some(Ok(command)) => command,
                Some(Err(e)) => {
                    self.reply(&parse_refusal(&e)).await?;
                    continue;
                }
                None => {
                    self.reply(&parse_refusal(&ParseError::TooLong)).await?;
                    continue;
                }
            };
            state = match self.command(state, command).await? {
                Some(next) => next,
                None => {
                    self.writer.flush().await?;
                    return Ok(End::Quit);
                }
            };
        }
    }

    /// The next command line; `None` when it was over the limit (it is
    /// read to its end and dropped).
    async fn read_command(&mut self) -> Result<Option<Vec<u8>>, ReadError> {
        let deadline = self.deadline();
        if let Some(line) = self.reader.read_line(MAX_COMMAND_LINE, deadline).await? {
            return Ok(Some(line));
        }
        loop {
            let buf = self.reader.buf();
            if let Some(i) = memchr::memchr(b'\n', buf) {
                self.reader.consume(i + 1);
                return Ok(None);
            }
            let all = buf.len();
            self.reader.consume(all);
            self.reader.fill(deadline).await?;
        }
    }

    /// Handles one command in `state`; the next state, or `None` after QUIT.
    async fn command(&mut self, state: State, command: Command) -> std::io::Result<Option<State>> {
        let settings = &self.process.settings;
        let max = settings.max_message_size;
        let (reply, next) = match (command, state) {
            (Command::Quit, _) => {
                self.reply(&Reply::new(221, "2.0.0", "Bye")).await?;
                return Ok(None);
            }
            (Command::Lhlo { host }, _) => {
                self.lhlo = host;
                let mut lines = vec![settings.hostname.clone()];
                lines.extend(
                    [
                        "PIPELINING",
                        "ENHANCEDSTATUSCODES",
                        "8BITMIME",
                        "SMTPUTF8",
                        "CHUNKING",
                    ]
                    .map(str::to_owned),
                );
                lines.push(format!("SIZE {max}"));
                let reply = Reply {
                    code: 250,
                    status: "",
                    lines,
                };
                (reply, State::Ready)
            }
            (Command::Noop, state) => (Reply::ok("2.0.0", "Ok"), state),
            (Command::Rset, State::Greeted) => (Reply::ok("2.0.0", "Ok"), State::Greeted),
            (Command::Rset, _) => (Reply::ok("2.0.0", "Ok"), State::Ready),
            (Command::NotImplemented(name), state) => (
                Reply::new(502, "5.5.1", format!("{name} is not implemented here")),
                state,
            ),
            (Command::Mail { .. }, State::Greeted) => {
                (Reply::bad_sequence("Send LHLO first"), State::Greeted)
            }
            (Command::Mail { .. }, state @ State::Mail(_)) => {
                (Reply::bad_sequence("Nested MAIL command"), state)
            }
            (Command::Mail { from, size, .. }, State::Ready) => {
                if size > max {
                    (Reply::too_big(max), State::Ready)
                } else {
                    let envelope = Envelope {
                        from,
                        recipients: Vec::new(),
                        rcpt_count: 0,
                        chunks: None,
                    };
                    (Reply::ok("2.1.0", "Ok"), State::Mail(envelope))
                }
            }
            (Command::Rcpt { to }, State::Mail(mut envelope)) => {
                let reply = self.recipient(&mut envelope, &to).await;
                (reply, State::Mail(envelope))
            }
            (Command::Rcpt { .. }, state) => (Reply::bad_sequence("Send MAIL first"), state),
            (Command::Data, State::Mail(envelope)) if envelope.chunks.is_some() => (
                Reply::bad_sequence("DATA cannot follow BDAT"),
                State::Mail(envelope),
            ),
            (Command::Data, State::Mail(envelope)) if envelope.recipients.is_empty() => (
                Reply::bad_sequence("No valid recipients"),
                State::Mail(envelope),
            ),
            (Command::Data, State::Mail(envelope)) => {
                self.reply(&Reply::new(
                    354,
                    "",
                    "Start mail input; end with <CRLF>.<CRLF>",
                ))
                .await?;
                self.writer.flush().await?;
                let mut fanout = self.fanout(&envelope);
                let Some(received) = self.read_data(&mut fanout).await else {
                    // Gone mid-DATA: nothing was committed.
                    tracing::info!(peer = %self.peer, "client left during DATA; nothing delivered");
                    return Ok(None);
                };
                self.finish(&envelope, Some(fanout), received).await?;
                return Ok(Some(State::Ready));
            }
            (Command::Data, state) => (Reply::bad_sequence("Send MAIL first"), state),
            (Command::Bdat { size, last }, state) => {
                return self.bdat(state, size, last).await;
            }
        };
        self.reply(&reply).await?;
        Ok(Some(next))
    }

    /// RCPT TO: looks the recipient up and keeps it if it can be delivered.
    async fn recipient(&self, envelope: &mut Envelope, to: &str) -> Reply {
        let settings = &self.process.settings;
        envelope.rcpt_count += 1;
        if envelope.recipients.len() >= settings.max_recipients {
            return Reply::too_many_recipients(settings.max_recipients);
        }
        let rcpt = Recipient::parse(to, &settings.recipient_delimiter);
        let process = &self.process;
        match resolve(process, rcpt).await {
            Ok(mailbox) => {
                envelope.recipients.push(mailbox);
                Reply::ok("2.1.5", "Ok")
            }
            Err(reply) => reply,
        }
    }

    /// Starts streaming the message to every recipient of `envelope`.
    fn fanout(&self, envelope: &Envelope) -> Fanout {
        let id = self.process.next_id();
        let date = self.process.clock_date();
        let transaction = Transaction {
            from: &envelope.from,
            lhlo: &self.lhlo,
            peer: &self.peer,
            hostname: &self.process.settings.hostname,
            id: &id,
            date: &date,
        };
        Fanout::start(
            &envelope.recipients,
            &transaction,
            self.process.settings.plugins.clone(),
        )
    }

    /// Reads the message after DATA's 354 into `fanout` as it comes (so at
    /// most a chunk is held here); `None` if the client went away.
    async fn read_data(&mut self, fanout: &mut Fanout) -> Option<Received> {
        let mut decoder = DotDecoder::new(self.process.settings.max_message_size);
        loop {
            let used = decoder.feed(self.reader.buf());
            self.reader.consume(used);
            if decoder.is_done() || decoder.decoded_len() >= mailkeep_storage_rpc::CHUNK_SIZE {
                fanout.write(&decoder.take_decoded()).await;
            }
            if decoder.is_done() {
                return Some(decoder.finish());
            }
            // The client may hold the end of the message (the dot line)
            // until what it sent is acknowledged.
            self.reader.acknowledge_received();
            let deadline = self.deadline();
            if self.reader.fill(deadline).await.is_err() {
                return None;
            }
        }
    }

    /// BDAT: reads the chunk, and after the last one delivers.
    async fn bdat(
        &mut self,
        state: State,
        size: u64,
        last: bool,
    ) -> std::io::Result<Option<State>> {
        let max = self.process.settings.max_message_size;
        let mut env = match state {
            State::Mail(envelope) if !envelope.recipients.is_empty() => envelope,
            other => {
                // The chunk comes anyway; read and drop it.
                if !self.read_chunk(size, None).await {
                    return Ok(None);
                }
                let (reply, next) = match other {
                    State::Greeted => (Reply::bad_sequence("Send MAIL first"), State::Greeted),
                    State::Ready => (Reply::bad_sequence("Send MAIL first"), State::Ready),
                    State::Mail(e) => (Reply::bad_sequence("No valid recipients"), State::Mail(e)),
                };
                self.reply(&reply).await?;
                return Ok(Some(next));
            }
        };
        if env.chunks.is_none() {
            env.chunks = Some(Chunks {
                fanout: Some(self.fanout(&env)),
                size: 0,
            });
        }
        let Some(chunks) = env.chunks.as_mut() else {
            return Ok(Some(State::Mail(env)));
        };
        chunks.size = chunks.size.saturating_add(size);
        if chunks.size > max {
            // Dropped: nothing of it is stored.
            chunks.fanout = None;
        }
        let kept = self.read_chunk(size, chunks.fanout.as_mut()).await;
        if !kept {
            tracing::info!(peer = %self.peer, "client left during BDAT; nothing delivered");
            return Ok(None);
        }
        if !last {
            self.reply(&Reply::ok("2.0.0", format!("{size} octets received")))
                .await?;
            return Ok(Some(State::Mail(env)));
        }
        let fanout = env.chunks.take().and_then(|c| c.fanout);
        let received = if fanout.is_some() {
            Received::Message(Vec::new())
        } else {
            Received::TooBig
        };
        self.finish(&env, fanout, received).await?;
        Ok(Some(State::Ready))
    }

    /// Reads `size` bytes of a BDAT chunk, streaming them into `keep` if
    /// given (else they are dropped); false if the client went away first.
    async fn read_chunk(&mut self, size: u64, mut keep: Option<&mut Fanout>) -> bool {
        let mut left = size;
        loop {
            let buf = self.reader.buf();
            let n = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
            if let Some(keep) = keep.as_deref_mut() {
                keep.write(&buf[..n]).await;
            }
            self.reader.consume(n);
            left -= n as u64;
            if left == 0 {
                return true;
            }
            self.reader.acknowledge_received();
            let deadline = self.deadline();
            if self.reader.fill(deadline).await.is_err() {
                return false;
            }
        }
    }

    /// Commits the received message to every accepted recipient (or
    /// refuses it) and writes one reply per recipient, in RCPT order
    /// (RFC 2033 §4.2).
    async fn finish(
        &mut self,
        envelope: &Envelope,
        fanout: Option<Fanout>,
        received: Received,
    ) -> std::io::Result<()> {
        let max = self.process.settings.max_message_size;
        let count = envelope.recipients.len();
        // A refused message's fanout is dropped uncommitted: nothing stored.
        let (replies, delivered) = match (received, fanout) {
            (Received::BareLf, _) => (vec![Reply::bare_lf(); count], Vec::new()),
            (Received::Message(_), Some(fanout)) => {
                let (replies, delivered) = fanout.commit().await;
                for (mailbox, reply) in envelope.recipients.iter().zip(&replies) {
                    if reply.is_temporary() {
                        // Ask auth and the broker afresh next time.
                        self.process.recipients.forget(&mailbox.recipient.address);
                    }
                }
                (replies, delivered)
            }
            (Received::TooBig | Received::Message(_), _) => {
                (vec![Reply::too_big(max); count], Vec::new())
            }
        };
        let written = self.write_replies(&replies).await;
        // Stored whether or not the client is still there to hear it.
        for copy in &delivered {
            copy.log();
        }
        written
    }

    /// Writes `replies` and flushes them.
    async fn write_replies(&mut self, replies: &[Reply]) -> std::io::Result<()> {
        for reply in replies {
            self.reply(reply).await?;
        }
        self.writer.flush().await
    }
}

/// The reply to a line that is no command.
fn parse_refusal(e: &ParseError) -> Reply {
    match e {
        ParseError::Unknown => Reply::syntax("Unknown command"),
        ParseError::TooLong => Reply::syntax("Line too long"),
        ParseError::BadLineEnd => Reply::syntax("Command lines end with CRLF"),
        ParseError::Syntax(usage) => Reply::bad_arguments(format!("Syntax: {usage}")),
        ParseError::BadSender => Reply::new(501, "5.1.7", "Invalid sender address"),
        ParseError::BadRecipient => Reply::new(501, "5.1.3", "Invalid recipient address"),
        ParseError::BadParameter(p) => Reply::bad_arguments(format!("Invalid {p} parameter")),
        ParseError::UnsupportedParameter(p) => {
            Reply::new(555, "5.5.4", format!("Unsupported parameter {p}"))
        }
    }
}

/// How long a client may be silent (RFC 5321 §4.5.3.2 suggests minutes).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);
