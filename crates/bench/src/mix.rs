//! The load generator: concurrent clients that each play a mail client's
//! sessions against one server, timing every command by kind.
//!
//! One session (what a desktop client does when it opens a connection to
//! check mail, then reads, files and writes a little):
//!
//! ```text
//! LOGIN
//! LIST "" "*"
//! STATUS <each other mailbox> (MESSAGES UIDNEXT UNSEEN)
//! ROUNDS times:
//!   SELECT INBOX
//!   UID FETCH 1:* (FLAGS)                                  flag resync
//!   UID FETCH <last 20> (UID RFC822.SIZE FLAGS INTERNALDATE ENVELOPE)
//!   UID FETCH <last 20> (BODYSTRUCTURE)
//!   UID FETCH <last 20> (BODY.PEEK[HEADER.FIELDS (FROM TO CC SUBJECT DATE
//!                                        MESSAGE-ID REFERENCES)])
//!   3 times: UID FETCH <a random message> (BODY.PEEK[])
//!            UID STORE <it> +FLAGS (\Seen)
//!   APPEND INBOX (\Seen) {n+}                              a sent copy
//!   IDLE ... DONE                                          (at once)
//!   UID STORE <the appended message> +FLAGS (\Deleted)
//!   EXPUNGE
//! LOGOUT
//! ```
//!
//! So the mailbox keeps its size, and every client of a user sees the
//! others' EXISTS and EXPUNGE responses, as clients of a shared account do.
//! The choices (which messages) come from a seeded generator per client:
//! both servers get the same sequence of commands. Every client runs a
//! fixed number of sessions and every wait is bounded by the timeout.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mailkeep_testkit::{Append, LiteralMode, Reply};

use crate::client::{self, Connection};
use crate::messages::{Rng, mixed_message};
use crate::servers::Account;
use crate::stats::Samples;

/// A kind of command, as the report groups them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// LOGIN.
    Login,
    /// LIST.
    List,
    /// STATUS.
    Status,
    /// SELECT.
    Select,
    /// UID FETCH 1:* (FLAGS).
    FetchFlags,
    /// UID FETCH of ENVELOPE and the list-view items.
    FetchEnvelope,
    /// UID FETCH (BODYSTRUCTURE).
    FetchBodystructure,
    /// UID FETCH (BODY.PEEK[HEADER.FIELDS (...)]).
    FetchHeaderFields,
    /// UID FETCH (BODY.PEEK[]).
    FetchBody,
    /// UID STORE.
    Store,
    /// APPEND.
    Append,
    /// IDLE and its DONE.
    Idle,
    /// EXPUNGE.
    Expunge,
    /// LOGOUT.
    Logout,
}

impl Kind {
    /// Every kind, in report order.
    pub const ALL: [Kind; 14] = [
        Kind::Login,
        Kind::List,
        Kind::Status,
        Kind::Select,
        Kind::FetchFlags,
        Kind::FetchEnvelope,
        Kind::FetchBodystructure,
        Kind::FetchHeaderFields,
        Kind::FetchBody,
        Kind::Store,
        Kind::Append,
        Kind::Idle,
        Kind::Expunge,
        Kind::Logout,
    ];

    /// The name in the report.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Login => "LOGIN",
            Kind::List => "LIST",
            Kind::Status => "STATUS",
            Kind::Select => "SELECT",
            Kind::FetchFlags => "FETCH FLAGS",
            Kind::FetchEnvelope => "FETCH ENVELOPE",
            Kind::FetchBodystructure => "FETCH BODYSTRUCTURE",
            Kind::FetchHeaderFields => "FETCH HEADER.FIELDS",
            Kind::FetchBody => "FETCH BODY.PEEK[]",
            Kind::Store => "STORE",
            Kind::Append => "APPEND",
            Kind::Idle => "IDLE+DONE",
            Kind::Expunge => "EXPUNGE",
            Kind::Logout => "LOGOUT",
        }
    }
}

/// What a run of the mix does.
#[derive(Debug, Clone)]
pub struct MixSettings {
    /// The server.
    pub addr: SocketAddr,
    /// The accounts; client `k` logs in as `accounts[k % len]`.
    pub accounts: Vec<Account>,
    /// Clients at once.
    pub clients: usize,
    /// Sessions each client runs, one after another.
    pub sessions_per_client: usize,
    /// Check-mail rounds per session (see the module doc).
    pub rounds_per_session: usize,
    /// The longest any one wait for the server may take.
    pub timeout: Duration,
    /// Seeds the clients' choices.
    pub seed: u64,
}

