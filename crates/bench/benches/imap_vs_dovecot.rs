//! mailkeep's IMAP server against Debian's Dovecot (2.3) on the same
//! machine in the same run, printed as ratios mailkeep/dovecot.
//!
//! Both servers get the same workload from the test kit's blocking IMAP
//! client (`mailkeep_testkit::BlockingClient`), over plain TCP on 127.0.0.1, one server at a time: APPEND of
//! [`N`] messages of about 4 KB, SELECT (first and again), FETCH of the
//! metadata, of ENVELOPE (when mailkeep implements it) and of whole
//! messages, SEARCH TEXT of a word in 1% of the messages and of one in none,
//! STORE +FLAGS/-FLAGS (\Seen) on all, and LOGIN+SELECT+LOGOUT sessions.
//!
//! Dovecot runs from a throwaway configuration in a temporary directory
//! (as `crates/store/tests/data/dovecot/regenerate.py` does), with the very
//! `{ARGON2ID}` hash that `mailkeep user add` wrote, so both servers verify
//! the same password hash at LOGIN. Without Dovecot (or root) the baseline
//! is skipped with a note and mailkeep's absolute figures are still printed.
//!
//! Every wait and read is bounded; both servers are stopped at the end.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mailkeep_bench::messages::{ABSENT, RARE, internal_date, text_message as message};
use mailkeep_bench::report::{self, Better, ms};
use mailkeep_bench::servers::Account;
use mailkeep_bench::servers::dovecot::Dovecot;
use mailkeep_bench::servers::mailkeep::Mailkeep;
use mailkeep_bench::setup;
use mailkeep_testkit::{Append, BlockingClient, Reply};

const BIN: &str = env!("CARGO_BIN_EXE_mailkeep");
/// Messages appended.
const N: usize = 2000;
/// Repetitions of the cheap steps (the median is reported).
const REPS: usize = 5;
/// Repetitions of whole-message FETCH and SEARCH.
const HEAVY_REPS: usize = 3;
/// LOGIN+SELECT+LOGOUT sessions timed.
const SESSIONS: usize = 10;
const USER: &str = "bench";
const PASSWORD: &str = "secret";
/// Any single read from a server waits at most this long.
const READ_TIMEOUT: Duration = Duration::from_secs(120);

fn main() {
    println!("machine load {} at start", report::machine_load());
    println!("machine idle: {}", report::machine_idle());
    let dir = setup::workdir("imap-vs-dovecot-").expect("work directory");
    let messages: Vec<Vec<u8>> = (0..N).map(message).collect();
    let expected_rare: Vec<u32> = (1..=N as u32).filter(|u| (u - 1) % 100 == 42).collect();
    let total_bytes: u64 = messages.iter().map(|m| m.len() as u64).sum();
    println!(
        "workload: {N} messages, {:.1} KB on average, {total_bytes} bytes in all; \
         {RARE:?} in {} of them",
        total_bytes as f64 / N as f64 / 1000.0,
        expected_rare.len()
    );

    // mailkeep first, alone on the machine.
    let account = Account {
        name: USER.into(),
        password: PASSWORD.into(),
    };
    let (mailkeep, hash) =
        Mailkeep::start_lingering_with(BIN.as_ref(), dir.path(), &account, "ARGON2ID")
            .expect("starting mailkeep with its account");
    println!(
        "password hash (both servers): {}",
        hash.split('$').take(4).collect::<Vec<_>>().join("$")
    );
    let ours = workload(mailkeep.process().port(), &messages, None);
    drop(mailkeep);

    // Then Dovecot, with the same password hash.
    let theirs = match Dovecot::start(dir.path(), &[(USER.to_owned(), hash)], 100) {
        Ok(dovecot) => {
            println!(
                "Dovecot {}: maildir, default settings (mail_fsync = optimized, no FTS plugin)",
                dovecot.version()
            );
            let run = workload(
                dovecot.process().port(),
                &messages,
                Some(ours.envelope.is_ok()),
            );
            drop(dovecot);
            Some(run)
        }
        Err(why) => {
            println!("Dovecot baseline skipped: {why}");
            None
        }
    };
    report(&ours, theirs.as_ref(), total_bytes, &expected_rare);
    println!("machine load {} at the end", report::machine_load());
}

