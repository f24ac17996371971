//! LMTP delivery: mailkeep against Debian's Dovecot (2.3, dovecot-lmtpd)
//! in the same run, 5 KB messages to one user over 1 and over 4
//! connections, and beside them the machine's serial rate of "write 5 KB,
//! fsync, rename, fsync the directory" — what one delivery at a time
//! cannot beat, and only group commit gets past (issue 9). Printed as
//! messages per second and ratios mailkeep/dovecot. Then the delay from
//! LMTP's `250` to an IMAP client in IDLE seeing the new message's EXISTS
//! (p50 and p99 of a series of deliveries, one at a time).
//!
//! Both servers store Maildir and acknowledge a message only once it is
//! durable (Dovecot's default `mail_fsync = optimized`; mailkeep: the index
//! commit that journals the message's bytes is fsynced, the files are
//! flushed in bulk afterwards, DESIGN §5). Without Dovecot (or root) the
//! baseline is skipped with a note.

use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mailkeep_bench::idle::{Delays, Idlers};
use mailkeep_bench::lmtp::{LmtpClient, idle_delays};
use mailkeep_bench::report::{self, Better};
use mailkeep_bench::servers::dovecot::Dovecot;
use mailkeep_bench::servers::mailkeep::Mailkeep;
use mailkeep_bench::servers::{Account, free_port};
use mailkeep_bench::setup;
use mailkeep_bench::stats::Samples;

const BIN: &str = env!("CARGO_BIN_EXE_mailkeep");
/// Messages per run (split among the connections).
const N: usize = 400;
const USER: &str = "bench";
const TIMEOUT: Duration = Duration::from_secs(60);
/// Deliveries whose IDLE delay is measured (after one unmeasured).
const IDLE_DELIVERIES: usize = 50;

/// A 5 KB message numbered `i`, no line starting with a dot.
fn message(i: usize) -> Vec<u8> {
    let mut m = format!(
        "From: Sender <sender@example.org>\r\nTo: <{USER}@example.org>\r\n\
         Subject: delivery {i}\r\nMessage-ID: <{i}@bench.test>\r\n\r\n"
    );
    while m.len() < 5000 {
        m.push_str("The quick brown fox jumps over the lazy dog, message body line.\r\n");
    }
    m.into_bytes()
}

