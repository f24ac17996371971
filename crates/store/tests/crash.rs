//! Crash safety (issue 3): a child process runs a mixed append / flag /
//! expunge workload on a store and prints each change only after the store
//! acknowledged it; the parent kills it with SIGKILL at random moments
//! (30+ times, restarting it on the same store) and after each kill checks
//! that the store opens, syncs, verifies, and holds every acknowledged
//! change. The PRNG seed is printed so a failure can be replayed
//! (`MAILKEEP_CRASH_SEED=<seed>`).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use mailkeep_store::{DELETED, Flags, Store, StoreMode, UidRange};

const CHILD_ENV: &str = "MAILKEEP_CRASH_CHILD";
const KILLS: u32 = 32;

/// xorshift64: small, deterministic, good enough for test schedules.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn body_of(tag: &str) -> Vec<u8> {
    format!("Subject: {tag}\r\nX-Tag: {tag}\r\n\r\nbody of {tag}\r\n").into_bytes()
}

/// The child: runs the workload until killed.
#[test]
fn crash_child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (root, seed) = spec.split_once('|').unwrap();
    let mut rng = Rng(seed.parse::<u64>().unwrap() | 1);
    let store = Store::open(Path::new(root)).unwrap();
    let out = std::io::stdout();
    let mut n = 0u64;
    loop {
        let uids: Vec<u32> = store
            .select("INBOX")
            .unwrap()
            .messages
            .iter()
            .map(|m| m.uid)
            .collect();
        let pick = |rng: &mut Rng| uids[rng.below(uids.len() as u64) as usize];
        match rng.below(10) {
            0..=4 => {
                n += 1;
                let tag = format!("{seed}-{n}");
                let body = body_of(&tag);
                let mut w = store
                    .begin_append("INBOX", Flags::default(), None, body.len() as u64)
                    .unwrap();
                w.write(&body).unwrap();
                let a = w.commit().unwrap();
                writeln!(out.lock(), "ACK A {} {tag}", a.uid).unwrap();
            }
            5..=7 if !uids.is_empty() => {
                let uid = pick(&mut rng);
                let all = ["\\Seen", "\\Flagged", "\\Answered", "\\Draft"];
                let set: Vec<&str> = all.iter().copied().filter(|_| rng.below(2) == 0).collect();
                let r = store
                    .store_flags(
                        "INBOX",
                        0,
                        &[UidRange::single(uid)],
                        StoreMode::Replace,
                        &set,
                        None,
                    )
                    .unwrap();
                for m in r.updated {
                    writeln!(out.lock(), "ACK F {} {}", m.uid, m.flags.system).unwrap();
                }
            }
            8..=9 if uids.len() > 3 => {
                let uid = pick(&mut rng);
                let r = store
                    .store_flags(
                        "INBOX",
                        0,
                        &[UidRange::single(uid)],
                        StoreMode::Add,
                        &["\\Deleted"],
                        None,
                    )
                    .unwrap();
                for m in r.updated {
                    writeln!(out.lock(), "ACK F {} {}", m.uid, m.flags.system).unwrap();
                }
                let e = store
                    .expunge("INBOX", 0, Some(&[UidRange::single(uid)]))
                    .unwrap();
                for uid in e.uids {
                    writeln!(out.lock(), "ACK E {uid}").unwrap();
                }
            }
            _ => {}
        }
    }
}

/// What the parent expects of one message.
#[derive(Debug, Clone)]
struct Expect {
    body: Vec<u8>,
    flags: u8,
}

fn read_body(store: &Store, uid: u32) -> Vec<u8> {
    let (mut f, _) = store.open_message("INBOX", uid).unwrap();
    let mut out = Vec::new();
    f.read_to_end(&mut out).unwrap();
    out
}

