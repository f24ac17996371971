//! The session mix (issue 8 §4): concurrent clients playing a mail
//! client's sessions (`mailkeep_bench::mix`) against mailkeep and against
//! Debian's Dovecot in the same run, with the same accounts and the same
//! mail, 10 and then 50 clients at once. Prints commands per second and
//! p50/p99 latency per command kind and overall, each with Dovecot's
//! figure and the ratio mailkeep/dovecot, and the CPU time each server's
//! process tree used per command.
//!
//! Both servers: plain IMAP on 127.0.0.1, {PLAIN} passwords (so that the
//! password hash does not dominate LOGIN), embedded/default settings
//! otherwise. The phases alternate (mailkeep, Dovecot, mailkeep, Dovecot)
//! so that a change in the machine's load hits both alike.
//!
//! A last, paced phase starts sessions at one fixed pace on every server
//! (an open loop, see `mix::run_paced`), so that latencies are compared
//! at the same load.
//!
//! `MAILKEEP_BENCH_MIX_SESSIONS` sets the sessions per phase (default
//! 200, spread over the clients). `MAILKEEP_BENCH_MIX_BIN` runs another
//! mailkeep binary than this worktree's release build (a baseline copied
//! aside, for A/B runs alternating binaries). `MAILKEEP_BENCH_AB_BIN`
//! starts a second mailkeep from another binary beside this one, with
//! the same accounts and mail, its phases alternating with the others,
//! so that one run compares two builds under the same load ("A/B" lines:
//! commands/s and server CPU per command of this build over the other's).
//! `MAILKEEP_BENCH_AB_EXTRA` (TOML tables) goes into that second server's
//! configuration, whose binary is this build's unless
//! `MAILKEEP_BENCH_AB_BIN` names one: an A/B of two configurations.

use std::time::Duration;

use mailkeep_bench::messages::mixed_message;
use mailkeep_bench::mix::{self, MixRun, MixSettings};
use mailkeep_bench::report::{Better, line, machine_idle, machine_load, num, ratio};
use mailkeep_bench::servers::Account;
use mailkeep_bench::servers::mailkeep::Mailkeep;
use mailkeep_bench::{procs, setup};

const BIN: &str = env!("CARGO_BIN_EXE_mailkeep");
/// Accounts; the clients log in as them in turn.
const ACCOUNTS: usize = 10;
/// Messages in each account's INBOX.
const MESSAGES: usize = 200;
/// Clients at once, per phase.
const CLIENTS: [usize; 2] = [10, 50];
/// Alternations of the two servers per client count.
const ALTERNATIONS: usize = 2;
/// Check-mail rounds per session.
const ROUNDS: usize = 2;
/// The most sessions open at once in the paced phase.
const PACED_MAX_OPEN: usize = 100;

