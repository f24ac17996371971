//! APPEND throughput with fsync on (the real durable path): 2,000 messages
//! of ~4 KB and 200 of ~1 MB into a temporary store, against a baseline
//! that only writes, fsyncs and renames the same bytes as plain files and
//! fsyncs the directory (what any durable Maildir writer must do at least).
//! Run with `cargo bench -p mailkeep-store --bench append`.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use mailkeep_store::{Flags, Store};

/// A message body of `size` bytes: headers, then CRLF text lines.
fn message(size: usize, n: usize) -> Vec<u8> {
    let mut m = format!("From: a@example.org\r\nSubject: message {n}\r\n\r\n").into_bytes();
    let line = b"The quick brown fox jumps over the lazy dog 0123456789.\r\n";
    while m.len() < size {
        m.extend_from_slice(line);
    }
    m.truncate(size);
    m
}

/// Appends every body through the store; returns the elapsed time.
fn store_run(dir: &Path, bodies: &[Vec<u8>]) -> Duration {
    let store = Store::open(&dir.join("Maildir")).expect("opening store");
    let start = Instant::now();
    for body in bodies {
        let mut w = store
            .begin_append("INBOX", Flags::default(), None, body.len() as u64)
            .expect("begin append");
        for chunk in body.chunks(64 * 1024) {
            w.write(chunk).expect("write");
        }
        w.commit().expect("commit");
    }
    start.elapsed()
}

/// Writes, fsyncs, renames into cur/ and fsyncs cur/ for every body.
fn plain_run(dir: &Path, bodies: &[Vec<u8>]) -> Duration {
    let tmp = dir.join("tmp");
    let cur = dir.join("cur");
    fs::create_dir_all(&tmp).expect("tmp");
    fs::create_dir_all(&cur).expect("cur");
    let start = Instant::now();
    for (i, body) in bodies.iter().enumerate() {
        let t = tmp.join(format!("m{i}"));
        let mut f = File::create(&t).expect("create");
        for chunk in body.chunks(64 * 1024) {
            f.write_all(chunk).expect("write");
        }
        f.sync_all().expect("fsync");
        drop(f);
        fs::rename(&t, cur.join(format!("m{i}:2,"))).expect("rename");
        File::open(&cur)
            .and_then(|d| d.sync_all())
            .expect("fsync dir");
    }
    start.elapsed()
}

fn bench(label: &str, count: usize, size: usize) {
    let bodies: Vec<Vec<u8>> = (0..count).map(|n| message(size, n)).collect();
    let base = std::env::var_os("MAILKEEP_BENCH_DIR");
    let mk = || match &base {
        Some(b) => tempfile::tempdir_in(b).expect("temp dir"),
        None => tempfile::tempdir().expect("temp dir"),
    };
    let (d1, d2) = (mk(), mk());
    let plain = plain_run(d2.path(), &bodies);
    let store = store_run(d1.path(), &bodies);
    let rate = |d: Duration| count as f64 / d.as_secs_f64();
    println!(
        "{label}: {count} x {size} B  store {:.1} appends/s ({:.2?})  plain files {:.1} writes/s ({:.2?})  store/plain throughput ratio {:.2}",
        rate(store),
        store,
        rate(plain),
        plain,
        rate(store) / rate(plain)
    );
}

fn main() {
    bench("small", 2000, 4 * 1024);
    bench("large", 200, 1024 * 1024);
}
