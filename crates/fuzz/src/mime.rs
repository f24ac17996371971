//! MIME parsing as the store does it for FETCH and SEARCH: the structure
//! (envelope, BODYSTRUCTURE, PREVIEW), sections cut by part number, BINARY
//! decoding, the structure cache, and the decoded text SEARCH matches.
//!
//! Properties checked:
//! * every part the structure lists can be cut as `BODY[part]`, its bytes
//!   lie inside the message, and their size and line count are the ones
//!   BODYSTRUCTURE announced (a client allocates by them);
//! * `BODY[part.MIME]`, `HEADER` and `TEXT` lie inside the message, and the
//!   top-level `HEADER` followed by `TEXT` is the whole message;
//! * a partial `<offset.count>` is that window of the whole section;
//! * BINARY of an identity-encoded part is its bytes unchanged;
//! * nesting stays bounded, the PREVIEW short, and the envelope's subject
//!   is the one in the message, as sent;
//! * stored ([`stored_message`]): the structure read back from the index's
//!   cache equals the one parsed, and SEARCH over the decoded headers and
//!   body answers without error, with the appended message or nothing.

use std::sync::OnceLock;
use std::sync::atomic::AtomicBool;

use mailkeep_store::{
    BodyContent, BodyStructure, Flags, SearchKey, SectionSpec, SectionText, Store, Structure,
    cut_binary, cut_section, parse_structure, to_crlf,
};

/// The most parts of one message whose sections are cut (each cut
/// re-parses the message).
const MAX_PARTS_CHECKED: usize = 64;

/// How deep a structure may be: the store's nesting limit (32) per
/// multipart and per enclosed message, and a little.
const MAX_DEPTH: usize = 70;

/// The longest PREVIEW, in characters (RFC 8970 §2).
const MAX_PREVIEW: usize = 256;

/// Parses `data` as a message and checks its structure against the
/// sections cut from it.
pub fn message(data: &[u8]) {
    let raw = to_crlf(data);
    let structure = parse_structure(data);
    assert!(structure.preview.chars().count() <= MAX_PREVIEW);
    assert!(
        depth(&structure.body) <= MAX_DEPTH,
        "structure nests too deep"
    );
    if let Some(subject) = &structure.envelope.subject {
        assert!(inside(&raw, subject), "the subject is not the one sent");
    }
    whole_message(data, &raw);
    let mut parts = Vec::new();
    message_parts(&structure.body, &[], &mut parts);
    for (path, part) in parts.into_iter().take(MAX_PARTS_CHECKED) {
        check_part(data, &raw, &path, part);
    }
}

/// `BODY[]`, `BODY[HEADER]` and `BODY[TEXT]` of the whole message.
fn whole_message(data: &[u8], raw: &[u8]) {
    let cut = |text| cut_section(data, &spec(&[], text, None));
    assert_eq!(cut(SectionText::Full).ok().as_deref(), Some(raw));
    let (Ok(header), Ok(text)) = (cut(SectionText::Header), cut(SectionText::Text)) else {
        panic!("HEADER or TEXT of the whole message refused");
    };
    assert_eq!(
        [header, text].concat(),
        raw,
        "HEADER + TEXT is not the message"
    );
    let offset = (raw.len() / 3) as u64;
    let window = cut_section(data, &spec(&[], SectionText::Full, Some((offset, 7))));
    let start = raw.len() / 3;
    let end = (start + 7).min(raw.len());
    assert_eq!(window.ok().as_deref(), Some(&raw[start..end]));
}