fn main() {
    println!("session mix: machine load {} at start", machine_load());
    println!("machine idle: {}", machine_idle());
    let sessions: usize = std::env::var("MAILKEEP_BENCH_MIX_SESSIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let dir = setup::workdir("session-mix-").expect("work directory");
    let accounts = Account::numbered("mix", ACCOUNTS);
    let bin = std::env::var("MAILKEEP_BENCH_MIX_BIN").unwrap_or_else(|_| BIN.to_owned());
    println!("mailkeep binary: {bin}");
    let (mailkeep, dovecot) =
        setup::both_with_plain_accounts(bin.as_ref(), dir.path(), "", &accounts, 200)
            .expect("starting mailkeep");
    let dovecot = match dovecot {
        Ok(d) => {
            println!(
                "baseline: Dovecot {}, maildir, default settings",
                d.version()
            );
            Some(d)
        }
        Err(e) => {
            println!("Dovecot baseline skipped: {e}");
            None
        }
    };
    // An A/B of two builds, or of two configurations, in one run (see the
    // module doc).
    let ab_extra = std::env::var("MAILKEEP_BENCH_AB_EXTRA").ok();
    let ab_bin = std::env::var_os("MAILKEEP_BENCH_AB_BIN")
        .or_else(|| ab_extra.as_ref().map(|_| bin.clone().into()));
    let other = ab_bin.map(|ab_bin| {
        println!("A/B binary: {}", ab_bin.to_string_lossy());
        let extra = ab_extra.as_deref().unwrap_or("");
        if !extra.is_empty() {
            println!("A/B configuration adds: {extra:?}");
        }
        let other = Mailkeep::start(ab_bin.as_ref(), dir.path(), "mailkeep-ab", extra)
            .expect("starting the A/B binary's mailkeep");
        other.add_plain_users(&accounts).expect("A/B accounts");
        other
    });
    // One thread for every client: each does little between waits, and
    // with two workers the hand-overs between them (wakeups, work
    // stealing) made the load generator itself a large share of the two
    // cores both servers run on (about 95-120 µs of CPU per command). The
    // same client drives both servers, so what it saves goes to whichever
    // server runs, mailkeep or Dovecot.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let messages: Vec<Vec<u8>> = (0..MESSAGES).map(mixed_message).collect();
    let bytes: usize = messages.iter().map(Vec::len).sum();
    println!(
        "workload: {ACCOUNTS} accounts (password scheme {{PLAIN}} on both servers), \
         {MESSAGES} messages of {:.1} KB on average in each INBOX; {sessions} sessions of \
         {ROUNDS} rounds per phase",
        bytes as f64 / MESSAGES as f64 / 1000.0
    );

    // The same mail in both, then one session per account to warm caches.
    let servers: Vec<(&str, std::net::SocketAddr, u32)> = std::iter::once((
        "mailkeep",
        mailkeep.process().addr(),
        mailkeep.process().pid(),
    ))
    .chain(
        dovecot
            .iter()
            .map(|d| ("dovecot", d.process().addr(), d.process().pid())),
    )
    .chain(
        other
            .iter()
            .map(|o| ("mailkeep-ab", o.process().addr(), o.process().pid())),
    )
    .collect();
    for (name, addr, _) in &servers {
        let took = runtime
            .block_on(setup::fill_all(*addr, &accounts, "INBOX", &messages))
            .unwrap_or_else(|e| panic!("filling {name}: {e}"));
        println!(
            "filled {name}: {} messages in {:.1} s",
            ACCOUNTS * MESSAGES,
            took.as_secs_f64()
        );
        let warm = runtime.block_on(mix::run(&settings(*addr, &accounts, ACCOUNTS, 1)));
        assert_eq!(warm.failed(), 0, "{name} warm-up: {:?}", warm.first_errors);
    }

    for clients in CLIENTS {
        let per_client = sessions.div_ceil(clients);
        let mix = |addr| settings(addr, &accounts, clients, per_client);
        let mut runs: Vec<Phase> = servers.iter().map(|_| Phase::default()).collect();
        for _ in 0..ALTERNATIONS {
            for ((_, addr, pid), phase) in servers.iter().zip(runs.iter_mut()) {
                let cpu_before = procs::tree_cpu_by_kind(*pid);
                let ours_before = procs::own_cpu();
                let run = runtime.block_on(mix::run(&mix(*addr)));
                let used = procs::cpu_used(&cpu_before, &procs::tree_cpu_by_kind(*pid));
                phase.server_cpu += used.values().sum::<Duration>();
                for (kind, t) in used {
                    *phase.cpu_by_kind.entry(kind).or_default() += t;
                }
                phase.client_cpu += procs::own_cpu().saturating_sub(ours_before);
                phase.run.merge(&run);
            }
        }
        println!();
        println!(
            "{clients} clients, {} sessions per client, machine load {}:",
            per_client,
            machine_load()
        );
        let ours = &runs[0];
        let theirs = dovecot_phase(&servers, &runs);
        for l in mix::report(
            &ours.run,
            theirs.map(|t| &t.run),
            &format!("{clients} clients"),
        ) {
            println!("{l}");
        }
        println!(
            "{}",
            line(
                &format!("{clients} clients: server CPU per command (whole process tree)"),
                "us",
                ours.cpu_per_command(),
                theirs.map(Phase::cpu_per_command),
                Better::Lower,
            )
        );
        for (name, phase) in servers.iter().map(|s| s.0).zip(&runs) {
            println!(
                "{clients} clients, {name}: {} commands ({} failed) in {:.2} s, {} sessions \
                 completed; server CPU {:.2} s, load generator CPU {:.2} s",
                phase.run.commands(),
                phase.run.failed(),
                phase.run.elapsed.as_secs_f64(),
                phase.run.sessions_completed,
                phase.server_cpu.as_secs_f64(),
                phase.client_cpu.as_secs_f64(),
            );
            let split: Vec<String> = phase
                .cpu_by_kind
                .iter()
                .filter(|(_, t)| !t.is_zero())
                .map(|(kind, t)| {
                    format!(
                        "{kind} {:.0} us",
                        t.as_secs_f64() * 1e6 / phase.run.commands().max(1) as f64
                    )
                })
                .collect();
            println!(
                "{clients} clients, {name}: server CPU per command by process: {}",
                split.join(", ")
            );
            for e in &phase.run.first_errors {
                println!("  failure: {e}");
            }
        }
        if let Some(theirs) = theirs {
            goal(clients, &ours.run, &theirs.run);
        }
        if let Some(i) = servers.iter().position(|s| s.0 == "mailkeep-ab") {
            let ab = &runs[i];
            println!(
                "{clients} clients, A/B: this build {:.0} cmd/s and {:.0} us CPU per command, \
                 MAILKEEP_BENCH_AB_BIN {:.0} cmd/s and {:.0} us; rate ratio {}, CPU ratio {}",
                ours.run.rate(),
                ours.cpu_per_command(),
                ab.run.rate(),
                ab.cpu_per_command(),
                num(ratio(ours.run.rate(), ab.run.rate())),
                num(ratio(ours.cpu_per_command(), ab.cpu_per_command())),
            );
        }
    }
    paced(&runtime, &servers, &accounts);
    println!();
    println!("session mix: machine load {} at the end", machine_load());
}

/// The open-loop phase: sessions started at the same pace on every
/// server, a pace each sustains, so that latencies are compared at one
/// load (the closed loops above give the faster server more commands
/// at once). `MAILKEEP_BENCH_PACED_RATE` sessions a second (default
/// 20, about 740 commands a second, a third of what Dovecot does at 10
/// clients here), `MAILKEEP_BENCH_PACED_SESSIONS` of them (default 200).
fn paced(
    runtime: &tokio::runtime::Runtime,
    servers: &[(&str, std::net::SocketAddr, u32)],
    accounts: &[Account],
) {
    let env = |name: &str, default: f64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(default)
    };
    let rate = env("MAILKEEP_BENCH_PACED_RATE", 20.0);
    let total = env("MAILKEEP_BENCH_PACED_SESSIONS", 200.0) as usize;
    let mut runs: Vec<Phase> = servers.iter().map(|_| Phase::default()).collect();
    for ((_, addr, pid), phase) in servers.iter().zip(runs.iter_mut()) {
        let cpu_before = procs::tree_cpu_by_kind(*pid);
        let run = runtime.block_on(mix::run_paced(
            &settings(*addr, accounts, 1, 1),
            rate,
            total,
            PACED_MAX_OPEN,
        ));
        let used = procs::cpu_used(&cpu_before, &procs::tree_cpu_by_kind(*pid));
        phase.server_cpu += used.values().sum::<Duration>();
        phase.run = run;
    }
    println!();
    println!(
        "paced: {rate} sessions a second, {total} sessions, at most {PACED_MAX_OPEN} open, \
         machine load {}:",
        machine_load()
    );
    let ours = &runs[0];
    let theirs = dovecot_phase(servers, &runs);
    for l in mix::report(&ours.run, theirs.map(|t| &t.run), "paced") {
        println!("{l}");
    }
    for (name, phase) in servers.iter().map(|s| s.0).zip(&runs) {
        println!(
            "paced, {name}: {} commands ({} failed), {} sessions completed, {} started late, \
             server CPU {:.2} s in {:.2} s, {:.0} us per command",
            phase.run.commands(),
            phase.run.failed(),
            phase.run.sessions_completed,
            phase.run.late_starts,
            phase.server_cpu.as_secs_f64(),
            phase.run.elapsed.as_secs_f64(),
            phase.cpu_per_command(),
        );
        for e in &phase.run.first_errors {
            println!("  failure: {e}");
        }
    }
    if let Some(theirs) = theirs {
        let (p50, p99) = latency_ratios(&ours.run, &theirs.run);
        println!(
            "paced, goal (<= 1/3 of Dovecot's p50 and p99 at the same load): p50 {}x ({}), \
             p99 {}x ({})",
            num(p50),
            met(p50 <= 1.0 / 3.0),
            num(p99),
            met(p99 <= 1.0 / 3.0)
        );
    }
}