/// What a run measured.
#[derive(Debug, Clone, Default)]
pub struct MixRun {
    /// Wall time from the first connection to the last LOGOUT.
    pub elapsed: Duration,
    /// The latency of every command that got a tagged OK, by kind.
    pub samples: BTreeMap<Kind, Samples>,
    /// Commands that failed (NO, BAD, no answer, lost connection), by kind.
    pub failures: BTreeMap<Kind, usize>,
    /// The first few failures, as text.
    pub first_errors: Vec<String>,
    /// Sessions that ran to their LOGOUT.
    pub sessions_completed: usize,
    /// From each session's connect to the server's greeting: no
    /// command, so in no command figure, but time a client waits (a
    /// server that starts processes per connection spends it there).
    pub connects: Samples,
    /// Every client's wall time together (clients times the run's wall
    /// time), the whole of which a client spends waiting for the server
    /// or deciding (see [`MixRun::share_in_connects`]).
    pub client_time: Duration,
    /// Paced runs ([`run_paced`]): sessions that started later than the
    /// pace said, because as many as allowed were still open.
    pub late_starts: usize,
}

/// Failures kept as text.
const KEPT_ERRORS: usize = 10;

impl MixRun {
    /// Commands that got a tagged OK.
    pub fn commands(&self) -> usize {
        self.samples.values().map(Samples::len).sum()
    }

    /// Commands that failed.
    pub fn failed(&self) -> usize {
        self.failures.values().sum()
    }

    /// Commands per second over the whole run.
    pub fn rate(&self) -> f64 {
        self.commands() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The latencies of every kind together.
    pub fn overall(&self) -> Samples {
        let mut all = Samples::new();
        for s in self.samples.values() {
            all.extend(s);
        }
        all
    }

    /// The part of the clients' time spent waiting for connections and
    /// greetings: where it is large, the command latencies are those of
    /// a server that few clients reach at once.
    pub fn share_in_connects(&self) -> f64 {
        self.connects.total().as_secs_f64() / self.client_time.as_secs_f64().max(1e-9)
    }

    /// Adds `other`'s figures (another round of the same settings):
    /// elapsed times add up, so that [`MixRun::rate`] is over both.
    pub fn merge(&mut self, other: &MixRun) {
        self.elapsed += other.elapsed;
        for (kind, s) in &other.samples {
            self.samples.entry(*kind).or_default().extend(s);
        }
        for (kind, n) in &other.failures {
            *self.failures.entry(*kind).or_default() += n;
        }
        for e in &other.first_errors {
            if self.first_errors.len() < KEPT_ERRORS {
                self.first_errors.push(e.clone());
            }
        }
        self.sessions_completed += other.sessions_completed;
        self.connects.extend(&other.connects);
        self.client_time += other.client_time;
        self.late_starts += other.late_starts;
    }

    fn record(&mut self, kind: Kind, took: Duration) {
        self.samples.entry(kind).or_default().push(took);
    }

    fn fail(&mut self, kind: Kind, why: String) {
        *self.failures.entry(kind).or_default() += 1;
        if self.first_errors.len() < KEPT_ERRORS {
            self.first_errors.push(format!("{}: {why}", kind.name()));
        }
    }
}

/// Runs the mix and returns what it measured.
pub async fn run(settings: &MixSettings) -> MixRun {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for k in 0..settings.clients {
        let settings = settings.clone();
        tasks.spawn(async move { client_loop(&settings, k).await });
    }
    let mut total = MixRun::default();
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(run) => total.merge(&run),
            Err(e) => total.fail(Kind::Logout, format!("a client task failed: {e}")),
        }
    }
    total.elapsed = started.elapsed();
    total.client_time = total.elapsed * u32::try_from(settings.clients).unwrap_or(u32::MAX);
    total
}

/// Runs `total` sessions started at a fixed pace, `per_second` of them a
/// second, whatever the server answers: an open loop, whose load does not
/// ease when the server slows, so that two servers are compared at the
/// same load (in [`run`]'s closed loop a faster server gets more
/// commands at once, and its latencies are those of a busier server).
/// Session `i` logs in as account `i` modulo their number. At most
/// `max_open` sessions are open at once; one that must wait for that
/// counts as late ([`MixRun::late_starts`]), a sign the pace is more
/// than the server sustains. `settings.clients` and
/// `settings.sessions_per_client` are not used.
pub async fn run_paced(
    settings: &MixSettings,
    per_second: f64,
    total: usize,
    max_open: usize,
) -> MixRun {
    let open = std::sync::Arc::new(tokio::sync::Semaphore::new(max_open.max(1)));
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / per_second.max(0.001)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let mut total_run = MixRun::default();
    for i in 0..total {
        tick.tick().await;
        let permit = match std::sync::Arc::clone(&open).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                total_run.late_starts += 1;
                match std::sync::Arc::clone(&open).acquire_owned().await {
                    Ok(permit) => permit,
                    Err(_) => break,
                }
            }
        };
        let settings = settings.clone();
        tasks.spawn(async move {
            let mut run = MixRun::default();
            let Some((account, mut rng)) = account_and_rng(&settings, i, &mut run) else {
                return run;
            };
            let opened = Instant::now();
            play_one(&settings, account, &mut run, &mut rng).await;
            // The clients' time is the sessions' own here.
            run.client_time = opened.elapsed();
            drop(permit);
            run
        });
    }
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(run) => total_run.merge(&run),
            Err(e) => total_run.fail(Kind::Logout, format!("a session task failed: {e}")),
        }
    }
    total_run.elapsed = started.elapsed();
    total_run
}

