//! Clients in IDLE that report every `* n EXISTS` they get, with the
//! moment it arrived, and the appender that measures how long after its
//! APPEND's tagged OK each of them heard of the new message.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mailkeep_testkit::{Append, LiteralMode};
use tokio::sync::{mpsc, watch};

use crate::client::{self, Connection};
use crate::error::BenchError;
use crate::servers::Account;
use crate::stats::Samples;

/// An EXISTS an idler got: `(idler, count, when)`.
pub type Heard = (usize, u32, Instant);

/// A client logged in, INBOX selected, in IDLE, passing on what it hears.
pub struct Idler {
    task: tokio::task::JoinHandle<Result<(), BenchError>>,
}

/// Idlers and what they hear.
pub struct Idlers {
    idlers: Vec<Idler>,
    heard: mpsc::UnboundedReceiver<Heard>,
    stop: watch::Sender<bool>,
    /// The INBOX's message count when they selected it.
    pub exists: u32,
}

impl Idlers {
    /// Logs `count` clients in as `account` (one after another, so that
    /// they are all in IDLE when this returns), each selecting INBOX and
    /// entering IDLE.
    pub async fn start(
        addr: SocketAddr,
        account: &Account,
        count: usize,
    ) -> Result<Idlers, BenchError> {
        let (tx, heard) = mpsc::unbounded_channel();
        let (stop, stopped) = watch::channel(false);
        let mut idlers = Vec::new();
        let mut exists = 0;
        for id in 0..count {
            let mut c = client::login(
                addr,
                Duration::from_secs(60),
                &account.name,
                &account.password,
            )
            .await?;
            let selected = client::ok(&mut c, "SELECT INBOX").await?;
            exists = selected.exists().unwrap_or(0);
            let tag = c
                .send_command("IDLE")
                .await
                .map_err(|e| BenchError::client("IDLE", e))?;
            loop {
                let r = c
                    .read_response()
                    .await
                    .map_err(|e| BenchError::client("IDLE", e))?;
                if r.continuation().is_some() {
                    break;
                }
                if r.is_tagged(&tag) {
                    return Err(BenchError::Refused {
                        what: "IDLE".into(),
                        answer: format!("{r:?}"),
                    });
                }
            }
            let task = tokio::spawn(listen(c, id, tag, tx.clone(), stopped.clone()));
            idlers.push(Idler { task });
        }
        Ok(Idlers {
            idlers,
            heard,
            stop,
            exists,
        })
    }

    /// How many idlers there are.
    pub fn len(&self) -> usize {
        self.idlers.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.idlers.is_empty()
    }

    /// Waits (at most `limit`) until every idler has heard of at least
    /// `count` messages; when each did, `None` for those that did not.
    pub async fn wait_all(&mut self, count: u32, limit: Duration) -> Vec<Option<Instant>> {
        let mut when: Vec<Option<Instant>> = vec![None; self.idlers.len()];
        let deadline = tokio::time::Instant::now() + limit;
        while when.iter().any(Option::is_none) {
            match tokio::time::timeout_at(deadline, self.heard.recv()).await {
                Ok(Some((id, n, at))) => {
                    if n >= count
                        && let Some(slot) = when.get_mut(id)
                        && slot.is_none()
                    {
                        *slot = Some(at);
                    }
                }
                Ok(None) | Err(_) => break,
            }
        }
        when
    }

    /// Ends IDLE (DONE) and logs every idler out; the failures.
    pub async fn finish(self) -> Vec<BenchError> {
        let _ = self.stop.send(true);
        let mut errors = Vec::new();
        for idler in self.idlers {
            match idler.task.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => errors.push(e),
                Err(e) => errors.push(BenchError::Refused {
                    what: "an idler".into(),
                    answer: e.to_string(),
                }),
            }
        }
        errors
    }
}

/// An idler's loop: passes on each EXISTS until told to stop, then DONE
/// and LOGOUT.
async fn listen(
    mut c: Connection,
    id: usize,
    tag: String,
    heard: mpsc::UnboundedSender<Heard>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), BenchError> {
    // Waits are bounded by the stop signal, which the benchmark sends.
    c.set_timeout(None);
    loop {
        tokio::select! {
            r = c.read_response() => {
                let r = r.map_err(|e| BenchError::client("reading in IDLE", e))?;
                if let Some(data) = r.data()
                    && data.is("EXISTS")
                    && let Some(n) = data.number
                {
                    let _ = heard.send((id, n, Instant::now()));
                }
            }
            _ = stop.changed() => break,
        }
    }
    c.set_timeout(Some(Duration::from_secs(30)));
    end_idle(c, &tag).await
}

/// Ends a connection's IDLE (`tag` is the IDLE's): DONE must be answered
/// OK; then logs out.
pub async fn end_idle(mut c: Connection, tag: &str) -> Result<(), BenchError> {
    c.send(b"DONE\r\n")
        .await
        .map_err(|e| BenchError::client("DONE", e))?;
    let reply = c
        .read_reply(tag)
        .await
        .map_err(|e| BenchError::client("DONE", e))?;
    if !reply.is_ok() {
        return Err(BenchError::Refused {
            what: "IDLE".into(),
            answer: format!("{:?}", reply.tagged),
        });
    }
    let _ = c.logout().await;
    Ok(())
}

/// What [`measure`] found.
#[derive(Debug, Default, Clone)]
pub struct Delays {
    /// From each APPEND's tagged OK (or LMTP's 250) to each idler's
    /// EXISTS (0 when the EXISTS came first).
    pub delays: Samples,
    /// EXISTS that arrived before the appender had its tagged OK.
    pub before_ok: usize,
    /// EXISTS that never came within the wait.
    pub missing: usize,
}

/// Appends `appends` messages from `appender`, one after another, each
/// once every idler heard of the one before, and records the delays.
/// `expected` is the INBOX's message count before the first; it is
/// advanced past every append.
pub async fn measure(
    appender: &mut Connection,
    idlers: &mut Idlers,
    appends: usize,
    expected: &mut u32,
    message: &[u8],
) -> Result<Delays, BenchError> {
    let mut found = Delays::default();
    for _ in 0..appends {
        let append = Append::new("INBOX", message).literal(LiteralMode::NonSync);
        let reply = appender
            .append_with(&append)
            .await
            .map_err(|e| BenchError::client("APPEND", e))?;
        let ok_at = Instant::now();
        if !reply.is_ok() {
            return Err(BenchError::Refused {
                what: "APPEND".into(),
                answer: format!("{:?}", reply.tagged),
            });
        }
        *expected += 1;
        found.record(idlers, *expected, ok_at).await;
    }
    Ok(found)
}

impl Delays {
    /// Waits until every idler heard of `expected` messages and records how
    /// long after `ok_at` (when the writer was told the message was
    /// stored: APPEND's OK, LMTP's 250) each did.
    pub async fn record(&mut self, idlers: &mut Idlers, expected: u32, ok_at: Instant) {
        for heard in idlers.wait_all(expected, Duration::from_secs(10)).await {
            match heard {
                Some(at) if at < ok_at => {
                    self.before_ok += 1;
                    self.delays.push(Duration::ZERO);
                }
                Some(at) => self.delays.push(at - ok_at),
                None => self.missing += 1,
            }
        }
    }
}