/// One server's figures for one client count.
#[derive(Default)]
struct Phase {
    run: MixRun,
    server_cpu: Duration,
    /// The server's CPU time by kind of process.
    cpu_by_kind: std::collections::BTreeMap<String, Duration>,
    client_cpu: Duration,
}

impl Phase {
    fn cpu_per_command(&self) -> f64 {
        self.server_cpu.as_secs_f64() * 1e6 / self.run.commands().max(1) as f64
    }
}

fn settings(
    addr: std::net::SocketAddr,
    accounts: &[Account],
    clients: usize,
    sessions: usize,
) -> MixSettings {
    MixSettings {
        addr,
        accounts: accounts.to_vec(),
        clients,
        sessions_per_client: sessions,
        rounds_per_session: ROUNDS,
        timeout: Duration::from_secs(60),
        seed: 8,
    }
}

/// The goal: at least 3× Dovecot's commands per second, at most a
/// third of its p50 and p99.
fn goal(clients: usize, ours: &MixRun, theirs: &MixRun) {
    let rate = ratio(ours.rate(), theirs.rate());
    let (p50, p99) = latency_ratios(ours, theirs);
    println!(
        "{clients} clients, goal (>= 3x commands/s, <= 1/3 p50 and p99): commands/s {}x ({}), \
         p50 {}x ({}), p99 {}x ({})",
        num(rate),
        met(rate >= 3.0),
        num(p50),
        met(p50 <= 1.0 / 3.0),
        num(p99),
        met(p99 <= 1.0 / 3.0)
    );
}

/// Our p50 and p99 over all commands, each over the other server's.
fn latency_ratios(ours: &MixRun, theirs: &MixRun) -> (f64, f64) {
    let (o, t) = (ours.overall(), theirs.overall());
    let pick = |s: &mailkeep_bench::stats::Samples, p| s.percentile(p).unwrap_or_default();
    (
        ratio(pick(&o, 50.0).as_secs_f64(), pick(&t, 50.0).as_secs_f64()),
        ratio(pick(&o, 99.0).as_secs_f64(), pick(&t, 99.0).as_secs_f64()),
    )
}

/// How a goal line says whether a goal is met.
fn met(ok: bool) -> &'static str {
    if ok { "met" } else { "NOT met" }
}

/// Dovecot's phase among `runs` (one per server, in `servers`' order),
/// when it ran.
fn dovecot_phase<'a>(
    servers: &[(&str, std::net::SocketAddr, u32)],
    runs: &'a [Phase],
) -> Option<&'a Phase> {
    servers
        .iter()
        .position(|s| s.0 == "dovecot")
        .and_then(|i| runs.get(i))
}