/// Client `k`'s sessions.
async fn client_loop(settings: &MixSettings, k: usize) -> MixRun {
    let mut run = MixRun::default();
    let Some((account, mut rng)) = account_and_rng(settings, k, &mut run) else {
        return run;
    };
    for _ in 0..settings.sessions_per_client {
        play_one(settings, account, &mut run, &mut rng).await;
    }
    run
}

/// Client `k`'s account (the accounts in turn) and its seeded choices;
/// `None`, counted as a failure in `run`, when there are no accounts.
fn account_and_rng<'s>(
    settings: &'s MixSettings,
    k: usize,
    run: &mut MixRun,
) -> Option<(&'s Account, Rng)> {
    let Some(account) = settings.accounts.get(k % settings.accounts.len().max(1)) else {
        run.fail(Kind::Login, "no accounts".into());
        return None;
    };
    let rng = Rng::new(settings.seed ^ (k as u64 + 1).wrapping_mul(0x5851_f42d_4c95_7f2d));
    Some((account, rng))
}

/// Plays one session as `account`, counting it in `run` when it ran to
/// its LOGOUT. A failure is counted where it happened; the next session
/// starts on a new connection.
async fn play_one(settings: &MixSettings, account: &Account, run: &mut MixRun, rng: &mut Rng) {
    let mut session = Session { run, rng };
    if session.play(settings, account).await.is_ok() {
        run.sessions_completed += 1;
    }
}

/// A failure that ends a session (its command is counted already).
struct SessionLost;

/// One session of one client.
struct Session<'a> {
    run: &'a mut MixRun,
    rng: &'a mut Rng,
}