// ---------------------------------------------------------------------------
// The IMAP client
// ---------------------------------------------------------------------------

/// One connection, one command at a time: the test kit's blocking client.
struct Imap(BlockingClient);

/// A reply that must be OK.
trait ExpectOk {
    fn expect_ok(self, what: &str) -> Self;
}

impl ExpectOk for Reply {
    fn expect_ok(self, what: &str) -> Reply {
        assert!(self.is_ok(), "{what}: {:?}", self.tagged);
        self
    }
}

impl Imap {
    /// Connects and reads the greeting.
    fn connect(port: u16) -> Imap {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        Imap(BlockingClient::connect(addr, READ_TIMEOUT).expect("connecting"))
    }

    /// Connects, logs in and selects INBOX.
    fn session(port: u16) -> Imap {
        let mut imap = Imap::connect(port);
        imap.command(&format!("LOGIN {USER} {PASSWORD}"))
            .expect_ok("LOGIN");
        imap.command("SELECT INBOX").expect_ok("SELECT");
        imap
    }

    fn command(&mut self, command: &str) -> Reply {
        self.0
            .run(command)
            .unwrap_or_else(|e| panic!("{command}: {e}"))
    }

    /// APPEND to INBOX with internal date `date` and a synchronizing
    /// literal (the same round trips on both servers).
    fn append(&mut self, date: &str, message: &[u8]) -> Reply {
        self.0
            .append_with(&Append::new("INBOX", message).date(date))
            .unwrap_or_else(|e| panic!("APPEND: {e}"))
    }

    /// LOGOUT, checking the BYE and the tagged OK.
    fn logout(self) {
        self.0.logout();
    }
}

// ---------------------------------------------------------------------------
// The workload
// ---------------------------------------------------------------------------

