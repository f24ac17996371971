//! SEARCH TEXT throughput: 10,000 messages of about 10 KB (every fifth
//! multipart with a base64 part), a word present in 1% of them (half of
//! those only inside base64, so the raw baseline finds half). Prints the
//! MB/s of message data SEARCH TEXT scans and, as a baseline over the same
//! files read raw, the MB/s of a plain byte-substring search, and the ratio.
//!
//! Run: `cargo bench -p mailkeep-store --bench search_text` (set
//! `SEARCH_BENCH_MESSAGES` for another count).

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use mailkeep_store::{Flags, SearchKey, Store};

const WORD: &str = "zanzibar";

fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for (i, chunk) in data.chunks(3).enumerate() {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(T[((n >> (18 - 6 * k)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
        if i % 19 == 18 {
            out.push_str("\r\n");
        }
    }
    out
}

fn text(seed: usize, len: usize, hit: bool) -> String {
    const WORDS: [&str; 12] = [
        "mail", "server", "storage", "index", "search", "message", "folder", "quota", "header",
        "body", "thread", "lorem",
    ];
    let mut s = String::with_capacity(len + 16);
    let mut i = seed;
    while s.len() < len {
        s.push_str(WORDS[i % WORDS.len()]);
        s.push(if i.is_multiple_of(13) { '\n' } else { ' ' });
        i = i.wrapping_mul(31).wrapping_add(7);
    }
    if hit {
        s.push_str(" Zanzibar ");
    }
    s
}

fn message(i: usize) -> String {
    // Half the hits sit in base64 parts (i % 5 == 0), invisible to a raw search.
    let hit = matches!(i % 200, 35 | 37);
    let head = format!(
        "From: User {i} <u{i}@example.org>\r\nTo: dest@example.net\r\nSubject: Message number {i}\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\nMessage-ID: <{i}@bench>\r\nMIME-Version: 1.0\r\n"
    );
    if i.is_multiple_of(5) {
        format!(
            "{head}Content-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{}\r\n--XX\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--XX--\r\n",
            text(i, 3000, false),
            base64(text(i + 1, 4500, hit).as_bytes())
        )
    } else {
        format!(
            "{head}Content-Type: text/plain; charset=utf-8\r\n\r\n{}\r\n",
            text(i, 9800, hit)
        )
    }
}

fn main() {
    let count: usize = std::env::var("SEARCH_BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("Maildir");
    let store = Store::open(&root).expect("open store");
    let started = Instant::now();
    for i in 0..count {
        let raw = message(i);
        let mut w = store
            .begin_append("INBOX", Flags::default(), None, raw.len() as u64)
            .expect("append");
        w.write(raw.as_bytes()).expect("write");
        w.commit().expect("commit");
    }
    eprintln!("built {count} messages in {:.1?}", started.elapsed());

    let cancel = AtomicBool::new(false);
    let key = SearchKey::Text(WORD.to_string());
    // One warm-up, then the timed runs (page cache warm for both sides).
    let expected = store
        .search("INBOX", 0, &key, &cancel)
        .expect("search")
        .uids
        .len();
    let runs = 3;
    let t = Instant::now();
    for _ in 0..runs {
        let n = store
            .search("INBOX", 0, &key, &cancel)
            .expect("search")
            .uids
            .len();
        assert_eq!(n, expected);
    }
    let search_secs = t.elapsed().as_secs_f64() / f64::from(runs);

    let files: Vec<_> = std::fs::read_dir(root.join("cur"))
        .expect("read cur")
        .map(|e| e.expect("entry").path())
        .collect();
    let needle = WORD.as_bytes();
    let t = Instant::now();
    let mut bytes = 0usize;
    let mut raw_hits = 0usize;
    for _ in 0..runs {
        bytes = 0;
        raw_hits = 0;
        for f in &files {
            let data = std::fs::read(f).expect("read message");
            bytes += data.len();
            if data
                .windows(needle.len())
                .any(|w| w.eq_ignore_ascii_case(needle))
            {
                raw_hits += 1;
            }
        }
    }
    let raw_secs = t.elapsed().as_secs_f64() / f64::from(runs);
    let mb = bytes as f64 / 1e6;
    let search_rate = mb / search_secs;
    let raw_rate = mb / raw_secs;
    println!(
        "messages: {count}, data: {mb:.1} MB, matches: SEARCH TEXT {expected}, raw bytes {raw_hits}"
    );
    println!("SEARCH TEXT {WORD}: {search_secs:.3} s per run, {search_rate:.1} MB/s");
    println!("raw byte search:    {raw_secs:.3} s per run, {raw_rate:.1} MB/s");
    println!("ratio raw/SEARCH:   {:.1}x", raw_rate / search_rate);
}
