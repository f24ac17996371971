//! COMPRESS=DEFLATE (RFC 4978) with the real server: commands and their
//! answers compressed both ways, on plain text and over TLS, and a deflate
//! bomb that must not grow the imap process.

use std::io::{Read, Write};
use std::net::TcpStream;

use mailkeep_testkit::{BlockingClient, Deflate, Status};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::harness::tls::connect_tls;
use crate::harness::*;

/// Runs `COMPRESS DEFLATE`, asserting its exact tagged OK, and returns the
/// client over deflate.
fn compress<S: AsyncRead + AsyncWrite + Unpin>(
    mut c: BlockingClient<S>,
) -> BlockingClient<Deflate<S>> {
    let tag = c.send_command("COMPRESS DEFLATE").expect("COMPRESS");
    let r = c.read_response().expect("COMPRESS's answer");
    assert_eq!(
        String::from_utf8_lossy(r.raw()),
        format!("{tag} OK DEFLATE active\r\n")
    );
    c.upgrade(async |stream, unread| Ok(Deflate::new(stream, unread)))
        .expect("the deflate layer")
}

/// The session after COMPRESS: the capabilities no longer offer it, a
/// second COMPRESS is refused with COMPRESSIONACTIVE, and LIST, SELECT and
/// FETCH BODY[] of `message` (appended before) answer as uncompressed.
fn compressed_session<S: AsyncRead + AsyncWrite + Unpin>(
    c: &mut BlockingClient<Deflate<S>>,
    message: &[u8],
) {
    let caps = c.ok("CAPABILITY").capabilities();
    assert!(caps.iter().any(|c| c == "IMAP4rev2"), "{caps:?}");
    assert!(!caps.iter().any(|c| c == "COMPRESS=DEFLATE"), "{caps:?}");
    let r = c.run("COMPRESS DEFLATE").expect("COMPRESS again");
    assert_eq!(r.status(), Status::No, "{r:?}");
    assert!(r.has_code("COMPRESSIONACTIVE"), "{r:?}");

    let r = c.ok("LIST \"\" \"*\"");
    let mut names: Vec<String> = r.list("LIST").into_iter().map(|l| l.name).collect();
    names.sort();
    assert_eq!(names, ["Drafts", "INBOX", "Junk", "Sent", "Trash"], "{r:?}");

    let r = c.ok("SELECT INBOX");
    assert_eq!(r.exists(), Some(1), "{r:?}");
    let r = c.ok("FETCH 1 (RFC822.SIZE BODY[])");
    let fetch = r.fetch(1).expect("FETCH 1");
    assert_eq!(fetch.bytes("BODY[]"), Some(message));
    assert_eq!(fetch.number("RFC822.SIZE"), Some(message.len() as u64));
    let r = c.ok("FETCH 1 (FLAGS)");
    assert_eq!(
        r.fetch(1).and_then(|f| f.flags()),
        // \Recent: this session selected INBOX first.
        Some(vec!["\\Seen".to_owned(), "\\Recent".to_owned()]),
        "BODY[] set \\Seen: {r:?}"
    );
}

#[test]
fn compress_deflate_carries_list_select_and_fetch_on_plain_text() {
    let dir = TestDir::new();
    let server = Server::start(&dir);
    server.add_user("alice", "alice-secret");
    let message = make_message("compress-plain", 200 * 1024);
    let mut c = server.login("alice", "alice-secret");
    let r = c.append("INBOX", &[], &message).expect("APPEND");
    assert!(r.is_ok(), "{r:?}");
    let mut c = compress(c);
    compressed_session(&mut c, &message);
    c.logout();
}

#[test]
fn compress_deflate_carries_list_select_and_fetch_over_tls() {
    let dir = TestDir::new();
    let (server, _ports) = Server::start_prebound(&dir, &[("imap", "plain"), ("imaps", "tls")], "");
    server.add_user("alice", "alice-secret");
    let message = make_message("compress-tls", 200 * 1024);
    let (mut c, _) = connect_tls(server.listener("imaps"));
    let r = c.login("alice", "alice-secret").expect("LOGIN");
    assert!(r.is_ok(), "{r:?}");
    let r = c.append("INBOX", &[], &message).expect("APPEND");
    assert!(r.is_ok(), "{r:?}");
    let mut c = compress(c);
    compressed_session(&mut c, &message);
    c.logout();
}

