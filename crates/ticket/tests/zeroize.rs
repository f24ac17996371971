//! A host's signing key and the tickets it signs are wiped from memory
//! when dropped, looked for in a live process as an attacker who can read
//! its memory later (a core, a heap dump, a memory-disclosure bug) would:
//! this binary runs itself as a child that holds a key and a ticket, and
//! reads the child's writable memory through `/proc/PID/mem` while they
//! are held (both found: the search works) and after they were dropped
//! (neither found). The child works on its main thread, whose stack is
//! left out: values moved on a stack leave copies there that no destructor
//! can reach; what `Drop` owns is on the heap.
//!
//! `harness = false`: a test harness would run the child's work on a
//! thread of its own, whose stack cannot be told apart from the heap.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::FileExt;
use std::process::{Child, ChildStdout, Command, Stdio};

use mailkeep_ticket::{Claims, HostKey, Scope, SessionId, sign};

/// The child's key: a seed whose bytes occur nowhere else.
const SEED_HEX: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";

/// Set in the child's environment.
const CHILD: &str = "MAILKEEP_ZEROIZE_CHILD";

fn key() -> HostKey {
    HostKey::parse(SEED_HEX).expect("the test seed")
}

/// The same ticket in the child and here (Ed25519 is deterministic).
fn claims() -> Claims {
    Claims::new("alice", Scope::Session, 1_700_000_000, 3600, "mail1")
        .in_session(SessionId([7; 16]), 1_700_086_400)
}

fn seed() -> Vec<u8> {
    (0..32)
        .map(|i| u8::from_str_radix(&SEED_HEX[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

/// The child: holds a key and a ticket (both on the heap), drops them
/// when told, and waits for the end of its input.
fn child() {
    let mut lines = std::io::stdin().lock().lines();
    let key = Box::new(key());
    let ticket = sign(&key, &claims());
    report("held");
    let _ = lines.next();
    drop(ticket);
    drop(key);
    report("dropped");
    let _ = lines.next();
}

fn report(what: &str) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{what}").expect("writing to the parent");
    out.flush().expect("flushing to the parent");
}

/// How many times `needle` occurs in the writable memory of `pid`, its
/// main thread's stack left out.
fn occurrences(pid: u32, needle: &[u8]) -> usize {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).expect("reading maps");
    let mem = std::fs::File::open(format!("/proc/{pid}/mem")).expect("opening mem");
    let mut found = 0;
    for line in maps.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (range, perms) = (fields[0], fields[1]);
        if !perms.starts_with("rw") || fields.get(5) == Some(&"[stack]") {
            continue;
        }
        let (start, end) = range.split_once('-').expect("a range");
        let start = u64::from_str_radix(start, 16).expect("an address");
        let end = u64::from_str_radix(end, 16).expect("an address");
        let mut region = vec![0u8; usize::try_from(end - start).expect("a size")];
        // Guard pages and the like cannot be read: not memory a value is in.
        if mem.read_exact_at(&mut region, start).is_err() {
            continue;
        }
        found += region
            .windows(needle.len())
            .filter(|w| *w == needle)
            .count();
    }
    found
}

fn wait_for(lines: &mut impl Iterator<Item = std::io::Result<String>>, what: &str) {
    let line = lines
        .next()
        .unwrap_or_else(|| panic!("the child ended before {what:?}"))
        .expect("reading from the child");
    assert_eq!(line, what);
}

fn parent() {
    let mut child: Child = Command::new(std::env::current_exe().expect("this binary"))
        .env(CHILD, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("starting the child");
    let stdout: ChildStdout = child.stdout.take().expect("its stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut stdin = child.stdin.take().expect("its stdin");
    let pid = child.id();

    let ticket = sign(&key(), &claims());
    let (_, signature) = ticket.rsplit_once('.').expect("a ticket");
    let secrets = [
        ("the key's seed", seed()),
        ("the ticket", signature.as_bytes().to_vec()),
    ];

    wait_for(&mut lines, "held");
    for (what, bytes) in &secrets {
        assert!(
            occurrences(pid, bytes) > 0,
            "{what} not found in the child while held: the search does not work"
        );
    }
    writeln!(stdin, "drop").expect("telling the child");
    wait_for(&mut lines, "dropped");
    for (what, bytes) in &secrets {
        assert_eq!(
            occurrences(pid, bytes),
            0,
            "{what} is still in the child's memory after it was dropped"
        );
    }
    drop(stdin);
    let status = child.wait().expect("waiting for the child");
    assert!(status.success(), "the child failed: {status}");
    println!("test key_and_ticket_are_wiped_when_dropped ... ok");
}

fn main() {
    if std::env::var_os(CHILD).is_some() {
        child();
    } else {
        parent();
    }
}
