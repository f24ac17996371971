//! Messages with a large attachment, against Debian's Dovecot (2.3) on the
//! same machine in the same run, printed as ratios mailkeep/dovecot: what
//! a mail client does with them that should not cost the attachment's
//! size. [`M`] messages, each a short text part and an attachment of about
//! [`ATTACHMENT_MB`] MB in base64, are appended; then, one server at a
//! time: the first FETCH BODYSTRUCTURE (parsing), again (cached), the text
//! part (BODY[1]), a header list (HEADER.FIELDS), a window of the
//! attachment (BODY[2]<0.100>), SEARCH SUBJECT, SEARCH BODY of a word in
//! the text parts and of a word in none, the attachments themselves
//! (BODY[2], BINARY[2] decoded, BINARY.SIZE[2]) with the most any server
//! process's memory rose while it sent them, one message downloaded in
//! windows of 64 KiB (as Thunderbird does), and the whole messages for
//! scale.
//!
//! Dovecot runs from a throwaway configuration (as in `imap_vs_dovecot`)
//! with the very password hash mailkeep's `user add` wrote; without it
//! (or root) the baseline is skipped with a note. Every read is bounded;
//! both servers are stopped at the end.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mailkeep_bench::procs::PeakWatch;
use mailkeep_bench::report::{self, Better, ms};
use mailkeep_bench::servers::dovecot::Dovecot;
use mailkeep_bench::servers::mailkeep::Mailkeep;
use mailkeep_bench::servers::{Account, ServerProcess};
use mailkeep_bench::setup;
use mailkeep_testkit::{Append, BlockingClient, Reply};

const BIN: &str = env!("CARGO_BIN_EXE_mailkeep");
/// Messages appended.
const M: usize = 5;
/// Size of each attachment, in MB of base64.
const ATTACHMENT_MB: usize = 20;
/// Repetitions of every step but the first BODYSTRUCTURE (median).
const REPS: usize = 5;
const USER: &str = "bench";
const PASSWORD: &str = "secret";
const READ_TIMEOUT: Duration = Duration::from_secs(120);
/// The window of a download by windows (Thunderbird's default chunk).
const WINDOW: usize = 65_536;

/// The steps, each an IMAP command run on the selected INBOX.
const STEPS: [(&str, &str); 8] = [
    ("BODYSTRUCTURE, again", "FETCH 1:* (BODYSTRUCTURE)"),
    ("ENVELOPE", "FETCH 1:* (ENVELOPE)"),
    ("text part BODY.PEEK[1]", "FETCH 1:* (BODY.PEEK[1])"),
    (
        "header list HEADER.FIELDS",
        "FETCH 1:* (BODY.PEEK[HEADER.FIELDS (FROM SUBJECT DATE)])",
    ),
    (
        "attachment window BODY.PEEK[2]<0.100>",
        "FETCH 1:* (BODY.PEEK[2]<0.100>)",
    ),
    ("SEARCH SUBJECT", "UID SEARCH SUBJECT \"quarterly\""),
    (
        "SEARCH BODY (in the text parts)",
        "UID SEARCH BODY \"periwinkle\"",
    ),
    ("SEARCH BODY (in none)", "UID SEARCH BODY \"xylophonist\""),
];

/// The steps that send or measure the attachments, after which the peak
/// memory growth is read.
const DOWNLOADS: [(&str, &str); 3] = [
    ("attachment BODY.PEEK[2]", "FETCH 1:* (BODY.PEEK[2])"),
    (
        "attachment BINARY.PEEK[2] (decoded)",
        "FETCH 1:* (BINARY.PEEK[2])",
    ),
    ("attachment BINARY.SIZE[2]", "FETCH 1:* (BINARY.SIZE[2])"),
];

fn main() {
    println!("machine load {} at start", report::machine_load());
    println!("machine idle: {}", report::machine_idle());
    let dir = setup::workdir("large-messages-").expect("work directory");
    let message = large_message();
    println!(
        "workload: {M} messages of {:.1} MB (a text part and a base64 attachment)",
        message.len() as f64 / 1e6
    );

    let account = Account {
        name: USER.into(),
        password: PASSWORD.into(),
    };
    let (mailkeep, hash) =
        Mailkeep::start_lingering_with(BIN.as_ref(), dir.path(), &account, "ARGON2ID")
            .expect("starting mailkeep with its account");
    let ours = workload(mailkeep.process(), &message);
    drop(mailkeep);

    let theirs = match Dovecot::start(dir.path(), &[(USER.to_owned(), hash)], 100) {
        Ok(dovecot) => {
            println!("Dovecot {}: maildir, default settings", dovecot.version());
            let run = workload(dovecot.process(), &message);
            drop(dovecot);
            Some(run)
        }
        Err(why) => {
            println!("Dovecot baseline skipped: {why}");
            None
        }
    };
    println!();
    for (i, (step, ours)) in ours.steps.iter().enumerate() {
        let theirs = theirs.as_ref().map(|t| ms(t.steps[i].1));
        println!(
            "{}",
            report::line(step, "ms", ms(*ours), theirs, Better::Lower)
        );
    }
    // No ratio: a server that streams from small buffers grows by about
    // nothing, and a ratio to nothing says nothing.
    let peak = |run: &Run| {
        run.peak_kib
            .map(|kib| format!("{:.1} MB", kib as f64 / 1024.0))
    };
    if let Some(ours) = peak(&ours) {
        let theirs = theirs.as_ref().and_then(peak);
        println!(
            "peak memory growth of a server process while sending the attachments: \
             mailkeep {ours}, dovecot {}",
            theirs.as_deref().unwrap_or("not measured")
        );
    }
    if let Some(theirs) = &theirs {
        for (i, (step, answer)) in ours.answers.iter().enumerate() {
            let same = *answer == theirs.answers[i].1;
            println!("check, {step}: same answer on both servers: {same}");
        }
    }
    println!("machine load {} at the end", report::machine_load());
}

