//! Auth's memory under a burst of wrong argon2id logins (issue 10): 45
//! clients at once LOGIN with a wrong password to accounts stored as
//! argon2id (19 MiB of memory per hash), in rounds. auth's resident size
//! is read from `/proc` while idle before the burst, its peak (`VmHWM`)
//! after it, and its resident size once the burst is answered. Before
//! hashing was bounded, this grew auth from 106 MiB to 983 MiB and it
//! stayed there; with hashing bounded to about one per core and memory
//! returned, the peak should stay a few hashes above idle.
//!
//! The failure delay is off here (`[auth] failure_delay_ms = 0`), so that
//! every guess reaches the hasher at once: the worst case for memory.
//! There is no Dovecot figure (its auth worker processes hash one at a
//! time by design); the figure compared is auth's own idle size.
//! `MAILKEEP_BENCH_AUTH_CLIENTS` (45) and `MAILKEEP_BENCH_AUTH_ROUNDS` (3)
//! change the load; `MAILKEEP_BENCH_AUTH_WORKERS` and
//! `MAILKEEP_BENCH_AUTH_QUEUE` set `[auth] hash_workers` and `hash_queue`
//! (the defaults when unset).

use std::time::Duration;

use mailkeep_bench::report::{machine_load, num};
use mailkeep_bench::servers::Account;
use mailkeep_bench::servers::mailkeep::Mailkeep;
use mailkeep_bench::{client, procs, setup};

const BIN: &str = env!("CARGO_BIN_EXE_mailkeep");
const ACCOUNTS: usize = 3;
/// How long after the burst the resident size is read again.
const SETTLE: Duration = Duration::from_secs(2);

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A `/proc/PID/status` figure in KiB (`VmRSS:`, `VmHWM:`).
fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn mib(kib: u64) -> String {
    num(kib as f64 / 1024.0)
}

fn main() {
    println!("auth memory: machine load {} at start", machine_load());
    let clients = setting("MAILKEEP_BENCH_AUTH_CLIENTS", 45);
    let rounds = setting("MAILKEEP_BENCH_AUTH_ROUNDS", 3);
    let mut auth_config = String::from("[auth]\nfailure_delay_ms = 0\nmax_failure_delay_ms = 0\n");
    for (var, key) in [
        ("MAILKEEP_BENCH_AUTH_WORKERS", "hash_workers"),
        ("MAILKEEP_BENCH_AUTH_QUEUE", "hash_queue"),
    ] {
        if let Some(n) = std::env::var(var)
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
        {
            auth_config.push_str(&format!("{key} = {n}\n"));
            println!("auth memory: {key} = {n}");
        }
    }
    let dir = setup::workdir("auth-memory-").expect("work directory");
    let server = Mailkeep::start(BIN.as_ref(), dir.path(), "mailkeep", &auth_config)
        .expect("starting mailkeep");
    let accounts = Account::numbered("argon", ACCOUNTS);
    for account in &accounts {
        server.add_user(account, "ARGON2ID").expect("user add");
    }
    let auth = procs::tree(server.process().pid())
        .into_iter()
        .find(|p| p.kind == "auth")
        .expect("the auth process")
        .pid;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let addr = server.process().addr();
    // One good login per account: auth has read the users file and hashed
    // once, as a server that has been up for a while.
    runtime.block_on(async {
        for account in &accounts {
            client::login(
                addr,
                Duration::from_secs(30),
                &account.name,
                &account.password,
            )
            .await
            .expect("a good login");
        }
    });
    // A hashing thread frees its argon2 block just after its last answer.
    std::thread::sleep(SETTLE);
    let idle_rss = status_kib(auth, "VmRSS:");
    let (mut refused, mut shed) = (0usize, 0usize);
    for round in 0..rounds {
        let outcomes = runtime.block_on(async {
            let mut tasks = tokio::task::JoinSet::new();
            for i in 0..clients {
                let name = accounts[i % ACCOUNTS].name.clone();
                tasks.spawn(async move {
                    let mut c = client::connect(addr, Duration::from_secs(60)).await?;
                    let reply = c
                        .login(&name, "wrong password")
                        .await
                        .map_err(|e| mailkeep_bench::BenchError::client("LOGIN", e))?;
                    let unavailable = reply.code_named("UNAVAILABLE").is_some();
                    Ok::<_, mailkeep_bench::BenchError>((reply.is_ok(), unavailable))
                });
            }
            let mut outcomes = Vec::new();
            while let Some(done) = tasks.join_next().await {
                outcomes.push(done.expect("a client task").expect("a LOGIN answer"));
            }
            outcomes
        });
        for &(accepted, unavailable) in &outcomes {
            assert!(!accepted, "a wrong password was accepted");
            if unavailable {
                shed += 1;
            } else {
                refused += 1;
            }
        }
        println!(
            "round {}: {clients} wrong logins answered; auth resident {} MiB, peak so far {} MiB",
            round + 1,
            mib(status_kib(auth, "VmRSS:")),
            mib(status_kib(auth, "VmHWM:"))
        );
    }
    let peak = status_kib(auth, "VmHWM:");
    let answered = status_kib(auth, "VmRSS:");
    // auth trims its heap on a blocking thread once the last hash of a
    // burst is done, which may be just after the last answer.
    std::thread::sleep(SETTLE);
    let after = status_kib(auth, "VmRSS:");
    println!(
        "workload: {rounds} rounds of {clients} parallel LOGINs with a wrong password to \
         {ACCOUNTS} argon2id accounts; {refused} refused as wrong, {shed} shed as temporary"
    );
    println!(
        "auth resident memory: idle {} MiB, peak {} MiB ({}x idle), at the last answer {} MiB, \
         {} s later {} MiB",
        mib(idle_rss),
        mib(peak),
        num(peak as f64 / idle_rss.max(1) as f64),
        mib(answered),
        SETTLE.as_secs(),
        mib(after)
    );
}