#[test]
fn acknowledged_changes_survive_sigkill() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let seed = std::env::var("MAILKEEP_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    println!("crash test seed: {seed}");
    let mut rng = Rng(seed | 1);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("Maildir");
    drop(Store::open(&root).unwrap());
    let exe = std::env::current_exe().unwrap();
    let mut model: BTreeMap<u32, Expect> = BTreeMap::new();
    let started = Instant::now();
    let mut total_acks = 0usize;
    let mut expunged: Vec<u32> = Vec::new();
    for round in 0..KILLS {
        let mut child = Command::new(&exe)
            .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, format!("{}|{}", root.display(), rng.next() >> 1))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            let mut line = Vec::new();
            while r.read_until(b'\n', &mut line).unwrap_or(0) > 0 {
                // Only whole lines are acknowledgements.
                if line.ends_with(b"\n") {
                    let _ = tx.send(String::from_utf8_lossy(&line).trim().to_owned());
                }
                line.clear();
            }
        });
        std::thread::sleep(Duration::from_millis(20 + rng.below(150)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        for line in rx.try_iter() {
            // libtest prints "test crash_child ... " without a newline
            // before the first ack, so look for the marker anywhere.
            let Some(at) = line.find("ACK ") else {
                continue;
            };
            let parts: Vec<&str> = line[at + 4..].split(' ').collect();
            match parts.as_slice() {
                ["A", uid, tag] => {
                    total_acks += 1;
                    let uid: u32 = uid.parse().unwrap();
                    model.insert(
                        uid,
                        Expect {
                            body: body_of(tag),
                            flags: 0,
                        },
                    );
                }
                ["F", uid, flags] => {
                    total_acks += 1;
                    let uid: u32 = uid.parse().unwrap();
                    model
                        .get_mut(&uid)
                        .unwrap_or_else(|| {
                            panic!("round {round}: flags acked for unknown UID {uid}")
                        })
                        .flags = flags.parse().unwrap();
                }
                ["E", uid] => {
                    total_acks += 1;
                    let uid = uid.parse::<u32>().unwrap();
                    model.remove(&uid);
                    expunged.push(uid);
                }
                _ => {} // test harness output
            }
        }
        // Recover and check.
        let store = Store::open(&root).unwrap();
        store.sync_mailbox_full("INBOX").unwrap();
        let report = store.verify().unwrap();
        assert!(report.is_ok(), "seed {seed} round {round}: {report}");
        let actual: BTreeMap<u32, u8> = store
            .select("INBOX")
            .unwrap()
            .messages
            .iter()
            .map(|m| (m.uid, m.flags.system))
            .collect();
        for uid in &expunged {
            assert!(
                !actual.contains_key(uid),
                "seed {seed} round {round}: acknowledged expunge of UID {uid} undone"
            );
        }
        // The one operation in flight at the kill may have taken effect.
        let mut discrepancies = Vec::new();
        for (uid, want) in &model {
            match actual.get(uid) {
                None => {
                    discrepancies.push(format!("UID {uid} missing (acked flags {})", want.flags))
                }
                Some(flags) => {
                    assert_eq!(
                        read_body(&store, *uid),
                        want.body,
                        "seed {seed} round {round}: UID {uid} content differs"
                    );
                    if *flags != want.flags {
                        discrepancies
                            .push(format!("UID {uid} flags {flags}, acked {}", want.flags));
                    }
                }
            }
        }
        assert!(
            discrepancies.len() <= 1,
            "seed {seed} round {round}: acknowledged changes lost: {discrepancies:?}"
        );
        if let Some(d) = discrepancies.first()
            && d.contains("missing")
        {
            // Only an unacknowledged expunge may remove a message: it was
            // marked \Deleted first, and that was acknowledged.
            let uid: u32 = d.split(' ').nth(1).unwrap().parse().unwrap();
            assert!(
                model[&uid].flags & DELETED != 0,
                "seed {seed} round {round}: {d}"
            );
        }
        // Adopt the store's state (unacknowledged effects included).
        let mut next = BTreeMap::new();
        for (uid, flags) in actual {
            let body = model
                .get(&uid)
                .map(|e| e.body.clone())
                .unwrap_or_else(|| read_body(&store, uid));
            next.insert(uid, Expect { body, flags });
        }
        model = next;
    }
    println!(
        "{KILLS} kills, {total_acks} acknowledged changes, {} messages at the end, {:?}",
        model.len(),
        started.elapsed()
    );
    assert!(total_acks > 0, "the child never acknowledged anything");
    std::io::stdout().flush().unwrap();
}
