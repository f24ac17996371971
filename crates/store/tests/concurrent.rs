//! Two processes on one owner's store (issue 3): concurrent appends, flag
//! changes and expunges for a bounded number of operations. Afterwards:
//! UIDs unique and increasing in each process's append order, MODSEQs
//! strictly increasing in the order each process saw them, every
//! acknowledged append present (same bytes) unless acknowledged expunged,
//! the last acknowledged flags in place, and `verify()` passes.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use mailkeep_store::{Flags, Store, StoreMode, UidRange};

const CHILD_ENV: &str = "MAILKEEP_CONCURRENT_CHILD";
const OPS: u32 = 120;

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
    format!("Subject: {tag}\r\n\r\nbody of {tag}\r\n").into_bytes()
}

/// One worker process: `OPS` operations, each acknowledged on stdout as
/// `ACK <kind> <uid> <modseq> <extra>` after the store returned.
#[test]
fn concurrent_child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mut it = spec.split('|');
    let root = it.next().unwrap();
    let who = it.next().unwrap().to_owned();
    let seed: u64 = it.next().unwrap().parse().unwrap();
    let mut rng = Rng(seed | 1);
    let store = Store::open(Path::new(root)).unwrap();
    let mut out = std::io::stdout().lock();
    for n in 0..OPS {
        let uids: Vec<u32> = store
            .select("INBOX")
            .unwrap()
            .messages
            .iter()
            .map(|m| m.uid)
            .collect();
        let op = rng.below(10);
        if op < 5 || uids.len() < 4 {
            let tag = format!("{who}-{n}");
            let body = body_of(&tag);
            let mut w = store
                .begin_append("INBOX", Flags::default(), None, body.len() as u64)
                .unwrap();
            w.write(&body).unwrap();
            let a = w.commit().unwrap();
            writeln!(out, "ACK A {} {} {tag}", a.uid, a.modseq).unwrap();
            continue;
        }
        let uid = uids[rng.below(uids.len() as u64) as usize];
        if op < 8 {
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
                writeln!(out, "ACK F {} {} {}", m.uid, m.modseq, m.flags.system).unwrap();
            }
        } else {
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
                writeln!(out, "ACK F {} {} {}", m.uid, m.modseq, m.flags.system).unwrap();
            }
            let e = store
                .expunge("INBOX", 0, Some(&[UidRange::single(uid)]))
                .unwrap();
            for u in e.uids {
                writeln!(out, "ACK E {u} {} -", e.highestmodseq).unwrap();
            }
        }
    }
    out.flush().unwrap();
}

#[derive(Debug)]
struct Ack {
    kind: String,
    uid: u32,
    modseq: u64,
    extra: String,
}

fn parse(stdout: &[u8]) -> Vec<Ack> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter_map(|l| l.find("ACK ").map(|at| l[at + 4..].to_owned()))
        .map(|l| {
            let p: Vec<&str> = l.split(' ').collect();
            Ack {
                kind: p[0].to_owned(),
                uid: p[1].parse().unwrap(),
                modseq: p[2].parse().unwrap(),
                extra: p[3].to_owned(),
            }
        })
        .collect()
}

#[test]
fn two_processes_keep_the_store_consistent() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    println!("concurrent test seed: {seed}");
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("Maildir");
    drop(Store::open(&root).unwrap());
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = ["p1", "p2"]
        .iter()
        .enumerate()
        .map(|(i, who)| {
            Command::new(&exe)
                .args([
                    "--exact",
                    "concurrent_child",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(
                    CHILD_ENV,
                    format!("{}|{who}|{}", root.display(), seed + i as u64 * 7919),
                )
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut per_process = Vec::new();
    for mut child in children {
        let mut stdout = Vec::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_end(&mut stdout)
            .unwrap();
        assert!(
            child.wait().unwrap().success(),
            "seed {seed}: a child failed"
        );
        per_process.push(parse(&stdout));
    }
    let mut appended: BTreeMap<u32, Vec<u8>> = BTreeMap::new();
    let mut expunged: BTreeSet<u32> = BTreeSet::new();
    let mut last_flags: BTreeMap<u32, (u64, u8)> = BTreeMap::new();
    for acks in &per_process {
        let mut last_uid = 0;
        let mut last_modseq = 0;
        for a in acks {
            if a.kind == "A" {
                assert!(a.uid > last_uid, "seed {seed}: UIDs not increasing: {a:?}");
                last_uid = a.uid;
                assert!(
                    appended.insert(a.uid, body_of(&a.extra)).is_none(),
                    "seed {seed}: UID {} given twice",
                    a.uid
                );
            }
            // An expunge of several UIDs in one call shares one MODSEQ.
            if a.kind == "E" {
                assert!(
                    a.modseq >= last_modseq,
                    "seed {seed}: MODSEQ went back: {a:?}"
                );
                expunged.insert(a.uid);
            } else {
                assert!(
                    a.modseq > last_modseq,
                    "seed {seed}: MODSEQ not increasing: {a:?}"
                );
            }
            last_modseq = a.modseq;
            if a.kind == "F" {
                let flags: u8 = a.extra.parse().unwrap();
                let e = last_flags.entry(a.uid).or_insert((0, 0));
                if a.modseq > e.0 {
                    *e = (a.modseq, flags);
                }
            }
        }
    }
    let store = Store::open(&root).unwrap();
    let report = store.verify().unwrap();
    assert!(report.is_ok(), "seed {seed}: {report}");
    let sel = store.select("INBOX").unwrap();
    let now: BTreeMap<u32, u8> = sel
        .messages
        .iter()
        .map(|m| (m.uid, m.flags.system))
        .collect();
    for (uid, body) in &appended {
        if expunged.contains(uid) {
            assert!(
                !now.contains_key(uid),
                "seed {seed}: expunged UID {uid} is back"
            );
            continue;
        }
        assert!(
            now.contains_key(uid),
            "seed {seed}: acknowledged UID {uid} lost"
        );
        let (mut f, _) = store.open_message("INBOX", *uid).unwrap();
        let mut got = Vec::new();
        f.read_to_end(&mut got).unwrap();
        assert_eq!(&got, body, "seed {seed}: UID {uid} content differs");
        if let Some((_, flags)) = last_flags.get(uid) {
            assert_eq!(
                now[uid], *flags,
                "seed {seed}: UID {uid} lost a flag update"
            );
        }
    }
    assert_eq!(now.len(), appended.len() - expunged.len());
    assert!(report.is_ok());
    println!(
        "{} appends, {} expunges, {} messages at the end",
        appended.len(),
        expunged.len(),
        now.len()
    );
}
