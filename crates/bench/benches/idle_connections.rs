//! 10,000 logged-in connections in IDLE from 5,000 distinct users, two
//! each (issue 8 §4), against mailkeep in its embedded default
//! configuration, and the same for Debian's Dovecot (at a smaller count by
//! default; its processes cost much more each): every connection logs in,
//! selects INBOX and enters IDLE; errors are counted (none allowed); the
//! server's memory is the PSS of its whole process tree
//! (`/proc/PID/smaps_rollup` of the master and every descendant, storage
//! processes included) before the first connection and while all idle;
//! per connection = (while − before) / connections. At the end every
//! connection ends IDLE (DONE must answer OK) and logs out.
//!
//! Settings changed from the embedded defaults: the listener's port (a
//! free one) and data directory, and `imap.max_connections` (1000 by
//! default, which would refuse the rest). `storage.mode` is the default
//! the default (`per-uid`) unless `MAILKEEP_BENCH_IDLE_MODES` lists others
//! (e.g. `per-user,shared`): each is run in turn; `default` sets none.
//!
//! `MAILKEEP_BENCH_IDLE_USERS` (default 5000) and
//! `MAILKEEP_BENCH_DOVECOT_IDLE_USERS` (default 500) set the users;
//! `MAILKEEP_BENCH_IDLE_PER_USER` (default 2) the connections of each.
//!
//! `MAILKEEP_BENCH_IDLE_BIN` runs another mailkeep binary than this
//! worktree's release build (a baseline copied aside, for an A/B run of
//! alternating binaries on the same machine).
//!
//! The master hands `MALLOC_ARENA_MAX` (its own setting, if any, in place
//! of 72 for a storage process and 2 for the others) and `GLIBC_TUNABLES`
//! of its environment, which it inherits from this benchmark, to every
//! process it starts, so glibc's allocator settings can be compared
//! without a rebuild, e.g. `MALLOC_ARENA_MAX=16
//! GLIBC_TUNABLES=glibc.malloc.mxfast=0:glibc.malloc.tcache_count=0`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mailkeep_bench::client::{self, Connection};
use mailkeep_bench::procs::{self, TreeMemory};
use mailkeep_bench::report::{machine_load, ratio};
use mailkeep_bench::servers::Account;
use mailkeep_bench::servers::dovecot::Dovecot;
use mailkeep_bench::servers::mailkeep::Mailkeep;
use mailkeep_bench::{BenchError, setup};
use tokio::sync::Semaphore;

const BIN: &str = env!("CARGO_BIN_EXE_mailkeep");
/// Logins in flight at once.
const LOGINS_AT_ONCE: usize = 64;
/// How long the connections idle before the memory is read, in seconds
/// (`MAILKEEP_BENCH_IDLE_SETTLE_SECS`): past storage.release_idle_secs
/// (30 by default), so that what an idle owner keeps is measured, not what
/// its login left open.
const SETTLE_SECS: usize = 40;
/// Target: server memory per idle connection.
const TARGET_KB: f64 = 20.0;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One server's figures.
struct Outcome {
    connections: usize,
    errors: Vec<String>,
    error_count: usize,
    before: TreeMemory,
    idle: TreeMemory,
    setup_time: Duration,
}

impl Outcome {
    fn per_connection_kb(&self) -> f64 {
        let grown = self.idle.pss_kib as f64 - self.before.pss_kib as f64;
        grown * 1.024 / self.connections.max(1) as f64
    }

    fn print(&self, name: &str) {
        println!(
            "{name}: {} connections in IDLE ({} errors) set up in {:.1} s",
            self.connections,
            self.error_count,
            self.setup_time.as_secs_f64()
        );
        for e in &self.errors {
            println!("  error: {e}");
        }
        println!(
            "{name}: PSS of the process tree before {:.1} MB ({} processes), while idling \
             {:.1} MB ({} processes): {:.1} KB per connection",
            self.before.pss_kib as f64 * 1.024 / 1000.0,
            self.before.processes(),
            self.idle.pss_kib as f64 * 1.024 / 1000.0,
            self.idle.processes(),
            self.per_connection_kb()
        );
        println!("{name}: while idling: {}", self.idle.breakdown());
        println!(
            "{name}: growth per connection by kind: {}",
            self.growth_by_kind()
        );
    }