/// What one server did and answered.
struct Run {
    append: Duration,
    select_first: Duration,
    select_again: Duration,
    exists: Option<u32>,
    fetch_meta: Duration,
    fetch_meta_count: usize,
    /// The ENVELOPE step, or why it was skipped.
    envelope: Result<(Duration, usize), String>,
    fetch_body: Duration,
    fetch_body_count: usize,
    fetch_body_bytes: u64,
    search_rare_first: Duration,
    search_rare: Duration,
    rare: Vec<u32>,
    search_none: Duration,
    none: Vec<u32>,
    store_add: Duration,
    store_remove: Duration,
    store_counts: (usize, usize),
    session: Duration,
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn timed<T>(f: impl FnOnce() -> T) -> (Duration, T) {
    let started = Instant::now();
    let value = f();
    (started.elapsed(), value)
}

/// Sends `command` `reps` times; its median time, its first time and the
/// last reply.
fn repeat(imap: &mut Imap, command: &str, reps: usize) -> (Duration, Duration, Reply) {
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..reps.max(1) {
        let (took, reply) = timed(|| imap.command(command).expect_ok(command));
        times.push(took);
        last = Some(reply);
    }
    let first = times[0];
    (median(times), first, last.expect("at least one reply"))
}

/// Runs every step on the server at `port`. `envelope`: whether to run the
/// ENVELOPE step (`None`: probe, as done on mailkeep).
fn workload(port: u16, messages: &[Vec<u8>], envelope: Option<bool>) -> Run {
    // 1. APPEND.
    let mut imap = Imap::connect(port);
    imap.command(&format!("LOGIN {USER} {PASSWORD}"))
        .expect_ok("LOGIN");
    let (append, ()) = timed(|| {
        for (i, m) in messages.iter().enumerate() {
            imap.append(&internal_date(i), m).expect_ok("APPEND");
        }
    });
    imap.logout();

    // 2. SELECT, first in a new session, then again.
    let mut imap = Imap::connect(port);
    imap.command(&format!("LOGIN {USER} {PASSWORD}"))
        .expect_ok("LOGIN");
    let (select_first, selected) = timed(|| imap.command("SELECT INBOX").expect_ok("SELECT"));
    let exists = selected.exists();
    let select_again = median(
        (0..REPS)
            .map(|_| timed(|| imap.command("SELECT INBOX").expect_ok("SELECT")).0)
            .collect(),
    );

    // 3. FETCH of the metadata.
    let (fetch_meta, _, meta) = repeat(
        &mut imap,
        "FETCH 1:* (FLAGS UID RFC822.SIZE INTERNALDATE)",
        REPS,
    );

    // 4. FETCH ENVELOPE, where mailkeep has it.
    let envelope = match envelope {
        Some(false) => Err("not implemented by mailkeep".to_string()),
        _ => {
            let probe = imap.command("FETCH 1 (ENVELOPE)");
            if probe.is_ok() {
                let (took, _, reply) = repeat(&mut imap, "FETCH 1:* (ENVELOPE)", REPS);
                Ok((took, reply.fetches().len()))
            } else {
                Err(format!("the server answered `{:?}`", probe.tagged))
            }
        }
    };

    // 5. FETCH of whole messages.
    let (fetch_body, _, body) = repeat(&mut imap, "FETCH 1:* BODY.PEEK[]", HEAVY_REPS);

    // 6. SEARCH TEXT: a word in 1%, a word in none.
    let search = |word: &str| format!("UID SEARCH TEXT \"{word}\"");
    let (search_rare, search_rare_first, rare) = repeat(&mut imap, &search(RARE), HEAVY_REPS);
    let (search_none, _, none) = repeat(&mut imap, &search(ABSENT), HEAVY_REPS);

    // 7. STORE +FLAGS and -FLAGS (\Seen) on every message.
    let (mut adds, mut removes) = (Vec::new(), Vec::new());
    let mut store_counts = (0, 0);
    for _ in 0..REPS {
        let (took, reply) = timed(|| {
            imap.command("STORE 1:* +FLAGS (\\Seen)")
                .expect_ok("STORE +FLAGS")
        });
        adds.push(took);
        store_counts.0 = reply.fetches().len();
        let (took, reply) = timed(|| {
            imap.command("STORE 1:* -FLAGS (\\Seen)")
                .expect_ok("STORE -FLAGS")
        });
        removes.push(took);
        store_counts.1 = reply.fetches().len();
    }
    imap.logout();

    // 8. Whole sessions: LOGIN, SELECT INBOX, LOGOUT.
    let session = median(
        (0..SESSIONS)
            .map(|_| timed(|| Imap::session(port).logout()).0)
            .collect(),
    );

    Run {
        append,
        select_first,
        select_again,
        exists,
        fetch_meta,
        fetch_meta_count: meta.fetches().len(),
        envelope,
        fetch_body,
        fetch_body_count: body.fetches().len(),
        fetch_body_bytes: body.literal_bytes(),
        search_rare_first,
        search_rare,
        rare: rare.search(),
        search_none,
        none: none.search(),
        store_add: median(adds),
        store_remove: median(removes),
        store_counts,
        session,
    }
}

// ---------------------------------------------------------------------------
// The report
// ---------------------------------------------------------------------------

/// One step's line.
fn line(step: &str, unit: &str, ours: f64, theirs: Option<f64>, higher_is_better: bool) {
    let better = if higher_is_better {
        Better::Higher
    } else {
        Better::Lower
    };
    println!("{}", report::line(step, unit, ours, theirs, better));
}

fn report(ours: &Run, theirs: Option<&Run>, total_bytes: u64, expected_rare: &[u32]) {
    type Figure = fn(&Run) -> f64;
    let per_msg = |d: Duration, count: usize| d.as_secs_f64() * 1e6 / count.max(1) as f64;
    println!();
    let steps: [(&str, &str, Figure, bool); 5] = [
        (
            "1. APPEND (4 KB messages)",
            "msg/s",
            |r| N as f64 / r.append.as_secs_f64(),
            true,
        ),
        (
            "2a. SELECT INBOX (first, new session)",
            "ms",
            |r| ms(r.select_first),
            false,
        ),
        (
            "2b. SELECT INBOX (again, median)",
            "ms",
            |r| ms(r.select_again),
            false,
        ),
        (
            "3. FETCH 1:* (FLAGS UID RFC822.SIZE INTERNALDATE)",
            "us/msg",
            |r| r.fetch_meta.as_secs_f64() * 1e6 / N as f64,
            false,
        ),
        (
            "5. FETCH 1:* BODY.PEEK[]",
            "MB/s",
            |r| r.fetch_body_bytes as f64 / 1e6 / r.fetch_body.as_secs_f64(),
            true,
        ),
    ];
    for (i, (step, unit, figure, higher)) in steps.iter().enumerate() {
        line(step, unit, figure(ours), theirs.map(figure), *higher);
        if i == 3 {
            match (&ours.envelope, theirs.map(|t| &t.envelope)) {
                (Ok((d, n)), Some(Ok((t, m)))) => line(
                    "4. FETCH 1:* (ENVELOPE)",
                    "us/msg",
                    per_msg(*d, *n),
                    Some(per_msg(*t, *m)),
                    false,
                ),
                (Ok((d, n)), _) => line(
                    "4. FETCH 1:* (ENVELOPE)",
                    "us/msg",
                    per_msg(*d, *n),
                    None,
                    false,
                ),
                (Err(why), _) => {
                    println!("4. FETCH 1:* (ENVELOPE): skipped on both servers: {why}")
                }
            }
        }
    }
    let rest: [(&str, &str, Figure, bool); 6] = [
        (
            "6a. UID SEARCH TEXT (word in 1%, first run)",
            "ms",
            |r| ms(r.search_rare_first),
            false,
        ),
        (
            "6b. UID SEARCH TEXT (word in 1%, median)",
            "ms",
            |r| ms(r.search_rare),
            false,
        ),
        (
            "6c. UID SEARCH TEXT (word in none, median)",
            "ms",
            |r| ms(r.search_none),
            false,
        ),
        (
            "7a. STORE 1:* +FLAGS (\\Seen)",
            "ms",
            |r| ms(r.store_add),
            false,
        ),
        (
            "7b. STORE 1:* -FLAGS (\\Seen)",
            "ms",
            |r| ms(r.store_remove),
            false,
        ),
        (
            "8. LOGIN+SELECT+LOGOUT session (argon2id, median)",
            "ms",
            |r| ms(r.session),
            false,
        ),
    ];
    for (step, unit, figure, higher) in rest {
        line(step, unit, figure(ours), theirs.map(figure), higher);
    }

    println!();
    let check = |what: &str, ok: bool, detail: String| {
        println!(
            "check, {what}: {} ({detail})",
            if ok { "yes" } else { "NO" }
        );
    };
    let expected = N as u32;
    let show = |r: &Run| {
        format!(
            "EXISTS {:?}, metadata FETCH {}, body FETCH {} messages {} bytes, STORE {}/{} FETCH \
             responses",
            r.exists,
            r.fetch_meta_count,
            r.fetch_body_count,
            r.fetch_body_bytes,
            r.store_counts.0,
            r.store_counts.1
        )
    };
    let sane = |r: &Run| {
        r.exists == Some(expected)
            && r.fetch_meta_count == N
            && r.fetch_body_count == N
            && r.fetch_body_bytes == total_bytes
            && r.store_counts == (N, N)
    };
    check(
        "mailkeep's counts and sizes match the workload",
        sane(ours),
        format!("{}; expected {N} and {total_bytes} bytes", show(ours)),
    );
    check(
        "mailkeep's search hits match the workload",
        ours.rare == expected_rare && ours.none.is_empty(),
        format!(
            "{} and {} hits; expected {} and 0",
            ours.rare.len(),
            ours.none.len(),
            expected_rare.len()
        ),
    );
    let Some(theirs) = theirs else {
        println!("check, dovecot: skipped (no Dovecot baseline)");
        return;
    };
    check(
        "dovecot's counts and sizes match mailkeep's",
        sane(theirs)
            && ours.exists == theirs.exists
            && ours.fetch_body_bytes == theirs.fetch_body_bytes,
        format!("dovecot: {}", show(theirs)),
    );
    check(
        "both servers found the same UIDs",
        ours.rare == theirs.rare && ours.none == theirs.none,
        format!(
            "{RARE}: mailkeep {} UIDs, dovecot {}; {ABSENT}: mailkeep {}, dovecot {}",
            ours.rare.len(),
            theirs.rare.len(),
            ours.none.len(),
            theirs.none.len()
        ),
    );
    if let (Ok((_, a)), Ok((_, b))) = (&ours.envelope, &theirs.envelope) {
        check(
            "both servers sent as many ENVELOPEs",
            a == b,
            format!("{a} and {b}"),
        );
    }
}
