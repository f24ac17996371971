//! Sections of a large message read from its file (`Store::open_section`,
//! `Store::cut_listed`): the same bytes as the in-memory cut, and the
//! decoded size of a BINARY part measured once and kept (as Dovecot keeps
//! it) until the message is expunged.

#[allow(dead_code)]
mod common;

use mailkeep_store::{
    CutSpec, ListedCut, MessageMeta, OpenedSection, SectionSpec, SectionText, Store, UidRange,
    cut_all, parse_structure,
};

/// Decoded bytes of the attachment: 1.5 MB, one NUL near the end.
fn attachment() -> Vec<u8> {
    let mut bytes: Vec<u8> = (0..1_500_000u32).map(|i| b'A' + (i % 26) as u8).collect();
    bytes[1_400_000] = 0;
    bytes
}

/// A text part and the attachment in base64 lines of 76.
fn message() -> Vec<u8> {
    let encoded = base64_lines(&attachment());
    let mut m = b"Subject: big\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
Content-Type: text/plain\r\n\r\nsee attached\r\n--b\r\n\
Content-Transfer-Encoding: base64\r\n\r\n"
        .to_vec();
    m.extend_from_slice(&encoded);
    m.extend_from_slice(b"--b--\r\n");
    m
}

/// Base64 in lines of 76 letters, each ending in CRLF.
fn base64_lines(data: &[u8]) -> Vec<u8> {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut letters = Vec::new();
    for quantum in data.chunks(3) {
        let n = quantum
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for k in 0..4 {
            letters.push(if k <= quantum.len() {
                alphabet[(n >> (18 - 6 * k) & 63) as usize]
            } else {
                b'='
            });
        }
    }
    let mut out = Vec::new();
    for line in letters.chunks(76) {
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn spec(parts: &[u32], binary: bool, partial: Option<(u64, u64)>) -> CutSpec {
    CutSpec {
        section: SectionSpec {
            parts: parts.to_vec(),
            text: SectionText::Full,
            partial,
        },
        binary,
    }
}

/// The bytes of a section opened from the file; it must be streamed.
fn streamed(store: &Store, uid: u32, cut: CutSpec) -> (Vec<u8>, bool) {
    match store.open_section("INBOX", 0, uid, cut).unwrap().unwrap() {
        OpenedSection::Streamed(mut reader) => {
            let mut bytes = Vec::new();
            while let Some(chunk) = reader.next_chunk().unwrap() {
                bytes.extend_from_slice(&chunk);
            }
            assert_eq!(bytes.len() as u64, reader.total());
            (bytes, reader.contains_nul())
        }
        OpenedSection::Cut(_) => panic!("a section of a large message was cut in memory"),
    }
}

/// BINARY.SIZE[2] as the Fetch stream asks for it.
fn binary_size(store: &Store, uid: u32) -> ListedCut {
    let listed = store
        .fetch("INBOX", 0, &[UidRange::single(uid)])
        .unwrap()
        .remove(0);
    store
        .cut_listed("INBOX", &listed, &[spec(&[2], true, None)], &[true])
        .unwrap()
        .unwrap()
        .remove(0)
}

/// Bytes this thread has read from files so far (`rchar`).
fn read_by_this_thread() -> u64 {
    let io = std::fs::read_to_string("/proc/thread-self/io").unwrap();
    let line = io.lines().find(|l| l.starts_with("rchar:")).unwrap();
    line["rchar:".len()..].trim().parse().unwrap()
}

/// A window cut as the Fetch stream cuts it, and the bytes of the file
/// this thread read for it.
fn window_of(store: &Store, listed: &MessageMeta, cut: &CutSpec) -> (ListedCut, u64) {
    let before = read_by_this_thread();
    let got = store
        .cut_listed("INBOX", listed, std::slice::from_ref(cut), &[false])
        .unwrap()
        .unwrap()
        .remove(0);
    (got, read_by_this_thread() - before)
}

#[test]
fn a_window_is_read_where_it_lies() {
    let (_dir, store) = common::temp_store();
    let raw = message();
    let uid = common::append(&store, "INBOX", &raw, &[]).uid;
    let body = parse_structure(&raw).body;
    let listed = store
        .fetch("INBOX", 0, &[UidRange::single(uid)])
        .unwrap()
        .remove(0);
    // A client downloading the message (or its attachment) in windows of
    // 64 KiB, as Thunderbird does: each window far into it costs its own
    // bytes (and a header or two), not the message up to it. (The
    // structure, which part windows go by, is parsed once first, as a
    // client's BODYSTRUCTURE does.)
    store.message_structure("INBOX", 0, uid).unwrap();
    let far = 1_400_000;
    for (parts, text) in [
        (&[][..], SectionText::Full),
        (&[][..], SectionText::Text),
        (&[2][..], SectionText::Full),
    ] {
        let cut = CutSpec {
            section: SectionSpec {
                parts: parts.to_vec(),
                text,
                partial: Some((far, 65_536)),
            },
            binary: false,
        };
        let expected = cut_all(&raw, Some(&body), std::slice::from_ref(&cut))
            .unwrap()
            .unwrap()
            .remove(0);
        assert_eq!(expected.len(), 65_536);
        let (got, read) = window_of(&store, &listed, &cut);
        assert!(
            got == ListedCut::Bytes(expected),
            "{cut:?}: not the in-memory cut"
        );
        assert!(
            read < 200_000,
            "{cut:?}: a 64 KiB window read {read} bytes of the file"
        );
    }
}

#[test]
fn a_large_file_with_bare_line_feeds_is_streamed_through_its_map() {
    // As Dovecot stores mail: every line end a bare LF, served as CRLF.
    let (_dir, store) = common::temp_store();
    let served = message();
    let stored = String::from_utf8(served.clone())
        .unwrap()
        .replace("\r\n", "\n")
        .into_bytes();
    let uid = common::append(&store, "INBOX", &stored, &[]).uid;
    let body = parse_structure(&served).body;
    store.message_structure("INBOX", 0, uid).unwrap();
    // A short section near the start (the text part) is not worth a scan
    // of the whole file for its map: cut from the start, as before.
    let before = read_by_this_thread();
    let text = store.open_section("INBOX", 0, uid, spec(&[1], false, None));
    let read = read_by_this_thread() - before;
    assert!(matches!(text, Ok(Ok(OpenedSection::Cut(t))) if t == b"see attached"));
    assert!(
        read < 100_000,
        "the text part read {read} bytes of the file"
    );
    for cut in [
        spec(&[2], false, None),
        spec(&[2], true, None),
        spec(&[2], true, Some((1_399_990, 20))),
        spec(&[], false, None),
    ] {
        let expected = cut_all(&served, Some(&body), std::slice::from_ref(&cut))
            .unwrap()
            .unwrap()
            .remove(0);
        let (bytes, _) = streamed(&store, uid, cut.clone());
        assert!(bytes == expected, "{cut:?}: not the in-memory cut");
    }
    // Windows far into it, once the file is mapped: each reads its own
    // bytes and some of the mark before it.
    let listed = store
        .fetch("INBOX", 0, &[UidRange::single(uid)])
        .unwrap()
        .remove(0);
    for far in [1_400_000, 700_001, 1_900_000] {
        let cut = spec(&[], false, Some((far, 65_536)));
        let (got, read) = window_of(&store, &listed, &cut);
        let far = far as usize;
        let expected = served[far..(far + 65_536).min(served.len())].to_vec();
        assert!(got == ListedCut::Bytes(expected), "window at {far}");
        assert!(read < 300_000, "a 64 KiB window at {far} read {read} bytes");
    }
}

#[test]
fn large_sections_are_streamed_as_cut_and_decoded_sizes_kept() {
    let (dir, store) = common::temp_store();
    let raw = message();
    let uid = common::append(&store, "INBOX", &raw, &["\\Deleted"]).uid;
    let body = parse_structure(&raw).body;
    for cut in [
        spec(&[2], false, None),
        spec(&[2], true, None),
        spec(&[2], true, Some((1_399_990, 20))),
        spec(&[2], true, Some((10, 20))),
        spec(&[], false, Some((5, 1_200_000))),
    ] {
        let expected = cut_all(&raw, Some(&body), std::slice::from_ref(&cut))
            .unwrap()
            .unwrap()
            .remove(0);
        let (bytes, nul) = streamed(&store, uid, cut.clone());
        assert!(bytes == expected, "{cut:?}: not the in-memory cut");
        if cut.binary {
            assert_eq!(nul, expected.contains(&0), "{cut:?}");
        }
    }
    assert_eq!(
        streamed(&store, uid, spec(&[2], true, None)).0,
        attachment()
    );
    let size = ListedCut::Measured {
        total: attachment().len() as u64,
        contains_nul: true,
    };
    assert_eq!(binary_size(&store, uid), size);

    // The measure is kept: blank out a line of the attachment in its file
    // (same length, so the structure's offsets hold). BINARY.SIZE still
    // gives the kept size, while the bytes are read anew.
    let cur = common::root_of(&dir).join("cur");
    let file = std::fs::read_dir(&cur)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| std::fs::read(p).unwrap() == raw)
        .expect("the message's file");
    let line = base64_lines(&attachment())[..76].to_vec();
    let at = raw.windows(76).position(|w| w == line).unwrap();
    let mut changed = raw.clone();
    changed[at..at + 76].fill(b' ');
    std::fs::write(&file, &changed).unwrap();
    assert_eq!(binary_size(&store, uid), size);
    let window = spec(&[2], true, Some((0, 10)));
    assert_eq!(streamed(&store, uid, window).0, &attachment()[57..67]);

    // Expunged: the kept size goes with the message.
    store.expunge("INBOX", 0, None).unwrap();
    let index = common::root_of(&dir).join(mailkeep_store::INDEX_FILE);
    let conn = rusqlite::Connection::open(&index).unwrap();
    let kept: i64 = conn
        .query_row("SELECT count(*) FROM mime_binary_size", [], |r| r.get(0))
        .unwrap();
    assert_eq!(kept, 0);
}
