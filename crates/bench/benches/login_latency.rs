//! Login latency (issue 8 §4): one client after another connects, logs
//! in, selects INBOX and logs out, against mailkeep and Debian's Dovecot
//! in the same run; p50 and p99 of the whole session and of each step,
//! with the ratio mailkeep/dovecot. The account's storage process is warm
//! (started by the warm-up sessions, the same pid before and after the
//! measured ones).
//!
//! Passwords are stored as {PLAIN} on both servers, so that the
//! deliberately slow hashes (argon2id: tens of ms) do not hide the
//! servers' own work. The INBOX holds 200 messages. Blocks of sessions
//! alternate between the servers, so that the machine's load hits both
//! alike.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mailkeep_bench::messages::mixed_message;
use mailkeep_bench::report::{Better, line, machine_idle, machine_load, ms};
use mailkeep_bench::servers::Account;
use mailkeep_bench::stats::Samples;
use mailkeep_bench::{BenchError, client, setup};

const BIN: &str = env!("CARGO_BIN_EXE_mailkeep");
const MESSAGES: usize = 200;
const WARMUP: usize = 20;
/// Sessions per block, and blocks per server.
const BLOCK: usize = 50;
const BLOCKS: usize = 10;

/// One session's steps.
#[derive(Default)]
struct Steps {
    connect: Samples,
    login: Samples,
    select: Samples,
    logout: Samples,
    session: Samples,
}

async fn session(addr: SocketAddr, account: &Account, steps: &mut Steps) -> Result<(), BenchError> {
    let timeout = Duration::from_secs(30);
    let started = Instant::now();
    let mut c = client::connect(addr, timeout).await?;
    let connected = Instant::now();
    let login = format!(
        "LOGIN {} {}",
        mailkeep_testkit::quote(&account.name),
        mailkeep_testkit::quote(&account.password)
    );
    client::ok(&mut c, &login).await?;
    let logged_in = Instant::now();
    client::ok(&mut c, "SELECT INBOX").await?;
    let selected = Instant::now();
    client::ok(&mut c, "LOGOUT").await?;
    let done = Instant::now();
    steps.connect.push(connected - started);
    steps.login.push(logged_in - connected);
    steps.select.push(selected - logged_in);
    steps.logout.push(done - selected);
    steps.session.push(done - started);
    Ok(())
}

fn main() {
    println!("login latency: machine load {} at start", machine_load());
    println!("machine idle: {}", machine_idle());
    let dir = setup::workdir("login-latency-").expect("work directory");
    let accounts = Account::numbered("login", 1);
    let account = &accounts[0];
    let (mailkeep, dovecot) =
        setup::both_with_plain_accounts(BIN.as_ref(), dir.path(), "", &accounts, 100)
            .expect("starting mailkeep");
    let dovecot = dovecot
        .map_err(|e| println!("Dovecot baseline skipped: {e}"))
        .ok();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let messages: Vec<Vec<u8>> = (0..MESSAGES).map(mixed_message).collect();
    let mut servers = vec![("mailkeep", mailkeep.process().addr())];
    if let Some(d) = &dovecot {
        println!("baseline: Dovecot {}", d.version());
        servers.push(("dovecot", d.process().addr()));
    }
    println!(
        "workload: connect, LOGIN (password scheme {{PLAIN}} on both servers), SELECT INBOX \
         ({MESSAGES} messages), LOGOUT; {WARMUP} warm-up sessions, then {} measured, one at a \
         time, in blocks of {BLOCK} alternating between the servers",
        BLOCK * BLOCKS
    );
    runtime.block_on(async {
        for (name, addr) in &servers {
            setup::fill_all(*addr, &accounts, "INBOX", &messages)
                .await
                .unwrap_or_else(|e| panic!("filling {name}: {e}"));
            let mut ignored = Steps::default();
            for _ in 0..WARMUP {
                session(*addr, account, &mut ignored)
                    .await
                    .unwrap_or_else(|e| panic!("{name} warm-up: {e}"));
            }
        }
        let storage_before = mailkeep
            .storage_processes_of(&account.name)
            .await
            .expect("admin ps");
        let mut steps: Vec<Steps> = servers.iter().map(|_| Steps::default()).collect();
        for _ in 0..BLOCKS {
            for ((name, addr), steps) in servers.iter().zip(steps.iter_mut()) {
                for _ in 0..BLOCK {
                    session(*addr, account, steps)
                        .await
                        .unwrap_or_else(|e| panic!("{name}: {e}"));
                }
            }
        }
        let storage_after = mailkeep
            .storage_processes_of(&account.name)
            .await
            .expect("admin ps");
        let pids = |p: &[mailkeep_storage_rpc::broker::ProcessInfo]| {
            p.iter().map(|p| p.pid).collect::<Vec<_>>()
        };
        println!(
            "storage process of {}: pids {:?} before and {:?} after the measured sessions ({})",
            account.name,
            pids(&storage_before),
            pids(&storage_after),
            if pids(&storage_before) == pids(&storage_after) && !storage_before.is_empty() {
                "warm throughout"
            } else {
                "NOT the same process: some sessions were cold"
            }
        );
        println!();
        let ours = &steps[0];
        let theirs = steps.get(1);
        type Step = fn(&Steps) -> &Samples;
        let rows: [(&str, Step); 5] = [
            ("whole session", |s| &s.session),
            ("connect+greeting", |s| &s.connect),
            ("LOGIN", |s| &s.login),
            ("SELECT INBOX", |s| &s.select),
            ("LOGOUT", |s| &s.logout),
        ];
        for (step, pick) in rows {
            for (p, at) in [("p50", 50.0), ("p99", 99.0)] {
                let o = pick(ours).percentile(at).unwrap_or_default();
                let t = theirs.and_then(|t| pick(t).percentile(at));
                println!(
                    "{}",
                    line(
                        &format!("login session, {step} {p} (n={})", pick(ours).len()),
                        "ms",
                        ms(o),
                        t.map(ms),
                        Better::Lower
                    )
                );
            }
        }
        let p50 = ours.session.p50().unwrap_or_default();
        println!(
            "login session goal (p50 <= 1 ms once warm): mailkeep p50 {:.3} ms ({})",
            ms(p50),
            if p50 <= Duration::from_millis(1) {
                "met"
            } else {
                "NOT met"
            }
        );
    });
    println!("login latency: machine load {} at the end", machine_load());
}
