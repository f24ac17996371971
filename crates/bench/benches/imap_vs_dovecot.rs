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

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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
/// In the Subject of messages 42, 242, ... and the body of 142, 342, ...:
/// 1% of the messages.
const RARE: &str = "quokkaphant";
const ABSENT: &str = "zyxwvnevertq";
/// Owner of the Dovecot test home (mailkeep's default mail uid/gid).
const MAIL_ID: u32 = 5000;
/// Any single read from a server waits at most this long.
const READ_TIMEOUT: Duration = Duration::from_secs(120);

fn main() {
    let dir = tempfile::Builder::new()
        .prefix("imap-vs-dovecot-")
        .tempdir()
        .expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
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
    let (mailkeep, hash) = start_mailkeep(dir.path());
    println!(
        "password hash (both servers): {}",
        hash.split('$').take(4).collect::<Vec<_>>().join("$")
    );
    let ours = workload(mailkeep.port, &messages, None);
    drop(mailkeep);

    // Then Dovecot, with the same password hash.
    let theirs = match start_dovecot(dir.path(), &hash) {
        Ok(dovecot) => {
            let run = workload(dovecot.port, &messages, Some(ours.envelope.is_ok()));
            drop(dovecot);
            Some(run)
        }
        Err(why) => {
            println!("Dovecot baseline skipped: {why}");
            None
        }
    };
    report(&ours, theirs.as_ref(), total_bytes, &expected_rare);
}

// ---------------------------------------------------------------------------
// The messages
// ---------------------------------------------------------------------------

/// Body and subject words.
const WORDS: &str = "meeting report budget project deadline review lunch invoice release \
    server backup schedule holiday garden bicycle coffee weather train concert library kitchen \
    window mountain river harbour market question answer update draft contract customer support \
    ticket network printer monitor keyboard planning quarter summary minutes agenda travel hotel \
    flight museum recipe birthday invitation the and with from about please thanks tomorrow \
    today friday monday office team notes";
/// First names of senders and recipients (addresses are `name@...`).
const NAMES: &str = "Alice Bob Carol Dave Eve Frank Grace Heidi Ivan Judy Mallory Niaj Olivia";
const MONTHS: &str = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec";
const ZONES: &str = "+0000 +0100 +0200 -0500 -0800 +0530 +0900";

/// The `k`-th (modulo their count) of the words of `list`.
fn nth(list: &'static str, k: usize) -> &'static str {
    let count = list.split_ascii_whitespace().count();
    list.split_ascii_whitespace().nth(k % count).unwrap_or("")
}

/// A deterministic xorshift64* generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize
    }

    /// A word of `list`.
    fn pick(&mut self, list: &'static str) -> &'static str {
        nth(list, self.next())
    }
}

/// Message `i`'s date as `(day, month, year, time, zone)`: the same in
/// its Date: header and its APPEND date-time.
fn date_of(i: usize) -> (usize, &'static str, usize, String, &'static str) {
    let time = format!("{:02}:{:02}:{:02}", i % 24, (i * 7) % 60, (i * 13) % 60);
    (
        1 + i % 28,
        nth(MONTHS, i / 28),
        2020 + i % 5,
        time,
        nth(ZONES, i),
    )
}

/// Message `i` (UID `i + 1`): about 4 KB, CRLF lines, varied headers and
/// body words; [`RARE`] in 1% of them, [`ABSENT`] in none.
fn message(i: usize) -> Vec<u8> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (i as u64 + 1).wrapping_mul(0x1000_0001));
    let (day, month, year, time, zone) = date_of(i);
    let from = nth(NAMES, i);
    let to = nth(NAMES, i * 5 + 3);
    let mut subject: Vec<&str> = (0..3 + rng.next() % 4).map(|_| rng.pick(WORDS)).collect();
    if i % 200 == 42 {
        subject.push(RARE);
    }
    let mut text = format!(
        "From: {from} Example <{}@example{}.org>\r\n\
         To: {to} Sample <{}@example.net>\r\n\
         Subject: {} #{i}\r\n\
         Date: {day} {month} {year} {time} {zone}\r\n\
         Message-ID: <bench{i}@imap-vs-dovecot.example>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=us-ascii\r\n\
         \r\n",
        from.to_lowercase(),
        i % 7,
        to.to_lowercase(),
        subject.join(" "),
    );
    let target = 3600 + rng.next() % 800;
    let rare_line = (i % 200 == 142).then(|| 5 + rng.next() % 20);
    let mut line_no = 0;
    while text.len() < target {
        let mut line = String::new();
        if rare_line == Some(line_no) {
            line.push_str(RARE);
        }
        while line.len() < 66 {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(rng.pick(WORDS));
        }
        text.push_str(&line);
        text.push_str("\r\n");
        line_no += 1;
    }
    text.into_bytes()
}

