//! LMTP delivery: mailkeep against Debian's Dovecot (2.3, dovecot-lmtpd)
//! in the same run, 5 KB messages to one user over 1 and over 4
//! connections, and beside them the machine's serial rate of "write 5 KB,
//! fsync, rename, fsync the directory" — what one delivery at a time
//! cannot beat, and only group commit gets past (issue 9). Printed as
//! messages per second and ratios mailkeep/dovecot.
//!
//! Both servers run at once and the deliveries go in blocks that
//! alternate between them (which goes first alternates too), with a block
//! of the serial fsync test before each pair: a disk whose sync time
//! drifts by half within minutes (as this kind of machine's does) then
//! slows both servers alike instead of whichever ran in the slow minutes.
//! Each block's time ends with a `syncfs` of the work directory's file
//! system: what a server wrote and left to the kernel (Dovecot's index,
//! mailkeep's journaled files not yet flushed) is written back in its own
//! block, not in the other server's, where its fsyncs waited behind it
//! (mailkeep alone delivered 805 messages/s over one connection, 612 with
//! Dovecot's blocks between its own, on the same machine minutes apart).
//! Each server keeps its connections across its blocks. Then the delay from
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
use mailkeep_bench::lmtp::{LmtpClient, delivery_message, idle_delays};
use mailkeep_bench::report::{self, Better};
use mailkeep_bench::servers::dovecot::Dovecot;
use mailkeep_bench::servers::mailkeep::Mailkeep;
use mailkeep_bench::servers::{Account, free_port};
use mailkeep_bench::setup;
use mailkeep_bench::stats::Samples;

const BIN: &str = env!("CARGO_BIN_EXE_mailkeep");
/// Blocks per number of connections, each of [`BLOCK`] messages per
/// server.
const BLOCKS: usize = 8;
/// Messages per block (split among the connections: a multiple of 4).
const BLOCK: usize = 48;
/// Messages of each block of the serial fsync test.
const SERIAL_BLOCK: usize = 24;
const USER: &str = "bench";
const TIMEOUT: Duration = Duration::from_secs(60);
/// Deliveries whose IDLE delay is measured (after one unmeasured).
const IDLE_DELIVERIES: usize = 50;

/// A 5 KB message numbered `i`, no line starting with a dot.
fn message(i: usize) -> Vec<u8> {
    delivery_message(i, USER, 5000)
}

/// `connections` LMTP connections to `addr`, after one delivery that
/// warms the server up (the user's storage process runs, the index
/// exists).
fn open(addr: SocketAddr, connections: usize) -> Vec<LmtpClient> {
    LmtpClient::connect(addr, TIMEOUT)
        .and_then(|mut c| c.deliver(USER, &message(usize::MAX)))
        .expect("first delivery");
    (0..connections)
        .map(|_| LmtpClient::connect(addr, TIMEOUT).expect("connecting"))
        .collect()
}

/// Delivers one block of [`BLOCK`] messages (numbered from `first`) over
/// `clients` at once; the clients back and the time it took.
fn block(clients: Vec<LmtpClient>, first: usize) -> (Vec<LmtpClient>, Duration) {
    let per = BLOCK / clients.len();
    let start = Instant::now();
    let threads: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(t, mut c)| {
            std::thread::spawn(move || {
                for i in 0..per {
                    c.deliver(USER, &message(first + t * per + i))
                        .expect("delivery");
                }
                c
            })
        })
        .collect();
    let clients = threads
        .into_iter()
        .map(|t| t.join().expect("a delivering thread"))
        .collect();
    (clients, start.elapsed())
}

/// One server's side of a run: its connections, the time of its blocks
/// and the part of it that was writing back what it left dirty.
struct Side {
    clients: Vec<LmtpClient>,
    took: Duration,
    written_back: Duration,
}

/// A server's rate in messages per second and the share of its time
/// that was the write-back after its blocks.
struct Rate {
    per_second: f64,
    write_back_share: f64,
}

impl Side {
    fn rate(&self) -> Rate {
        Rate {
            per_second: (BLOCKS * BLOCK) as f64 / self.took.as_secs_f64(),
            write_back_share: self.written_back.as_secs_f64() / self.took.as_secs_f64(),
        }
    }
}

