//! Messages whose files use bare LF line ends (a migrated Maildir, mail
//! dropped in by another program, an APPEND of bare-LF bytes) are served
//! as IMAP sends mail, with CRLF, and counted so (Dovecot's `W=`), while
//! their files stay as they are.

#[allow(dead_code)]
mod common;

use std::sync::atomic::AtomicBool;

use mailkeep_store::{
    BodyContent, SearchKey, SectionSpec, SectionText, SortCriterion, SortKey, Store, UidRange,
    to_crlf,
};

/// A multipart message with bare LFs: a text part, a base64 attachment.
const LF_MULTIPART: &[u8] = b"From: Ann <ann@example.org>\n\
Subject: bare LF\n\
MIME-Version: 1.0\n\
Content-Type: multipart/mixed; boundary=XX\n\
\n\
--XX\n\
Content-Type: text/plain\n\
\n\
line one\n\
line two\n\
--XX\n\
Content-Type: application/octet-stream\n\
Content-Transfer-Encoding: base64\n\
\n\
aGVsbG8g\n\
d29ybGQ=\n\
--XX--\n";

fn spec(parts: &[u32], text: SectionText, partial: Option<(u64, u64)>) -> SectionSpec {
    SectionSpec {
        parts: parts.to_vec(),
        text,
        partial,
    }
}

fn uids_matching(store: &Store, key: SearchKey) -> Vec<u32> {
    store
        .search("INBOX", 0, &key, &AtomicBool::new(false))
        .unwrap()
        .uids
}

/// Files dropped into `cur/` with bare LFs: sizes, sections, partials,
/// BINARY and the structure all count and serve CRLF; the file is as it
/// was.
#[test]
fn bare_lf_files_dropped_into_a_maildir_are_served_with_crlf() {
    let (dir, store) = common::temp_store();
    let cur = common::root_of(&dir).join("cur");
    let path = cur.join("1700000000.M1P1.elsewhere:2,S");
    std::fs::write(&path, LF_MULTIPART).unwrap();
    let crlf = to_crlf(LF_MULTIPART).into_owned();
    assert_eq!(crlf.len(), LF_MULTIPART.len() + 17, "17 bare LFs");

    let v = store.status("INBOX").unwrap().uidvalidity;
    store.sync_mailbox("INBOX").unwrap();
    let status = store.status("INBOX").unwrap();
    assert_eq!(status.size, crlf.len() as u64);
    let meta = store.fetch("INBOX", v, &[UidRange::all()]).unwrap();
    assert_eq!(meta[0].size, crlf.len() as u64);
    let uid = meta[0].uid;

    let section = |s: SectionSpec| store.section("INBOX", v, uid, &s).unwrap();
    assert_eq!(section(spec(&[], SectionText::Full, None)), crlf);
    // Partial windows are in CRLF coordinates.
    let at = crlf.windows(8).position(|w| w == b"line one").unwrap() as u64;
    assert_eq!(
        section(spec(&[], SectionText::Full, Some((at, 18)))),
        b"line one\r\nline two"
    );
    assert_eq!(
        section(spec(&[1], SectionText::Full, None)),
        b"line one\r\nline two"
    );
    assert_eq!(
        section(spec(&[1], SectionText::Mime, None)),
        b"Content-Type: text/plain\r\n\r\n"
    );
    let header = section(spec(&[], SectionText::Header, None));
    assert!(header.ends_with(b"Subject: bare LF\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n"));
    assert_eq!(
        section(spec(
            &[],
            SectionText::HeaderFields(vec!["subject".into()]),
            None
        )),
        b"Subject: bare LF\r\n\r\n"
    );
    // BINARY: decoded bytes; a text part keeps CRLF.
    let binary = |s: SectionSpec| store.binary_section("INBOX", v, uid, &s).unwrap().unwrap();
    assert_eq!(binary(spec(&[2], SectionText::Full, None)), b"hello world");
    assert_eq!(
        binary(spec(&[1], SectionText::Full, None)),
        b"line one\r\nline two"
    );
    assert_eq!(store.binary_size("INBOX", v, uid, &[1]).unwrap(), Ok(18));

    let s = store.message_structure("INBOX", v, uid).unwrap();
    let BodyContent::Multipart(parts) = &s.body.content else {
        panic!("{:?}", s.body)
    };
    let BodyContent::Single(text) = &parts[0].content else {
        panic!("{parts:?}")
    };
    assert_eq!((text.size, text.lines), (18, 1));

    // The file was served, not rewritten.
    assert_eq!(std::fs::read(&path).unwrap(), LF_MULTIPART);

    // One delivered to new/ by another program is counted the same way.
    let new = common::root_of(&dir).join("new");
    std::fs::write(new.join("1700000001.M2P1.elsewhere"), b"Subject: n\n\nx\n").unwrap();
    store.sync_mailbox("INBOX").unwrap();
    let metas = store.fetch("INBOX", v, &[UidRange::all()]).unwrap();
    assert_eq!(metas.len(), 2);
    assert_eq!(metas[1].size, 17, "14 bytes, 3 bare LFs");
}

