//! POP3 pollers (issue 9, "Performance"): each session connects, logs in
//! (USER/PASS, `{PLAIN}` on both servers so that password hashing does
//! not hide the servers' own work), LISTs 100 messages of 5 KB, RETRs
//! every one and QUITs without deleting, against mailkeep and Debian's
//! Dovecot (dovecot-pop3d) in the same run. Sessions/s with 1 and with 4
//! pollers at once (each its own account), blocks alternating between
//! the servers so that the machine's load hits both alike; the ratio
//! mailkeep/dovecot is the figure (goal: at least 3). Beside it, the CPU
//! time each server's process tree used per measured session (mailkeep's
//! by kind of process), which load from other programs does not change
//! as much as the rates.

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use mailkeep_bench::procs::{cpu_used, own_cpu, tree_cpu_by_kind};
use mailkeep_bench::report::{Better, line, machine_idle, machine_load};
use mailkeep_bench::servers::Account;
use mailkeep_bench::servers::mailkeep::Mailkeep;
use mailkeep_bench::setup;
use mailkeep_testkit::Pop3Client;

const BIN: &str = env!("CARGO_BIN_EXE_mailkeep");
const MESSAGES: usize = 100;
const MESSAGE_SIZE: usize = 5 * 1024;
const WARMUP: usize = 5;
/// Sessions per poller per block, and blocks per server.
const BLOCK: usize = 20;
const BLOCKS: usize = 5;

/// Message `i`: 5 KB of CRLF text lines.
fn message(i: usize) -> Vec<u8> {
    let mut m = format!(
        "From: Poller Test <poller@example.org>\r\nTo: box{i}@example.net\r\n\
         Subject: poll message {i}\r\nMessage-ID: <poll{i}@pop3-bench.example>\r\n\r\n"
    )
    .into_bytes();
    let mut n = 0;
    while m.len() < MESSAGE_SIZE {
        n += 1;
        m.extend_from_slice(
            format!("line {n:04} of message {i:03}: lorem ipsum dolor sit amet\r\n").as_bytes(),
        );
    }
    m.truncate(MESSAGE_SIZE - 2);
    m.extend_from_slice(b"\r\n");
    m
}

/// How long each phase of one poller session took.
#[derive(Default, Clone, Copy)]
struct Phases {
    /// Connect, greeting, USER and PASS.
    login: Duration,
    /// LIST.
    list: Duration,
    /// Every RETR, together.
    retrieve: Duration,
    /// QUIT.
    quit: Duration,
}

/// One poller session; returns how long its phases took.
fn session(addr: SocketAddr, account: &Account) -> Result<Phases, String> {
    let mut phases = Phases::default();
    let mut started = Instant::now();
    let mut lap = |into: &mut Duration| {
        let now = Instant::now();
        *into = now - started;
        started = now;
    };
    let stream = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    let io = |e: std::io::Error| e.to_string();
    let (mut c, greeting) = Pop3Client::new(stream).map_err(io)?;
    if !greeting.is_ok() {
        return Err(format!("greeting {greeting:?}"));
    }
    let status = c.login(&account.name, &account.password).map_err(io)?;
    if !status.is_ok() {
        return Err(format!("login {status:?}"));
    }
    lap(&mut phases.login);
    let (status, listing) = c.multiline("LIST").map_err(io)?;
    let count = Pop3Client::<TcpStream>::lines(&listing).len();
    if !status.is_ok() || count != MESSAGES {
        return Err(format!("LIST {status:?}: {count} messages"));
    }
    lap(&mut phases.list);
    for n in 1..=count {
        let (status, body) = c.multiline(&format!("RETR {n}")).map_err(io)?;
        if !status.is_ok() || body.len() != MESSAGE_SIZE {
            return Err(format!("RETR {n}: {status:?}, {} bytes", body.len()));
        }
    }
    lap(&mut phases.retrieve);
    let status = c.command("QUIT").map_err(io)?;
    if !status.is_ok() {
        return Err(format!("QUIT {status:?}"));
    }
    lap(&mut phases.quit);
    Ok(phases)
}