/// A message with a short text part (with the word the BODY search finds)
/// and an attachment of [`ATTACHMENT_MB`] MB of base64.
fn large_message() -> Vec<u8> {
    let mut m = b"From: Alice <alice@example.org>\r\nTo: bob@example.net\r\n\
Subject: quarterly figures\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=part\r\n\r\n--part\r\n\
Content-Type: text/plain; charset=utf-8\r\n\r\nThe periwinkle report is attached.\r\n\
--part\r\nContent-Type: application/octet-stream; name=figures.bin\r\n\
Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=figures.bin\r\n\r\n"
        .to_vec();
    let line = format!("{}\r\n", "QUJD".repeat(19));
    for _ in 0..ATTACHMENT_MB * 1_000_000 / line.len() {
        m.extend_from_slice(line.as_bytes());
    }
    m.extend_from_slice(b"--part--\r\n");
    m
}

/// What one server took per step and answered (the answer's FETCH count
/// or SEARCH result, to check both servers answered alike).
struct Run {
    steps: Vec<(String, Duration)>,
    answers: Vec<(String, String)>,
    /// The most a server process's memory rose while the attachments were
    /// sent, KiB; `None` when peaks could not be reset (not root).
    peak_kib: Option<u64>,
}

fn workload(server: &ServerProcess, message: &[u8]) -> Run {
    let addr = SocketAddr::from(([127, 0, 0, 1], server.port()));
    let mut imap = BlockingClient::connect(addr, READ_TIMEOUT).expect("connecting");
    ok(&mut imap, &format!("LOGIN {USER} {PASSWORD}"));
    for _ in 0..M {
        let reply = imap
            .append_with(&Append::new("INBOX", message))
            .unwrap_or_else(|e| panic!("APPEND: {e}"));
        assert!(reply.is_ok(), "APPEND: {:?}", reply.tagged);
    }
    ok(&mut imap, "SELECT INBOX");
    let mut steps = Vec::new();
    let mut answers = Vec::new();
    let (first, _) = timed(|| ok(&mut imap, "FETCH 1:* (BODYSTRUCTURE)"));
    steps.push(("BODYSTRUCTURE, first (parsing)".to_string(), first));
    let mut run_steps = |imap: &mut BlockingClient, list: &[(&str, &str)]| {
        for &(step, command) in list {
            let (took, answer) = median_of(imap, command);
            steps.push((step.to_string(), took));
            answers.push((step.to_string(), answer));
        }
    };
    run_steps(&mut imap, &STEPS);
    let watch = PeakWatch::start(server.pid())
        .map_err(|why| println!("peak memory not measured: {why}"))
        .ok();
    run_steps(&mut imap, &DOWNLOADS);
    let peak_kib = watch.map(|w| w.grown_kib());
    // The first message in windows of 64 KiB, as Thunderbird downloads a
    // message by default: each window should cost its own bytes.
    let (windows, got) = timed(|| in_windows(&mut imap, message.len()));
    steps.push((
        format!("one message in {WINDOW} byte windows BODY.PEEK[]<n.{WINDOW}>"),
        windows,
    ));
    answers.push(("one message in windows".to_string(), format!("{got} bytes")));
    let (whole, _) = timed(|| ok(&mut imap, "FETCH 1:* (BODY.PEEK[])"));
    steps.push(("whole messages BODY.PEEK[] (for scale)".to_string(), whole));
    imap.logout();
    Run {
        steps,
        answers,
        peak_kib,
    }
}

/// The median time of [`REPS`] runs of `command`, and the last answer
/// (its FETCH count or SEARCH result, compared between the servers).
fn median_of(imap: &mut BlockingClient, command: &str) -> (Duration, String) {
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..REPS {
        let (took, reply) = timed(|| ok(imap, command));
        times.push(took);
        last = Some(reply);
    }
    times.sort();
    let reply = last.expect("a reply");
    let answer = if command.contains("SEARCH") {
        format!("{:?}", reply.search())
    } else {
        format!("{} messages", reply.fetches().len())
    };
    (times[times.len() / 2], answer)
}

/// Fetches message 1 (`size` bytes) window by window; the bytes received.
fn in_windows(imap: &mut BlockingClient, size: usize) -> usize {
    let mut received = 0;
    for offset in (0..size).step_by(WINDOW) {
        let reply = ok(imap, &format!("FETCH 1 (BODY.PEEK[]<{offset}.{WINDOW}>)"));
        received += reply.literal_bytes() as usize;
    }
    received
}

fn ok(imap: &mut BlockingClient, command: &str) -> Reply {
    let reply = imap
        .run(command)
        .unwrap_or_else(|e| panic!("{command}: {e}"));
    assert!(reply.is_ok(), "{command}: {:?}", reply.tagged);
    reply
}

fn timed<T>(f: impl FnOnce() -> T) -> (Duration, T) {
    let started = Instant::now();
    let value = f();
    (started.elapsed(), value)
}