/// APPEND's date-time argument for message `i` (the same as its Date:).
fn internal_date(i: usize) -> String {
    let (day, month, year, time, zone) = date_of(i);
    format!("\"{day:02}-{month}-{year} {time} {zone}\"")
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
// The servers
// ---------------------------------------------------------------------------

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A running server: SIGTERM when dropped, SIGKILL 10 s later.
struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until the server accepts connections; `Err` if its process ends
/// or 20 s pass first.
fn wait_listening(server: &mut Server) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", server.port)).is_err() {
        if let Ok(Some(status)) = server.child.try_wait() {
            return Err(format!("it exited at start ({status})"));
        }
        if Instant::now() >= deadline {
            return Err("it did not listen within 20 s".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// Starts mailkeep with data in `dir/mailkeep` and adds the bench user;
/// returns the server and the user's password hash from the users file.
fn start_mailkeep(dir: &Path) -> (Server, String) {
    let port = free_port();
    let data = dir.join("mailkeep");
    let config = dir.join("mailkeep.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\ndata_dir = \"{}\"\n[[imap.listener]]\nname = \"imap\"\naddress = \"127.0.0.1:{port}\"\nkind = \"plain\"\n\
             [storage]\nlinger_min_secs = 600\n",
            data.display()
        ),
    )
    .expect("mailkeep config");
    let mut server = Server {
        child: Command::new(BIN)
            .args(["serve", "--config"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting mailkeep"),
        port,
    };
    if let Err(why) = wait_listening(&mut server) {
        panic!("mailkeep did not start: {why}");
    }
    let mut add = Command::new(BIN)
        .args(["user", "add", USER, "--config"])
        .arg(&config)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("mailkeep user add");
    add.stdin
        .take()
        .expect("stdin")
        .write_all(format!("{PASSWORD}\n").as_bytes())
        .expect("password");
    assert!(add.wait().expect("user add").success(), "user add failed");
    let users = std::fs::read_to_string(data.join("users")).expect("reading the users file");
    let hash = users
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{USER}:")))
        .and_then(|rest| rest.split(':').next())
        .expect("the bench user in the users file")
        .to_string();
    (server, hash)
}

/// The Dovecot configuration: everything under `tmp`, plain IMAP on
/// 127.0.0.1:`port`, users from `tmp/passwd` (as regenerate.py does).
fn dovecot_config(tmp: &Path, port: u16) -> String {
    let tmp = tmp.display();
    format!(
        "protocols = imap
listen = 127.0.0.1
base_dir = {tmp}/run
state_dir = {tmp}/state
log_path = {tmp}/dovecot.log
info_log_path = {tmp}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {{
  driver = passwd-file
  args = {tmp}/passwd
}}
userdb {{
  driver = passwd-file
  args = {tmp}/passwd
}}
mail_location = maildir:~/Maildir
first_valid_uid = 1
protocol imap {{
  mail_max_userip_connections = 100
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
"
    )
}

fn find_dovecot() -> Option<PathBuf> {
    ["/usr/sbin/dovecot", "/usr/local/sbin/dovecot"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

/// Starts a throwaway Dovecot whose only user has password hash `hash`;
/// `Err` says why the baseline cannot run.
fn start_dovecot(dir: &Path, hash: &str) -> Result<Server, String> {
    let Some(dovecot) = find_dovecot() else {
        return Err("dovecot is not installed (apt-get install dovecot-imapd)".into());
    };
    if !nix::unistd::Uid::effective().is_root() {
        return Err("the throwaway Dovecot needs root (it runs as root, mail as uid 5000)".into());
    }
    let tmp = dir.join("dovecot");
    for sub in ["run", "state", "home"] {
        std::fs::create_dir_all(tmp.join(sub)).expect("dovecot directories");
    }
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let home = tmp.join("home");
    std::os::unix::fs::chown(&home, Some(MAIL_ID), Some(MAIL_ID)).expect("chown of the home");
    std::fs::write(
        tmp.join("passwd"),
        format!("{USER}:{hash}:{MAIL_ID}:{MAIL_ID}::{}\n", home.display()),
    )
    .expect("passwd file");
    let port = free_port();
    let conf = tmp.join("dovecot.conf");
    std::fs::write(&conf, dovecot_config(&tmp, port)).expect("dovecot config");
    let output = std::fs::File::create(tmp.join("stderr.log")).expect("stderr log");
    let mut server = Server {
        child: Command::new(&dovecot)
            .arg("-F")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(output)
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", dovecot.display()))?,
        port,
    };
    if let Err(why) = wait_listening(&mut server) {
        let log = |name: &str| std::fs::read_to_string(tmp.join(name)).unwrap_or_default();
        return Err(format!(
            "Dovecot did not start: {why}\n{}{}",
            log("stderr.log"),
            log("dovecot.log")
        ));
    }
    let version = Command::new(&dovecot)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    println!(
        "Dovecot {version}: maildir, default settings (mail_fsync = optimized, no FTS plugin)"
    );
    Ok(server)
}

// ---------------------------------------------------------------------------
// The report
// ---------------------------------------------------------------------------

/// A number with about three significant digits.
fn num(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else if x >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// One step's line.
fn line(step: &str, unit: &str, ours: f64, theirs: Option<f64>, higher_is_better: bool) {
    let better = if higher_is_better { "higher" } else { "lower" };
    match theirs {
        Some(theirs) => println!(
            "{step}: mailkeep {} {unit}, dovecot {} {unit}, ratio mailkeep/dovecot {:.2} \
             ({better} is better)",
            num(ours),
            num(theirs),
            ours / theirs.max(1e-12)
        ),
        None => println!(
            "{step}: mailkeep {} {unit}, dovecot skipped ({better} is better)",
            num(ours)
        ),
    }
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