/// `pollers` pollers at once, `sessions` sessions each; the time taken
/// and the phases of every session.
fn block(addr: SocketAddr, accounts: &[Account], sessions: usize) -> (Duration, Vec<Phases>) {
    let started = Instant::now();
    let phases = std::thread::scope(|scope| {
        let handles: Vec<_> = accounts
            .iter()
            .map(|account| {
                scope.spawn(move || {
                    (0..sessions)
                        .map(|_| session(addr, account).unwrap_or_else(|e| panic!("{addr}: {e}")))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a poller thread"))
            .collect()
    });
    (started.elapsed(), phases)
}

/// "login X ms, LIST X ms, 100 RETR X ms, QUIT X ms": the median of each
/// phase over `phases`.
fn phase_medians(phases: &[Phases]) -> String {
    let median = |pick: fn(&Phases) -> Duration| {
        let mut all: Vec<Duration> = phases.iter().map(pick).collect();
        all.sort();
        all.get(all.len() / 2)
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    format!(
        "login {:.3} ms, LIST {:.3} ms, {MESSAGES} RETR {:.3} ms, QUIT {:.3} ms",
        median(|p| p.login),
        median(|p| p.list),
        median(|p| p.retrieve),
        median(|p| p.quit)
    )
}

fn main() {
    println!("pop3 poller: machine load {} at start", machine_load());
    println!("machine idle: {}", machine_idle());
    let dir = setup::workdir("pop3-poller-").expect("work directory");
    let accounts = Account::numbered("poller", 4);
    let (mailkeep, dovecot) =
        setup::both_with_plain_accounts(BIN.as_ref(), dir.path(), "", &accounts, 100)
            .expect("starting mailkeep");
    let dovecot = dovecot
        .map_err(|e| println!("Dovecot baseline skipped: {e}"))
        .ok();
    let mut servers = vec![(
        "mailkeep",
        mailkeep.process().addr(),
        mailkeep.pop3_addr(),
        mailkeep.process().pid(),
    )];
    if let Some(d) = &dovecot {
        match d.pop3_addr() {
            Some(pop3) => {
                println!("baseline: Dovecot {}", d.version());
                servers.push(("dovecot", d.process().addr(), pop3, d.process().pid()));
            }
            None => println!("Dovecot baseline skipped: apt-get install dovecot-pop3d"),
        }
    }
    // An A/B of two builds in one run: the blocks of the other binary's
    // server alternate with these, so that the machine's load hits all
    // alike (runs of a shared machine differ by more than most changes).
    // Or of one build under two configurations: `MAILKEEP_BENCH_AB_EXTRA`
    // (TOML tables) goes into the other server's configuration, whose
    // binary is this build's unless `MAILKEEP_BENCH_AB_BIN` names one.
    let ab_extra = std::env::var("MAILKEEP_BENCH_AB_EXTRA").ok();
    let ab_bin =
        std::env::var_os("MAILKEEP_BENCH_AB_BIN").or_else(|| ab_extra.as_ref().map(|_| BIN.into()));
    let other = ab_bin.map(|bin| {
        let extra = ab_extra.as_deref().unwrap_or("");
        let other = Mailkeep::start(bin.as_ref(), dir.path(), "mailkeep-ab", extra)
            .expect("starting the A/B binary's mailkeep");
        other.add_plain_users(&accounts).expect("A/B accounts");
        other
    });
    if let Some(other) = &other {
        servers.push((
            "mailkeep-ab",
            other.process().addr(),
            other.pop3_addr(),
            other.process().pid(),
        ));
    }
    let messages: Vec<Vec<u8>> = (0..MESSAGES).map(message).collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for (name, imap, _, _) in &servers {
        runtime
            .block_on(setup::fill_all(*imap, &accounts, "INBOX", &messages))
            .unwrap_or_else(|e| {
                let log = std::fs::read_to_string(dir.path().join("mailkeep.log"));
                panic!("filling {name}: {e}\n{}", log.unwrap_or_default())
            });
    }
    println!(
        "workload: connect, USER/PASS ({{PLAIN}} on both), LIST ({MESSAGES} messages of \
         {MESSAGE_SIZE} bytes), RETR each, QUIT; {WARMUP} warm-up sessions per poller, then \
         {} measured per poller in blocks of {BLOCK} alternating between the servers",
        BLOCK * BLOCKS
    );
    for pollers in [1usize, 4] {
        let group = &accounts[..pollers];
        for (_, _, pop3, _) in &servers {
            block(*pop3, group, WARMUP);
        }
        let mut elapsed = vec![Duration::ZERO; servers.len()];
        let mut cpu: Vec<BTreeMap<String, Duration>> = vec![BTreeMap::new(); servers.len()];
        let mut client_cpu = vec![Duration::ZERO; servers.len()];
        let mut phases: Vec<Vec<Phases>> = vec![Vec::new(); servers.len()];
        for _ in 0..BLOCKS {
            for (i, (_, _, pop3, pid)) in servers.iter().enumerate() {
                let before = tree_cpu_by_kind(*pid);
                let ours_before = own_cpu();
                let (took, of_block) = block(*pop3, group, BLOCK);
                elapsed[i] += took;
                phases[i].extend(of_block);
                client_cpu[i] += own_cpu().saturating_sub(ours_before);
                for (kind, used) in cpu_used(&before, &tree_cpu_by_kind(*pid)) {
                    *cpu[i].entry(kind).or_default() += used;
                }
            }
        }
        let total = (pollers * BLOCK * BLOCKS) as f64;
        let rate = |d: Duration| total / d.as_secs_f64();
        println!(
            "{}",
            line(
                &format!("pop3 poller sessions, {pollers} at once"),
                "sessions/s",
                rate(elapsed[0]),
                servers
                    .iter()
                    .position(|(name, ..)| *name == "dovecot")
                    .map(|i| rate(elapsed[i])),
                Better::Higher
            )
        );
        if let Some(i) = servers.iter().position(|(name, ..)| *name == "mailkeep-ab") {
            println!(
                "  A/B: this build {:.1} sessions/s, MAILKEEP_BENCH_AB_BIN {:.1} sessions/s, \
                 ratio {:.3}",
                rate(elapsed[0]),
                rate(elapsed[i]),
                rate(elapsed[0]) / rate(elapsed[i])
            );
        }
        for ((((name, ..), used), client), phases) in
            servers.iter().zip(&cpu).zip(&client_cpu).zip(&phases)
        {
            println!("  {}", cpu_per_session(name, used, total));
            println!("  {name}: median {}", phase_medians(phases));
            // The pollers run on the same cores: at saturation their CPU
            // per session, the same for both servers, bounds the ratio.
            println!(
                "  {name}: the pollers (this process) used {:.2} ms CPU per session",
                client.as_secs_f64() * 1000.0 / total
            );
        }
    }
    println!("pop3 poller: machine load {} at the end", machine_load());
}

/// "NAME: X ms CPU per session (kind Y, ...)": what a server's process
/// tree used over `sessions` measured sessions.
fn cpu_per_session(name: &str, used: &BTreeMap<String, Duration>, sessions: f64) -> String {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0 / sessions;
    let total: Duration = used.values().sum();
    let kinds: Vec<String> = used
        .iter()
        .filter(|(_, d)| !d.is_zero())
        .map(|(kind, d)| format!("{kind} {:.2}", ms(*d)))
        .collect();
    format!(
        "{name}: {:.2} ms CPU per session ({})",
        ms(total),
        kinds.join(", ")
    )
}