/// Messages per second delivering `N` messages over `connections`
/// connections at once.
fn rate(addr: SocketAddr, connections: usize) -> f64 {
    // Warm up: the user's storage process runs, the index exists.
    LmtpClient::connect(addr, TIMEOUT)
        .and_then(|mut c| c.deliver(USER, &message(usize::MAX)))
        .expect("first delivery");
    let per = N / connections;
    let start = Instant::now();
    let threads: Vec<_> = (0..connections)
        .map(|t| {
            std::thread::spawn(move || {
                let mut c = LmtpClient::connect(addr, TIMEOUT).expect("connecting");
                for i in 0..per {
                    c.deliver(USER, &message(t * per + i)).expect("delivery");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("a delivering thread");
    }
    (per * connections) as f64 / start.elapsed().as_secs_f64()
}

/// The IDLE delays of `IDLE_DELIVERIES` deliveries over LMTP at `lmtp` to
/// one IMAP client of `account` in IDLE on `imap`.
fn idle_delay(lmtp: SocketAddr, imap: SocketAddr, account: &Account) -> Delays {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let mut idlers = Idlers::start(imap, account, 1).await.expect("an idler");
        let body = message(0);
        // The first is not measured (the idler's storage path warms up).
        idle_delays(lmtp, &account.name, &mut idlers, 1, &body)
            .await
            .expect("a warm-up delivery");
        idlers.exists += 1;
        let delays = idle_delays(lmtp, &account.name, &mut idlers, IDLE_DELIVERIES, &body)
            .await
            .expect("deliveries seen in IDLE");
        for e in idlers.finish().await {
            println!("note: an idler failed: {e}");
        }
        delays
    })
}

/// The serial rate of write 5 KB + fsync + rename + fsync dir, in `dir`.
fn serial_fsync_rate(dir: &std::path::Path) -> f64 {
    let tmp = dir.join("fsync-tmp");
    let cur = dir.join("fsync-cur");
    std::fs::create_dir_all(&tmp).expect("tmp");
    std::fs::create_dir_all(&cur).expect("cur");
    let body = message(0);
    let n = 200;
    let start = Instant::now();
    for i in 0..n {
        let path = tmp.join(format!("m{i}"));
        let mut f = std::fs::File::create(&path).expect("create");
        f.write_all(&body).expect("write");
        f.sync_all().expect("fsync");
        std::fs::rename(&path, cur.join(format!("m{i}"))).expect("rename");
        std::fs::File::open(&cur)
            .and_then(|d| d.sync_all())
            .expect("fsync dir");
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    println!("machine load {} at start", report::machine_load());
    let dir = setup::workdir("lmtp-vs-dovecot-").expect("work directory");
    let serial = serial_fsync_rate(dir.path());
    println!(
        "serial write 5 KB + fsync + rename + fsync dir: {} /s",
        report::num(serial)
    );

    let mailkeep = Mailkeep::start(
        BIN.as_ref(),
        dir.path(),
        "mailkeep",
        "[storage]\nlinger_min_secs = 600\n",
    )
    .expect("starting mailkeep");
    let account = Account {
        name: USER.into(),
        password: "secret".into(),
    };
    let hash = mailkeep.add_user(&account, "PLAIN").expect("user add");
    let ours_1 = rate(mailkeep.lmtp_addr(), 1);
    let ours_4 = rate(mailkeep.lmtp_addr(), 4);
    let ours_idle = idle_delay(mailkeep.lmtp_addr(), mailkeep.process().addr(), &account);
    drop(mailkeep);

    let lmtp_port = free_port().expect("a port");
    let theirs =
        match Dovecot::start_with(dir.path(), &[(USER.to_owned(), hash)], 10, Some(lmtp_port)) {
            Ok(dovecot) => {
                println!("baseline: {}", dovecot.version());
                let addr = SocketAddr::from(([127, 0, 0, 1], lmtp_port));
                let theirs = (
                    rate(addr, 1),
                    rate(addr, 4),
                    idle_delay(addr, dovecot.process().addr(), &account),
                );
                drop(dovecot);
                Some(theirs)
            }
            Err(e) => {
                println!("note: {e}");
                None
            }
        };
    println!("LMTP delivery of {N} messages of 5 KB to one user:");
    for (what, ours, theirs) in [
        ("1 connection", ours_1, theirs.as_ref().map(|t| t.0)),
        ("4 connections", ours_4, theirs.as_ref().map(|t| t.1)),
    ] {
        println!(
            "{}",
            report::line(what, "msg/s", ours, theirs, Better::Higher)
        );
        println!(
            "  {what}: mailkeep / serial fsync rate = {:.2}",
            report::ratio(ours, serial)
        );
    }
    println!("From LMTP's 250 to EXISTS in IDLE, {IDLE_DELIVERIES} deliveries:");
    let theirs_idle = theirs.as_ref().map(|t| &t.2);
    for (what, pick) in [
        ("p50", Samples::p50 as fn(&Samples) -> Option<Duration>),
        ("p99", Samples::p99),
    ] {
        let ms = |d: &Delays| pick(&d.delays).map_or(f64::NAN, report::ms);
        println!(
            "{}",
            report::line(
                what,
                "ms",
                ms(&ours_idle),
                theirs_idle.map(ms),
                Better::Lower
            )
        );
    }
    for (who, d) in [("mailkeep", Some(&ours_idle)), ("dovecot", theirs_idle)] {
        if let Some(d) = d
            && (d.missing > 0 || d.before_ok > 0)
        {
            println!(
                "  {who}: {} EXISTS never came, {} came before the 250",
                d.missing, d.before_ok
            );
        }
    }
}
