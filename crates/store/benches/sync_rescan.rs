//! The cost of noticing outside changes on a mailbox of 50,000 messages:
//! the first sync that indexes files another program wrote, the check a
//! settled mailbox gets on every call (two `stat`s), and a full rescan
//! with nothing changed (what every call pays in the 2 s after a change),
//! against a baseline of only listing the folder. Run with
//! `cargo bench -p mailkeep-store --bench sync_rescan`.

use std::time::{Duration, Instant};

use mailkeep_store::Store;

const COUNT: u32 = 50_000;
const ROUNDS: usize = 7;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn timed(mut f: impl FnMut()) -> Duration {
    median(
        (0..ROUNDS)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect(),
    )
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("Maildir");
    let store = Store::open(&root).expect("open store");
    store.status("INBOX").expect("status");
    let cur = root.join("cur");
    for i in 0..COUNT {
        let body = format!("Subject: outside {i}\r\n\r\nwritten by another program\r\n");
        let name = format!("1700000000.M{i}P1.bench,S={}:2,S", body.len());
        std::fs::write(cur.join(name), body).expect("writing a message file");
    }

    let t = Instant::now();
    let report = store.sync_mailbox("INBOX").expect("first sync");
    let first = t.elapsed();
    assert_eq!(report.added.len(), COUNT as usize, "every file indexed");
    // Past the window in which a changed folder is always rescanned.
    std::thread::sleep(Duration::from_millis(2100));
    store.sync_mailbox("INBOX").expect("settling sync");

    let settled = timed(|| {
        let r = store.sync_mailbox("INBOX").expect("sync");
        assert!(!r.scanned, "a settled folder is not scanned");
    });
    let rescan = timed(|| {
        let r = store.sync_mailbox_full("INBOX").expect("full sync");
        assert!(r.scanned && r.added.is_empty() && r.expunged.is_empty());
    });
    let listing = timed(|| {
        let n = std::fs::read_dir(&cur)
            .expect("listing cur")
            .filter_map(|e| e.ok())
            .count();
        assert_eq!(n, COUNT as usize);
    });
    println!(
        "first sync of {COUNT} outside files: {first:.2?} ({:.1} µs/file)",
        first.as_secs_f64() * 1e6 / f64::from(COUNT)
    );
    println!("settled check (median of {ROUNDS}): {settled:.2?}");
    println!(
        "full rescan, nothing changed: {rescan:.2?}; listing the folder only: {listing:.2?}; \
         rescan/listing = {:.1}x",
        rescan.as_secs_f64() / listing.as_secs_f64().max(1e-9)
    );
}
