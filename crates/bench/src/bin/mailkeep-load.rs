//! `mailkeep-load`: the benchmarks' session mix against any IMAP server on
//! this host, for profiling one server by hand (`perf record -p PID`
//! while it runs). The accounts must exist and hold mail in INBOX.
//!
//! ```text
//! mailkeep-load --addr 127.0.0.1:1143 --prefix mix --accounts 10 --clients 50
//! mailkeep-load --prefix mix --clients 10 --sessions 20 --pace 20   # paced: 200 sessions, 20 a second
//! ```

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use mailkeep_bench::mix::{self, MixSettings};
use mailkeep_bench::servers::Account;

/// Plays the session mix (see the `mix` module) and prints commands per
/// second and latency percentiles per command kind.
#[derive(Parser)]
struct Args {
    /// The server's IMAP address (plain text).
    #[arg(long, default_value = "127.0.0.1:1143")]
    addr: SocketAddr,
    /// Accounts are `<prefix>0`, `<prefix>1`, ... with passwords
    /// `pw-<prefix>0`, ... (as the benchmarks make them).
    #[arg(long, default_value = "mix")]
    prefix: String,
    /// How many accounts.
    #[arg(long, default_value_t = 10)]
    accounts: usize,
    /// Clients at once.
    #[arg(long, default_value_t = 10)]
    clients: usize,
    /// Sessions per client.
    #[arg(long, default_value_t = 5)]
    sessions: usize,
    /// Check-mail rounds per session.
    #[arg(long, default_value_t = 2)]
    rounds: usize,
    /// Before the mix, append this many messages (as the benchmarks'
    /// `mixed_message`) to each account's INBOX.
    #[arg(long, default_value_t = 0)]
    fill: usize,
    /// Instead of clients in a closed loop, start this many sessions a
    /// second whatever the server answers (`mix::run_paced`), `--clients`
    /// times `--sessions` of them, at most 100 open at once.
    #[arg(long)]
    pace: Option<f64>,
    /// Longest wait for any one answer, in seconds.
    #[arg(long, default_value_t = 60)]
    timeout_secs: u64,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let settings = MixSettings {
        addr: args.addr,
        accounts: Account::numbered(&args.prefix, args.accounts),
        clients: args.clients,
        sessions_per_client: args.sessions,
        rounds_per_session: args.rounds,
        timeout: Duration::from_secs(args.timeout_secs),
        seed: 1,
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("mailkeep-load: no runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    if args.fill > 0 {
        let messages: Vec<Vec<u8>> = (0..args.fill)
            .map(mailkeep_bench::messages::mixed_message)
            .collect();
        let filled = runtime.block_on(mailkeep_bench::setup::fill_all(
            settings.addr,
            &settings.accounts,
            "INBOX",
            &messages,
        ));
        if let Err(e) = filled {
            eprintln!("mailkeep-load: filling the mailboxes: {e}");
            return std::process::ExitCode::FAILURE;
        }
    }
    let run = match args.pace {
        Some(per_second) => runtime.block_on(mix::run_paced(
            &settings,
            per_second,
            args.clients * args.sessions,
            100,
        )),
        None => runtime.block_on(mix::run(&settings)),
    };
    for line in mix::report(&run, None, &format!("{} clients", args.clients)) {
        println!("{line}");
    }
    println!(
        "{} commands, {} failed, {} sessions completed in {:?}",
        run.commands(),
        run.failed(),
        run.sessions_completed,
        run.elapsed
    );
    for e in &run.first_errors {
        println!("failure: {e}");
    }
    if run.failed() > 0 {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    }
}