/// The sections of one part agree with what the structure says of it.
fn check_part(data: &[u8], raw: &[u8], path: &[u32], part: &BodyStructure) {
    let body = cut_section(data, &spec(path, SectionText::Full, None));
    let body = match body {
        Ok(body) => body,
        Err(e) => panic!("BODY[{path:?}] listed in the structure but refused: {e}"),
    };
    assert!(
        inside(raw, &body),
        "BODY[{path:?}] is not part of the message"
    );
    if let BodyContent::Single(single) = &part.content {
        assert_eq!(
            body.len() as u64,
            single.size,
            "BODY[{path:?}] size differs from BODYSTRUCTURE"
        );
        let lines = memchr::memchr_iter(b'\n', &body).count() as u64;
        assert_eq!(lines, single.lines, "BODY[{path:?}] lines differ");
        let identity = [&b"7bit"[..], b"8bit", b"binary"]
            .iter()
            .any(|e| single.encoding.eq_ignore_ascii_case(e));
        let binary = cut_binary(data, &spec(path, SectionText::Full, None));
        match binary {
            Ok(Ok(decoded)) if identity => assert_eq!(decoded, body, "BINARY[{path:?}]"),
            Ok(_) => {}
            Err(e) => panic!("BINARY[{path:?}] refused: {e}"),
        }
    }
    for text in [SectionText::Mime, SectionText::Header, SectionText::Text] {
        if let Ok(bytes) = cut_section(data, &spec(path, text.clone(), None)) {
            let allowed = bytes.is_empty() || inside(raw, &bytes);
            assert!(
                allowed,
                "BODY[{path:?}.{text:?}] is not part of the message"
            );
        }
    }
    let fields = SectionText::HeaderFields(vec!["FROM".into(), "CONTENT-TYPE".into()]);
    let _ = cut_section(data, &spec(path, fields, None));
    let start = body.len() / 2;
    let window = cut_section(
        data,
        &spec(path, SectionText::Full, Some((start as u64, 5))),
    );
    let end = (start + 5).min(body.len());
    assert_eq!(window.ok().as_deref(), Some(&body[start..end]));
}

fn spec(parts: &[u32], text: SectionText, partial: Option<(u64, u64)>) -> SectionSpec {
    SectionSpec {
        parts: parts.to_vec(),
        text,
        partial,
    }
}

/// Whether `needle` occurs in `hay`.
fn inside(hay: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(hay, needle).is_some()
}

/// The numbered parts of a message whose structure is `root`, with their
/// part numbers (RFC 9051 §6.4.5): a multipart's children are `1`, `2`,
/// ...; a single-part message's body is `1`.
fn message_parts<'a>(
    root: &'a BodyStructure,
    prefix: &[u32],
    out: &mut Vec<(Vec<u32>, &'a BodyStructure)>,
) {
    match &root.content {
        BodyContent::Multipart(children) => {
            for (i, child) in children.iter().enumerate() {
                part_and_below(child, &numbered(prefix, i), out);
            }
        }
        BodyContent::Single(_) => part_and_below(root, &numbered(prefix, 0), out),
    }
}

/// `part` at `path`, then the parts inside it (a multipart's children,
/// an enclosed message's parts).
fn part_and_below<'a>(
    part: &'a BodyStructure,
    path: &[u32],
    out: &mut Vec<(Vec<u32>, &'a BodyStructure)>,
) {
    if out.len() > MAX_PARTS_CHECKED {
        return;
    }
    out.push((path.to_vec(), part));
    match &part.content {
        BodyContent::Multipart(children) => {
            for (i, child) in children.iter().enumerate() {
                part_and_below(child, &numbered(path, i), out);
            }
        }
        BodyContent::Single(single) => {
            if let Some(enclosed) = &single.message {
                message_parts(&enclosed.body, path, out);
            }
        }
    }
}

/// `prefix` and the number of the child at `index`.
fn numbered(prefix: &[u32], index: usize) -> Vec<u32> {
    let mut path = prefix.to_vec();
    path.push(u32::try_from(index + 1).unwrap_or(u32::MAX));
    path
}

/// How deep the structure nests.
fn depth(b: &BodyStructure) -> usize {
    match &b.content {
        BodyContent::Multipart(children) => 1 + children.iter().map(depth).max().unwrap_or(0),
        BodyContent::Single(single) => 1 + single.message.as_ref().map_or(0, |m| depth(&m.body)),
    }
}