/// An APPEND of bare-LF bytes keeps the bytes as given on disk, and its
/// size, SEARCH LARGER/SMALLER and SORT SIZE count CRLF.
#[test]
fn an_append_of_bare_lf_bytes_is_counted_with_crlf() {
    let (_dir, store) = common::temp_store();
    // 40 bytes of file, 70 served: smaller than the other on disk, larger served.
    let lf = b"Subject: a\n\n"
        .iter()
        .chain(&[b'\n'; 28])
        .copied()
        .collect::<Vec<u8>>();
    let crlf = b"Subject: b\r\n\r\n"
        .iter()
        .chain(&[b'x'; 36])
        .copied()
        .collect::<Vec<u8>>();
    assert_eq!((lf.len(), crlf.len()), (40, 50));
    let a = common::append(&store, "INBOX", &lf, &[]);
    let b = common::append(&store, "INBOX", &crlf, &[]);
    let (mut file, meta) = store.open_message("INBOX", a.uid).unwrap();
    let mut on_disk = Vec::new();
    std::io::Read::read_to_end(&mut file, &mut on_disk).unwrap();
    assert_eq!(on_disk, lf);
    assert_eq!(meta.size, 70);
    let (served, size) = common::read_with_size(&store, "INBOX", a.uid);
    assert_eq!((served, size), (to_crlf(&lf).into_owned(), 70));
    assert_eq!(store.status("INBOX").unwrap().size, 120);

    assert_eq!(uids_matching(&store, SearchKey::Larger(50)), vec![a.uid]);
    assert_eq!(uids_matching(&store, SearchKey::Smaller(70)), vec![b.uid]);
    let by_size = store
        .sort(
            "INBOX",
            0,
            &[SortCriterion {
                key: SortKey::Size,
                reverse: false,
            }],
            &SearchKey::All,
            &AtomicBool::new(false),
        )
        .unwrap();
    assert_eq!(by_size, vec![b.uid, a.uid]);
}

/// An index written when sizes were file sizes is corrected once, when
/// the store is opened.
#[test]
fn an_index_with_file_sizes_is_corrected_at_open() {
    let (dir, store) = common::temp_store();
    let a = common::append(&store, "INBOX", b"Subject: x\n\nbody\n", &[]);
    drop(store);
    let index = common::root_of(&dir).join(mailkeep_store::INDEX_FILE);
    let conn = rusqlite::Connection::open(&index).unwrap();
    conn.execute_batch(
        "UPDATE messages SET size = 17; DELETE FROM meta WHERE key = 'sizes_count_crlf';",
    )
    .unwrap();
    drop(conn);
    let store = Store::open(&common::root_of(&dir)).unwrap();
    let (_, size) = common::read_with_size(&store, "INBOX", a.uid);
    assert_eq!(size, 20);
    assert!(store.verify().unwrap().is_ok());
}
