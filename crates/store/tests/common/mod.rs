//! Setup shared by the store's integration tests: a store in a temporary
//! directory, appending and reading messages, and the child-process
//! workload that `crash.rs` and `concurrent.rs` run against one store.
//!
//! Each test file includes this with `mod common;`; a file that uses only
//! part of it marks that line `#[allow(dead_code)]`.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use mailkeep_store::{Appended, Flags, InternalDate, Store, StoreMode, UidRange};
use tempfile::TempDir;

/// Where [`temp_store`] keeps the Maildir inside its temporary directory.
pub fn root_of(dir: &TempDir) -> PathBuf {
    dir.path().join("Maildir")
}

/// A new, empty store in a temporary directory (its Maildir at
/// [`root_of`]); the directory is removed when the `TempDir` is dropped,
/// so keep it as long as the store.
pub fn temp_store() -> (TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&root_of(&dir)).unwrap();
    (dir, store)
}

/// Appends `body` to `mailbox` with `flags` (flag names as IMAP spells
/// them), written in one piece with no internal date given.
pub fn append(store: &Store, mailbox: &str, body: &[u8], flags: &[&str]) -> Appended {
    append_with(store, mailbox, body, flags, None, body.len())
}

/// Appends `body` to `mailbox` with `flags` and an internal `date`,
/// written in one piece.
pub fn append_dated(
    store: &Store,
    mailbox: &str,
    body: &[u8],
    flags: &[&str],
    date: InternalDate,
) -> Appended {
    append_with(store, mailbox, body, flags, Some(date), body.len())
}

/// Appends `body` to `mailbox` with `flags` and `date` (if any), handing
/// it to the store's writer in pieces of at most `chunk` bytes; the append
/// must succeed.
pub fn append_with(
    store: &Store,
    mailbox: &str,
    body: &[u8],
    flags: &[&str],
    date: Option<InternalDate>,
    chunk: usize,
) -> Appended {
    let mut w = store
        .begin_append(
            mailbox,
            Flags::parse(flags).unwrap(),
            date,
            body.len() as u64,
        )
        .unwrap();
    for piece in body.chunks(chunk.max(1)) {
        w.write(piece).unwrap();
    }
    w.commit().unwrap()
}

/// The bytes of message `uid` in `mailbox` as served (CRLF line ends),
/// and the size the index has for it (for tests that check the two agree).
pub fn read_with_size(store: &Store, mailbox: &str, uid: u32) -> (Vec<u8>, u64) {
    let (f, meta) = store.open_message(mailbox, uid).unwrap();
    let mut out = Vec::new();
    mailkeep_store::CrlfReader::new(f)
        .read_to_end(&mut out)
        .unwrap();
    (out, meta.size)
}

/// The bytes of message `uid` in `mailbox` as served.
pub fn read_message(store: &Store, mailbox: &str, uid: u32) -> Vec<u8> {
    read_with_size(store, mailbox, uid).0
}

/// The system flags (as the store's bit set) of every message in INBOX,
/// by UID, after the sync that a select does.
pub fn inbox_flags(store: &Store) -> BTreeMap<u32, u8> {
    store
        .select("INBOX")
        .unwrap()
        .messages
        .iter()
        .map(|m| (m.uid, m.flags.system))
        .collect()
}

/// xorshift64: small, deterministic, good enough for test schedules. The
/// seed must not be zero.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A seed that differs from run to run (the clock's nanoseconds); tests
/// print it so that a failure can be looked into.
pub fn clock_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// Runs this test binary again as a child process that runs only the test
/// named `test` (one thread, output not captured), with `spec` in the
/// environment variable `env` and its stdout piped back to the caller. The
/// child test reads `env` to know it is the child; the parent test returns
/// at once when `env` is set.
pub fn spawn_child(test: &str, env: &str, spec: String) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(env, spec)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// The operations of a child's workload on INBOX. Each is acknowledged on
/// `out` only after the store returned, one line per change:
/// `ACK <kind> <uid> <modseq> <extra>`, parsed back with [`Ack::find`].
pub struct Worker<'a, W: Write> {
    pub store: &'a Store,
    pub out: W,
}

impl<W: Write> Worker<'_, W> {
    /// The UIDs now in INBOX.
    pub fn inbox_uids(&self) -> Vec<u32> {
        self.store
            .select("INBOX")
            .unwrap()
            .messages
            .iter()
            .map(|m| m.uid)
            .collect()
    }

    /// Appends `body` to INBOX; acknowledged as `A <uid> <modseq> <tag>`.
    pub fn append(&mut self, tag: &str, body: &[u8]) {
        let a = append(self.store, "INBOX", body, &[]);
        writeln!(self.out, "ACK A {} {} {tag}", a.uid, a.modseq).unwrap();
    }

    /// Replaces the flags of `uid` with a random set of system flags;
    /// acknowledged as `F <uid> <modseq> <flag bits>` for each message the
    /// store changed.
    pub fn replace_flags(&mut self, rng: &mut Rng, uid: u32) {
        let all = ["\\Seen", "\\Flagged", "\\Answered", "\\Draft"];
        let set: Vec<&str> = all.iter().copied().filter(|_| rng.below(2) == 0).collect();
        self.store_flags(uid, StoreMode::Replace, &set);
    }

    /// Marks `uid` \Deleted (acknowledged as for [`Worker::replace_flags`])
    /// and expunges it: `E <uid> <highestmodseq> -` for each UID expunged.
    pub fn delete_and_expunge(&mut self, uid: u32) {
        self.store_flags(uid, StoreMode::Add, &["\\Deleted"]);
        let e = self
            .store
            .expunge("INBOX", 0, Some(&[UidRange::single(uid)]))
            .unwrap();
        for u in e.uids {
            writeln!(self.out, "ACK E {u} {} -", e.highestmodseq).unwrap();
        }
    }

    fn store_flags(&mut self, uid: u32, mode: StoreMode, flags: &[&str]) {
        let r = self
            .store
            .store_flags("INBOX", 0, &[UidRange::single(uid)], mode, flags, None)
            .unwrap();
        for m in r.updated {
            writeln!(self.out, "ACK F {} {} {}", m.uid, m.modseq, m.flags.system).unwrap();
        }
    }
}

/// One acknowledgement a [`Worker`] printed.
#[derive(Debug)]
pub struct Ack {
    /// `A` (append), `F` (flags) or `E` (expunge).
    pub kind: String,
    pub uid: u32,
    pub modseq: u64,
    /// The tag of an append, the flag bits of a flag change, `-` otherwise.
    pub extra: String,
}

impl Ack {
    /// The acknowledgement in a line of a child's output, or `None` for a
    /// line without one. The marker is looked for anywhere in the line:
    /// libtest prints "test <name> ... " without a newline before the
    /// first one. A malformed acknowledgement panics.
    pub fn find(line: &str) -> Option<Ack> {
        let at = line.find("ACK ")?;
        let p: Vec<&str> = line[at + 4..].trim_end().split(' ').collect();
        assert_eq!(p.len(), 4, "malformed acknowledgement: {line:?}");
        Some(Ack {
            kind: p[0].to_owned(),
            uid: p[1].parse().unwrap(),
            modseq: p[2].parse().unwrap(),
            extra: p[3].to_owned(),
        })
    }
}