/// A store in a temporary directory, made once per process: each input is
/// appended to it, checked and expunged.
fn store() -> &'static (tempfile::TempDir, Store) {
    static STORE: OnceLock<(tempfile::TempDir, Store)> = OnceLock::new();
    STORE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary directory for the fuzz store");
        let store = Store::open(&dir.path().join("Maildir")).expect("opening the fuzz store");
        (dir, store)
    })
}

/// Appends `data` to a store and checks the structure cache and SEARCH
/// over its decoded text.
pub fn stored_message(data: &[u8]) {
    let (_, store) = store();
    // Flagged \Deleted so that the expunge at the end removes it.
    let deleted = Flags::parse(&["\\Deleted"]).expect("a system flag");
    let mut writer = store
        .begin_append("INBOX", deleted, None, data.len() as u64)
        .expect("append refused");
    writer.write(data).expect("append write failed");
    let uid = writer.commit().expect("append commit failed").uid;
    let parsed: Structure = parse_structure(data);
    let first = store.message_structure("INBOX", 0, uid).expect("structure");
    let cached = store
        .message_structure("INBOX", 0, uid)
        .expect("cached structure");
    assert_eq!(
        first, parsed,
        "the store's structure differs from the parser's"
    );
    assert_eq!(cached, parsed, "the structure cache changed the structure");
    let needle = word_of(data);
    let keys = [
        SearchKey::Text(needle.clone()),
        SearchKey::Body(needle.clone()),
        SearchKey::Subject(needle.clone()),
        SearchKey::From(needle.clone()),
        SearchKey::Header("Content-Type".into(), String::new()),
        SearchKey::Header("X-Fuzz".into(), needle),
    ];
    let cancel = AtomicBool::new(false);
    for key in &keys {
        let found = store
            .search("INBOX", 0, key, &cancel)
            .expect("search failed");
        assert!(
            found.uids.iter().all(|&u| u == uid),
            "{key:?} found {:?}",
            found.uids
        );
    }
    store
        .expunge("INBOX", 0, Some(&[mailkeep_store::UidRange::new(uid, uid)]))
        .expect("expunge failed");
}

/// A word of the message to search for: its longest run of ASCII letters
/// (up to 16), lower-cased.
fn word_of(data: &[u8]) -> String {
    data.split(|b| !b.is_ascii_alphabetic())
        .max_by_key(|w| w.len())
        .map(|w| String::from_utf8_lossy(&w[..w.len().min(16)]).to_ascii_lowercase())
        .unwrap_or_default()
}

/// Pieces of mail that make random input reach MIME's corners.
pub static DICTIONARY: &[&[u8]] = &[
    b"\r\n",
    b"\n",
    b"\r\n\r\n",
    b"From: A <a@example.org>\r\n",
    b"To: undisclosed-recipients:;\r\n",
    b"Subject: =?UTF-8?B?w6lsw6k=?= =?ISO-8859-1?Q?caf=E9?=\r\n",
    b"MIME-Version: 1.0\r\n",
    b"Content-Type: multipart/mixed; boundary=\"b\"\r\n",
    b"Content-Type: multipart/digest; boundary=d\r\n",
    b"Content-Type: message/rfc822\r\n",
    b"Content-Type: text/html; charset=iso-8859-1\r\n",
    b"Content-Type: text/plain; name*0*=utf-8''a%20; name*1=b\r\n",
    b"Content-Transfer-Encoding: base64\r\n",
    b"Content-Transfer-Encoding: quoted-printable\r\n",
    b"Content-Disposition: attachment; filename=\"x.bin\"\r\n",
    b"--b\r\n",
    b"--b--\r\n",
    b"--d\r\n",
    b"--",
    b"=\r\n",
    b"=C3=A9",
    b"aGVsbG8=",
    b" \t",
    b":",
    b";",
    b"\"",
    b"\0",
    b"\xff",
];