    /// `kind +x KB` for each kind of process: how much its PSS grew per
    /// connection (the imap process's share is what its sessions hold).
    fn growth_by_kind(&self) -> String {
        self.idle
            .by_kind
            .iter()
            .map(|(kind, (_, kib))| {
                let before = self.before.by_kind.get(kind).map_or(0, |(_, k)| *k);
                let grown = *kib as f64 - before as f64;
                format!(
                    "{kind} {:+.1} KB",
                    grown * 1.024 / self.connections.max(1) as f64
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn main() {
    raise_fd_limit();
    println!("idle connections: machine load {} at start", machine_load());
    let users = env_number("MAILKEEP_BENCH_IDLE_USERS", 5000);
    let dovecot_users = env_number("MAILKEEP_BENCH_DOVECOT_IDLE_USERS", 500);
    let per_user = env_number("MAILKEEP_BENCH_IDLE_PER_USER", 2);
    let modes = std::env::var("MAILKEEP_BENCH_IDLE_MODES").unwrap_or_else(|_| "default".into());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");

    let mut results = Vec::new();
    for mode in modes.split(',').map(str::trim).filter(|m| !m.is_empty()) {
        let dir = setup::workdir("idle-connections-").expect("work directory");
        let accounts = Account::numbered("idle", users);
        let connections = users * per_user;
        // The embedded default serves 20,000 clients per imap process.
        let mut extra = String::new();
        let mut changed = Vec::new();
        if connections + 100 > 20_000 {
            extra.push_str(&format!(
                "[imap]\nmax_connections = {}\n",
                connections + 100
            ));
            changed.push(format!("imap.max_connections = {}", connections + 100));
        }
        if mode != "default" {
            extra.push_str(&format!("[storage]\nmode = \"{mode}\"\n"));
            changed.push(format!("storage.mode = {mode}"));
        }
        println!();
        println!(
            "mailkeep, storage.mode = {mode}: {users} users × {per_user} connections; settings \
             changed from the embedded defaults: listener port, data_dir{}{}",
            if changed.is_empty() { "" } else { ", " },
            changed.join(", ")
        );
        let bin = std::env::var("MAILKEEP_BENCH_IDLE_BIN").unwrap_or_else(|_| BIN.to_owned());
        let mailkeep = Mailkeep::start(bin.as_ref(), dir.path(), "mailkeep", &extra)
            .expect("starting mailkeep");
        mailkeep.add_plain_users(&accounts).expect("adding users");
        let pid = mailkeep.process().pid();
        let addr = mailkeep.process().addr();
        let outcome = runtime.block_on(idle_all(addr, pid, &accounts, per_user, Some(&mailkeep)));
        outcome.print(&format!("mailkeep ({mode})"));
        results.push((mode.to_owned(), outcome));
        drop(mailkeep);
    }

    let dovecot = if dovecot_users > 0 {
        let dir = setup::workdir("idle-connections-dovecot-").expect("work directory");
        let accounts = Account::numbered("idle", dovecot_users);
        let users: Vec<(String, String)> = accounts
            .iter()
            .map(|a| (a.name.clone(), format!("{{PLAIN}}{}", a.password)))
            .collect();
        match Dovecot::start(dir.path(), &users, dovecot_users * per_user) {
            Ok(d) => {
                println!();
                println!(
                    "baseline: Dovecot {}, {dovecot_users} users × {per_user} connections \
                     (process limits raised to match)",
                    d.version()
                );
                let outcome = runtime.block_on(idle_all(
                    d.process().addr(),
                    d.process().pid(),
                    &accounts,
                    per_user,
                    None,
                ));
                outcome.print("dovecot");
                drop(d);
                Some(outcome)
            }
            Err(e) => {
                println!("Dovecot baseline skipped: {e}");
                None
            }
        }
    } else {
        None
    };

    println!();
    for (mode, ours) in &results {
        let per = ours.per_connection_kb();
        match &dovecot {
            Some(theirs) => println!(
                "memory per idle connection, mailkeep ({mode}): {per:.1} KB at {} connections, \
                 dovecot {:.1} KB at {} connections, ratio mailkeep/dovecot {:.3} (lower is \
                 better)",
                ours.connections,
                theirs.per_connection_kb(),
                theirs.connections,
                ratio(per, theirs.per_connection_kb())
            ),
            None => println!(
                "memory per idle connection, mailkeep ({mode}): {per:.1} KB, dovecot skipped"
            ),
        }
        println!(
            "goal, mailkeep ({mode}): 0 errors and <= {TARGET_KB} KB per connection: {} ({} \
             errors, {per:.1} KB)",
            if ours.error_count == 0 && per <= TARGET_KB {
                "met"
            } else {
                "NOT met"
            },
            ours.error_count
        );
    }
    println!(
        "idle connections: machine load {} at the end",
        machine_load()
    );
}

/// Most open files asked for: two sockets per connection (ours and the
/// server's) and, when one storage process serves every user, about six
/// files per user's store (its SQLite index opened by a writer and the
/// readers, each with its WAL, and the shared-memory file).
const WANTED_FILES: u64 = 200_000;

/// Raises this process's open-file limit, which the servers inherit:
/// as root up to [`WANTED_FILES`] (bounded by the kernel's
/// `fs.nr_open`), otherwise to the hard limit. Prints what it got.
fn raise_fd_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return;
    };
    let ceiling = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|t| t.trim().parse::<u64>().ok())
        .unwrap_or(hard);
    let wanted = WANTED_FILES.min(ceiling).max(hard);
    if setrlimit(Resource::RLIMIT_NOFILE, wanted, wanted).is_err() && soft < hard {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    }
    let (now, now_hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap_or((soft, hard));
    println!(
        "open files: this process may have {now} (hard limit {now_hard}, was {soft}/{hard}); \
         the servers inherit it"
    );
}

/// One connection: LOGIN, SELECT INBOX, IDLE up to the `+`.
async fn idle_one(
    addr: std::net::SocketAddr,
    account: Account,
) -> Result<(Connection, String), BenchError> {
    let timeout = Duration::from_secs(120);
    let mut c = client::login(addr, timeout, &account.name, &account.password).await?;
    client::ok(&mut c, "SELECT INBOX").await?;
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
            return Ok((c, tag));
        }
        if r.is_tagged(&tag) {
            return Err(BenchError::Refused {
                what: "IDLE".into(),
                answer: format!("{r:?}"),
            });
        }
    }
}

/// Opens `per_user` idle connections for each of `accounts` against the
/// server whose tree is rooted at `pid`, measures, and closes them.
async fn idle_all(
    addr: std::net::SocketAddr,
    pid: u32,
    accounts: &[Account],
    per_user: usize,
    mailkeep: Option<&Mailkeep>,
) -> Outcome {
    // Memory before: the server up, its users known, no connection.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = procs::tree_memory(pid);
    let started = Instant::now();
    let gate = Arc::new(Semaphore::new(LOGINS_AT_ONCE));
    let mut tasks = tokio::task::JoinSet::new();
    // Each user's first connections, then their second ones.
    for _ in 0..per_user {
        for account in accounts.iter().cloned() {
            let gate = Arc::clone(&gate);
            tasks.spawn(async move {
                let _permit = gate.acquire_owned().await;
                idle_one(addr, account).await
            });
        }
    }
    let mut idle = Vec::new();
    let mut errors = Vec::new();
    let mut error_count = 0;
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(Ok(connection)) => idle.push(connection),
            Ok(Err(e)) => {
                error_count += 1;
                if errors.len() < 10 {
                    errors.push(e.to_string());
                }
            }
            Err(e) => {
                error_count += 1;
                errors.push(e.to_string());
            }
        }
    }
    let setup_time = started.elapsed();
    let settle = env_number("MAILKEEP_BENCH_IDLE_SETTLE_SECS", SETTLE_SECS);
    tokio::time::sleep(Duration::from_secs(settle as u64)).await;
    let during = procs::tree_memory(pid);
    if let Some(m) = mailkeep
        && let Ok(processes) = m.processes().await
    {
        let storage = processes.iter().filter(|p| p.role == "storage").count();
        let sessions: u32 = processes.iter().map(|p| p.sessions).sum();
        println!(
            "mailkeep's admin socket: {storage} storage processes, {sessions} sessions in \
             protocol processes"
        );
    }
    let connections = idle.len();
    // Every connection must still answer: DONE, then LOGOUT.
    let mut closing = tokio::task::JoinSet::new();
    for (c, tag) in idle {
        let gate = Arc::clone(&gate);
        closing.spawn(async move {
            let _permit = gate.acquire_owned().await;
            mailkeep_bench::idle::end_idle(c, &tag).await
        });
    }
    while let Some(done) = closing.join_next().await {
        let failed = match done {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(e) => Some(e.to_string()),
        };
        if let Some(e) = failed {
            error_count += 1;
            if errors.len() < 10 {
                errors.push(format!("at the end: {e}"));
            }
        }
    }
    Outcome {
        connections,
        errors,
        error_count,
        before,
        idle: during,
        setup_time,
    }
}