impl Session<'_> {
    /// Runs `command`, timing it as `kind`: the reply if OK, `None` if the
    /// server refused it (counted), `Err` if the connection is unusable.
    async fn command(
        &mut self,
        c: &mut Connection,
        kind: Kind,
        command: &str,
    ) -> Result<Option<Reply>, SessionLost> {
        let started = Instant::now();
        let reply = c.run(command).await;
        self.finish(kind, command, started, reply)
    }

    /// Times and counts one command's outcome.
    fn finish(
        &mut self,
        kind: Kind,
        command: &str,
        started: Instant,
        reply: Result<Reply, mailkeep_testkit::ClientError>,
    ) -> Result<Option<Reply>, SessionLost> {
        let took = started.elapsed();
        match reply {
            Ok(reply) if reply.is_ok() => {
                self.run.record(kind, took);
                Ok(Some(reply))
            }
            Ok(reply) => {
                self.run
                    .fail(kind, format!("{command}: {:?}", reply.tagged));
                Ok(None)
            }
            Err(e) => {
                self.run.fail(kind, format!("{command}: {e}"));
                Err(SessionLost)
            }
        }
    }

    /// The session of the module doc.
    async fn play(&mut self, settings: &MixSettings, account: &Account) -> Result<(), SessionLost> {
        let started = Instant::now();
        let mut c = match client::connect(settings.addr, settings.timeout).await {
            Ok(c) => {
                self.run.connects.push(started.elapsed());
                c
            }
            Err(e) => {
                self.run.fail(Kind::Login, format!("connecting: {e}"));
                return Err(SessionLost);
            }
        };
        let login = format!(
            "LOGIN {} {}",
            mailkeep_testkit::quote(&account.name),
            mailkeep_testkit::quote(&account.password)
        );
        if self.command(&mut c, Kind::Login, &login).await?.is_none() {
            return Err(SessionLost);
        }
        let list = self.command(&mut c, Kind::List, "LIST \"\" \"*\"").await?;
        let others: Vec<String> = list
            .map(|r| {
                r.list("LIST")
                    .into_iter()
                    .filter(|m| !m.name.eq_ignore_ascii_case("INBOX"))
                    .map(|m| m.name)
                    .collect()
            })
            .unwrap_or_default();
        for name in others {
            let status = format!(
                "STATUS {} (MESSAGES UIDNEXT UNSEEN)",
                mailkeep_testkit::quote(&name)
            );
            self.command(&mut c, Kind::Status, &status).await?;
        }
        for _ in 0..settings.rounds_per_session {
            self.round(&mut c).await?;
        }
        self.command(&mut c, Kind::Logout, "LOGOUT").await?;
        Ok(())
    }

    /// One check-mail round on INBOX.
    async fn round(&mut self, c: &mut Connection) -> Result<(), SessionLost> {
        if self
            .command(c, Kind::Select, "SELECT INBOX")
            .await?
            .is_none()
        {
            return Err(SessionLost);
        }
        let flags = self
            .command(c, Kind::FetchFlags, "UID FETCH 1:* (FLAGS)")
            .await?;
        let mut uids: Vec<u32> = flags
            .map(|r| r.fetches().iter().filter_map(|f| f.uid()).collect())
            .unwrap_or_default();
        uids.sort_unstable();
        if let Some(&first) = uids.iter().rev().nth(19).or(uids.first()) {
            let window = format!("{first}:*");
            let list_view =
                format!("UID FETCH {window} (UID RFC822.SIZE FLAGS INTERNALDATE ENVELOPE)");
            self.command(c, Kind::FetchEnvelope, &list_view).await?;
            let structure = format!("UID FETCH {window} (BODYSTRUCTURE)");
            self.command(c, Kind::FetchBodystructure, &structure)
                .await?;
            let headers = format!(
                "UID FETCH {window} (BODY.PEEK[HEADER.FIELDS (FROM TO CC SUBJECT DATE \
                 MESSAGE-ID REFERENCES)])"
            );
            self.command(c, Kind::FetchHeaderFields, &headers).await?;
        }
        for _ in 0..3 {
            let Some(&uid) = uids.get(self.rng.below(uids.len())) else {
                break;
            };
            let body = format!("UID FETCH {uid} (BODY.PEEK[])");
            self.command(c, Kind::FetchBody, &body).await?;
            let seen = format!("UID STORE {uid} +FLAGS (\\Seen)");
            self.command(c, Kind::Store, &seen).await?;
        }
        let message = mixed_message(self.rng.below(200));
        let append = Append::new("INBOX", &message)
            .flags(&["\\Seen"])
            .literal(LiteralMode::NonSync);
        let started = Instant::now();
        let reply = c.append_with(&append).await;
        let appended = self
            .finish(Kind::Append, "APPEND", started, reply)?
            .and_then(|r| r.appenduid())
            .map(|(_, uid)| uid);
        let started = Instant::now();
        let idle = match c.idle().await {
            Ok(idle) => idle.done().await,
            Err(e) => Err(e),
        };
        self.finish(Kind::Idle, "IDLE", started, idle)?;
        if let Some(uid) = appended {
            let delete = format!("UID STORE {uid} +FLAGS (\\Deleted)");
            self.command(c, Kind::Store, &delete).await?;
            self.command(c, Kind::Expunge, "EXPUNGE").await?;
        }
        Ok(())
    }
}

/// Per-kind and overall figures of two runs side by side (mailkeep,
/// then the baseline if any), as report lines.
pub fn report(ours: &MixRun, theirs: Option<&MixRun>, label: &str) -> Vec<String> {
    use crate::report::{Better, line, ms};
    let mut out = Vec::new();
    out.push(line(
        &format!("{label}: commands/s"),
        "cmd/s",
        ours.rate(),
        theirs.map(MixRun::rate),
        Better::Higher,
    ));
    let mut kinds: Vec<(String, Samples, Option<Samples>)> = vec![(
        "all commands".into(),
        ours.overall(),
        theirs.map(MixRun::overall),
    )];
    for kind in Kind::ALL {
        let Some(s) = ours.samples.get(&kind) else {
            continue;
        };
        kinds.push((
            kind.name().to_owned(),
            s.clone(),
            theirs.and_then(|t| t.samples.get(&kind).cloned()),
        ));
    }
    kinds.push((
        "CONNECT+GREETING (no command)".into(),
        ours.connects.clone(),
        theirs.map(|t| t.connects.clone()),
    ));
    for (name, s, t) in kinds {
        for (p, pick) in [("p50", 50.0), ("p99", 99.0)] {
            let Some(o) = s.percentile(pick) else {
                continue;
            };
            out.push(line(
                &format!("{label}: {name} {p} (n={})", s.len()),
                "ms",
                ms(o),
                t.as_ref().and_then(|t| t.percentile(pick)).map(ms),
                Better::Lower,
            ));
        }
    }
    out.push(line(
        &format!("{label}: clients' time in connect+greeting"),
        "%",
        ours.share_in_connects() * 100.0,
        theirs.map(|t| t.share_in_connects() * 100.0),
        Better::Lower,
    ));
    out
}