/// The rate of each server over `connections` connections (the
/// baseline's `None` without one), and the serial fsync rate measured
/// between their blocks, in `dir`.
fn rates(
    ours: SocketAddr,
    theirs: Option<SocketAddr>,
    connections: usize,
    dir: &std::path::Path,
) -> (Rate, Option<Rate>, f64) {
    let side = |clients| Side {
        clients,
        took: Duration::ZERO,
        written_back: Duration::ZERO,
    };
    let mut ours = side(open(ours, connections));
    let mut theirs = theirs.map(|addr| side(open(addr, connections)));
    let mut serial = Duration::ZERO;
    for b in 0..BLOCKS {
        serial += serial_fsync_block(dir, b);
        let first = b * BLOCK;
        let run = |side: &mut Side| {
            let (clients, took) = block(std::mem::take(&mut side.clients), first);
            side.clients = clients;
            let written_back = write_back(dir);
            side.took += took + written_back;
            side.written_back += written_back;
        };
        // Which server goes first alternates.
        if b % 2 == 0 {
            run(&mut ours);
        }
        if let Some(theirs) = theirs.as_mut() {
            run(theirs);
        }
        if b % 2 == 1 {
            run(&mut ours);
        }
    }
    (
        ours.rate(),
        theirs.map(|t| t.rate()),
        (BLOCKS * SERIAL_BLOCK) as f64 / serial.as_secs_f64(),
    )
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

/// How long writing back what is still dirty on `dir`'s file system
/// took: counted into the block of the server that left it there (a
/// journal, an index, files to be flushed later), so that neither server's
/// deferred writes land in the other's block, and each pays for its own.
fn write_back(dir: &std::path::Path) -> Duration {
    let start = Instant::now();
    let dir_file = std::fs::File::open(dir).expect("the work directory");
    if let Err(e) = nix::unistd::syncfs(&dir_file) {
        panic!("syncfs of {}: {e}", dir.display());
    }
    start.elapsed()
}

/// The time of one block of the serial fsync test (numbered `b`) in
/// `dir`: [`SERIAL_BLOCK`] times write 5 KB, fsync, rename, fsync the
/// directory.
fn serial_fsync_block(dir: &std::path::Path, b: usize) -> Duration {
    let tmp = dir.join("fsync-tmp");
    let cur = dir.join("fsync-cur");
    std::fs::create_dir_all(&tmp).expect("tmp");
    std::fs::create_dir_all(&cur).expect("cur");
    let body = message(0);
    let start = Instant::now();
    for i in 0..SERIAL_BLOCK {
        let name = format!("m{b}-{i}");
        let path = tmp.join(&name);
        let mut f = std::fs::File::create(&path).expect("create");
        f.write_all(&body).expect("write");
        f.sync_all().expect("fsync");
        std::fs::rename(&path, cur.join(&name)).expect("rename");
        std::fs::File::open(&cur)
            .and_then(|d| d.sync_all())
            .expect("fsync dir");
    }
    start.elapsed()
}

fn main() {
    println!("machine load {} at start", report::machine_load());
    println!("machine idle: {}", report::machine_idle());
    let dir = setup::workdir("lmtp-vs-dovecot-").expect("work directory");
    let account = Account {
        name: USER.into(),
        password: "secret".into(),
    };
    let (mailkeep, hash) =
        Mailkeep::start_lingering_with(BIN.as_ref(), dir.path(), &account, "PLAIN")
            .expect("starting mailkeep with its account");
    let lmtp_port = free_port().expect("a port");
    let dovecot =
        match Dovecot::start_with(dir.path(), &[(USER.to_owned(), hash)], 10, Some(lmtp_port)) {
            Ok(dovecot) => {
                println!("baseline: {}", dovecot.version());
                Some(dovecot)
            }
            Err(e) => {
                println!("note: {e}");
                None
            }
        };
    let theirs_addr = dovecot
        .as_ref()
        .map(|_| SocketAddr::from(([127, 0, 0, 1], lmtp_port)));
    println!(
        "LMTP delivery of {} messages of 5 KB to one user, per server and number of \
         connections, in {BLOCKS} blocks alternating between the servers; the serial rate of \
         write 5 KB + fsync + rename + fsync dir measured between the blocks:",
        BLOCKS * BLOCK
    );
    for (what, connections) in [("1 connection", 1), ("4 connections", 4)] {
        let (ours, theirs, serial) =
            rates(mailkeep.lmtp_addr(), theirs_addr, connections, dir.path());
        println!(
            "{}",
            report::line(
                what,
                "msg/s",
                ours.per_second,
                theirs.as_ref().map(|t| t.per_second),
                Better::Higher
            )
        );
        println!(
            "  {what}: serial fsync rate {} /s; mailkeep / serial fsync rate = {:.2}",
            report::num(serial),
            report::ratio(ours.per_second, serial)
        );
        let share = |r: &Rate| format!("{:.0}%", r.write_back_share * 100.0);
        println!(
            "  {what}: the write-back after each block was {} of mailkeep's time{}",
            share(&ours),
            theirs
                .as_ref()
                .map(|t| format!(", {} of dovecot's", share(t)))
                .unwrap_or_default()
        );
    }
    let ours_idle = idle_delay(mailkeep.lmtp_addr(), mailkeep.process().addr(), &account);
    let theirs = dovecot
        .as_ref()
        .zip(theirs_addr)
        .map(|(dovecot, addr)| idle_delay(addr, dovecot.process().addr(), &account));
    drop(mailkeep);
    drop(dovecot);
    println!("From LMTP's 250 to EXISTS in IDLE, {IDLE_DELIVERIES} deliveries:");
    let theirs_idle = theirs.as_ref();
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