/// One MiB of `A` (no line end) as raw deflate ending in a full flush;
/// after a full flush a compressor starts afresh, so the chunk repeated is
/// a valid stream, 1 GiB once inflated for 1024 repeats.
fn bomb_chunk() -> Vec<u8> {
    let mut c = flate2::Compress::new(flate2::Compression::best(), false);
    let data = vec![b'A'; 1024 * 1024];
    let mut out = Vec::with_capacity(64 * 1024);
    c.compress_vec(&data, &mut out, flate2::FlushCompress::Full)
        .expect("compress");
    assert_eq!(c.total_in(), data.len() as u64, "one call takes the MiB");
    out
}

/// A `/proc/PID/status` figure in KiB (`VmRSS:`, `VmHWM:`).
fn kib(p: &ProcInfo, field: &str) -> u64 {
    status_numbers(&p.status(), field)
        .first()
        .map(|&n| u64::from(n))
        .unwrap_or_else(|| panic!("no {field} for pid {}", p.pid))
}

/// The bomb: after COMPRESS, a deflate stream that would inflate to
/// 1 GiB of one endless line. The imap process inflates only as much as
/// its bounded input buffer takes, refuses the line at its limit and ends
/// the connection with `* BYE` (sent compressed); its peak memory (VmHWM)
/// stays within a few MiB of what it held before.
#[test]
fn a_deflate_bomb_of_one_gib_ends_in_bye_and_leaves_the_imap_process_memory_flat() {
    const ALLOWED_GROWTH_KIB: u64 = 4 * 1024;
    let dir = TestDir::new();
    let server = Server::start(&dir);
    server.add_user("alice", "alice-secret");
    let imap = server.wait_role("imap", None, None);

    // Plain sockets: the bomb is raw compressed bytes, and what comes back
    // is inflated here.
    let mut tcp = TcpStream::connect(server.addr).expect("connect");
    tcp.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let mut greeting = [0u8; 512];
    let n = tcp.read(&mut greeting).expect("greeting");
    assert!(greeting[..n].starts_with(b"* OK"), "{:?}", &greeting[..n]);
    tcp.write_all(b"a LOGIN alice alice-secret\r\nb COMPRESS DEFLATE\r\n")
        .expect("send");
    let mut plain = Vec::new();
    while !plain.ends_with(b"b OK DEFLATE active\r\n") {
        let mut buf = [0u8; 4096];
        let n = tcp
            .read(&mut buf)
            .expect("reading LOGIN and COMPRESS answers");
        assert!(n > 0, "closed: {}", String::from_utf8_lossy(&plain));
        plain.extend_from_slice(&buf[..n]);
    }
    assert!(
        String::from_utf8_lossy(&plain).contains("a OK ["),
        "LOGIN: {}",
        String::from_utf8_lossy(&plain)
    );

    let rss_before = kib(&imap, "VmRSS:");
    let hwm_before = kib(&imap, "VmHWM:");
    let chunk = bomb_chunk();
    let mut writer = tcp.try_clone().expect("a second handle");
    let sender = std::thread::spawn(move || {
        // Stops at the first failed write: the server closed.
        (0..1024)
            .take_while(|_| writer.write_all(&chunk).is_ok())
            .count()
    });

    // Everything the server sends until it closes, inflated.
    let mut inflate = flate2::Decompress::new(false);
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = match tcp.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("reading the server's answer: {e}"),
        };
        answer.reserve(64 * 1024);
        inflate
            .decompress_vec(&buf[..n], &mut answer, flate2::FlushDecompress::Sync)
            .expect("the server's answer is deflate");
    }
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let sent_mib = sender.join().expect("the sender");
    let hwm_after = kib(&imap, "VmHWM:");
    let rss_after = kib(&imap, "VmRSS:");
    eprintln!(
        "imap process: VmRSS {rss_before} -> {rss_after} KiB, VmHWM {hwm_before} -> {hwm_after} KiB; \
         {sent_mib} MiB (inflated) sent before the close"
    );
    assert_eq!(
        answer, "* BAD Command line too long\r\n* BYE Protocol error, closing\r\n",
        "the line is refused at its limit and the connection ends in BYE"
    );
    assert!(
        hwm_after.saturating_sub(rss_before) < ALLOWED_GROWTH_KIB,
        "the imap process's peak grew from {rss_before} KiB to {hwm_after} KiB"
    );
    assert!(alive(imap.pid), "the imap process lives on");
    let mut c = server.login("alice", "alice-secret");
    c.ok("NOOP");
    c.logout();
}
