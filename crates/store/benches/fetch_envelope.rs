//! FETCH ENVELOPE+FLAGS over 10,000 ~4 KB messages: cold (first parse,
//! filling the MIME cache) and warm (from the cache), each with the
//! envelope rendered as IMAP by `imap-proto`, against a baseline of
//! reading the same 10,000 files raw. Run with
//! `cargo bench -p mailkeep-store --bench fetch_envelope`.

use std::time::Instant;

use mailkeep_store::{Flags, Store, UidRange};

#[path = "../tests/imap_render/mod.rs"]
#[allow(dead_code)]
mod imap_render;

const COUNT: u32 = 10_000;

/// A varied ~4 KB message: plain, alternative or mixed with an attachment.
fn message(i: u32) -> Vec<u8> {
    let filler: String = (0..50)
        .map(|l| format!("Line {l} of message {i}: lorem ipsum dolor sit amet consectetur.\r\n"))
        .collect();
    let head = format!(
        "Date: Mon, 01 Jan 2024 10:{:02}:00 +0000\r\nFrom: \"Sender {i}\" <s{i}@example.org>\r\nTo: r{}@example.net, Team: a@example.org, b@example.org;\r\nSubject: =?UTF-8?Q?Message_{i}?=\r\nMessage-ID: <{i}@example.org>\r\nMIME-Version: 1.0\r\n",
        i % 60,
        i % 7
    );
    let body = match i % 3 {
        0 => format!("Content-Type: text/plain; charset=utf-8\r\n\r\n{filler}"),
        1 => format!(
            "Content-Type: multipart/alternative; boundary=\"b{i}\"\r\n\r\n--b{i}\r\nContent-Type: text/plain\r\n\r\n{}\r\n--b{i}\r\nContent-Type: text/html\r\n\r\n<p>{}</p>\r\n--b{i}--\r\n",
            &filler[..1800],
            &filler[..1800]
        ),
        _ => format!(
            "Content-Type: multipart/mixed; boundary=\"m{i}\"\r\n\r\n--m{i}\r\nContent-Type: text/plain\r\n\r\n{}\r\n--m{i}\r\nContent-Type: application/octet-stream; name=\"a.bin\"\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"a.bin\"\r\n\r\nQUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=\r\n--m{i}--\r\n",
            &filler[..3000]
        ),
    };
    format!("{head}{body}").into_bytes()
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("Maildir");
    let store = Store::open(&root).expect("open store");
    let t = Instant::now();
    let mut bytes = 0u64;
    for i in 0..COUNT {
        let m = message(i);
        bytes += m.len() as u64;
        let mut w = store
            .begin_append(
                "INBOX",
                Flags::parse(&[] as &[&str]).expect("flags"),
                None,
                m.len() as u64,
            )
            .expect("append");
        w.write(&m).expect("write");
        w.commit().expect("commit");
    }
    println!(
        "setup: {COUNT} messages, {:.1} KB average, appended in {:.2?}",
        bytes as f64 / f64::from(COUNT) / 1024.0,
        t.elapsed()
    );
    let v = store.status("INBOX").expect("status").uidvalidity;

    // Baseline: the flags (one index read) plus every file read raw.
    let t = Instant::now();
    let metas = store.fetch("INBOX", v, &[UidRange::all()]).expect("fetch");
    let mut raw_bytes = 0usize;
    for m in &metas {
        let (mut f, _) = store.open_message("INBOX", m.uid).expect("open");
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut f, &mut buf).expect("read");
        raw_bytes += buf.len();
    }
    let baseline = t.elapsed();

    let run = |label: &str| {
        let t = Instant::now();
        let metas = store.fetch("INBOX", v, &[UidRange::all()]).expect("fetch");
        let uids: Vec<u32> = metas.iter().map(|m| m.uid).collect();
        let mut n = 0usize;
        let items = store
            .message_structures("INBOX", v, &uids)
            .expect("structures");
        for (m, (_, s)) in metas.iter().zip(&items) {
            n += imap_render::envelope_bytes(s).len() + format!("{:?}", m.flags).len();
        }
        let d = t.elapsed();
        println!(
            "{label}: {d:.2?} for {} messages ({n} bytes of ENVELOPE+FLAGS)",
            metas.len()
        );
        d
    };
    let cold = run("cold (parse + cache fill)");
    let warm = run("warm (cached)");
    println!("baseline (flags + raw file reads, {raw_bytes} bytes): {baseline:.2?}");
    println!(
        "per message: cold {:.1} µs, warm {:.1} µs, baseline {:.1} µs",
        cold.as_secs_f64() * 1e6 / f64::from(COUNT),
        warm.as_secs_f64() * 1e6 / f64::from(COUNT),
        baseline.as_secs_f64() * 1e6 / f64::from(COUNT)
    );
    println!(
        "ratios: cold/baseline {:.2}, warm/baseline {:.2}, cold/warm {:.2}",
        cold.as_secs_f64() / baseline.as_secs_f64(),
        warm.as_secs_f64() / baseline.as_secs_f64(),
        cold.as_secs_f64() / warm.as_secs_f64()
    );
}
