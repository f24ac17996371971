//! Two processes on one owner's store (issue 3): concurrent appends, flag
//! changes and expunges for a bounded number of operations. Afterwards:
//! UIDs unique and increasing in each process's append order, MODSEQs
//! strictly increasing in the order each process saw them, every
//! acknowledged append present (same bytes) unless acknowledged expunged,
//! the last acknowledged flags in place, and `verify()` passes.

#[allow(dead_code)]
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::Path;

use common::{Ack, Rng, Worker, spawn_child};
use mailkeep_store::Store;

const CHILD_ENV: &str = "MAILKEEP_CONCURRENT_CHILD";
const OPS: u32 = 120;

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
    let mut worker = Worker {
        store: &store,
        out: std::io::stdout().lock(),
    };
    for n in 0..OPS {
        let uids = worker.inbox_uids();
        let op = rng.below(10);
        if op < 5 || uids.len() < 4 {
            let tag = format!("{who}-{n}");
            worker.append(&tag, &body_of(&tag));
            continue;
        }
        let uid = uids[rng.below(uids.len() as u64) as usize];
        if op < 8 {
            worker.replace_flags(&mut rng, uid);
        } else {
            worker.delete_and_expunge(uid);
        }
    }
    worker.out.flush().unwrap();
}

fn parse(stdout: &[u8]) -> Vec<Ack> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter_map(Ack::find)
        .collect()
}

#[test]
fn two_processes_keep_the_store_consistent() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let seed = common::clock_seed();
    println!("concurrent test seed: {seed}");
    let (dir, store) = common::temp_store();
    drop(store);
    let root = common::root_of(&dir);
    let children: Vec<_> = ["p1", "p2"]
        .iter()
        .enumerate()
        .map(|(i, who)| {
            let spec = format!("{}|{who}|{}", root.display(), seed + i as u64 * 7919);
            spawn_child("concurrent_child", CHILD_ENV, spec)
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
    let now = common::inbox_flags(&store);
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
        let got = common::read_message(&store, "INBOX", *uid);
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
