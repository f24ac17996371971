//! Golden corpus for ENVELOPE, BODY, BODYSTRUCTURE and BODY[section]:
//! every `tests/data/mime/*.eml` against its `.expected` file, written by
//! `regenerate.py` from Dovecot's answers (no Dovecot needed here). The
//! store's structure values are rendered by `imap-proto`, as the IMAP
//! process renders them.
//! Known, documented differences are listed in `known_differences.txt`
//! (`<name> <item>` a line, nothing after) and are reported but not failed.

use std::collections::HashSet;
use std::fs;
use std::path::PathBuf;

use mailkeep_store::{
    SectionSpec, SectionText, UnknownCte, cut_binary, cut_section, parse_structure,
};

mod imap_render;

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/mime")
}

/// Splits an expected file into (item, value) pairs; item values may hold
/// literals with CRLF inside, so a new item starts only at a line that
/// begins with a known item name.
fn expected_items(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut items: Vec<(String, Vec<u8>)> = Vec::new();
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        let starts = ["ENVELOPE ", "BODY ", "BODYSTRUCTURE ", "SECTION ", "#"]
            .iter()
            .find(|p| line.starts_with(p.as_bytes()));
        match starts {
            Some(&"#") => continue,
            Some(p) => items.push((p.trim().to_string(), line[p.len()..].to_vec())),
            None => {
                if let Some(last) = items.last_mut() {
                    last.1.extend_from_slice(line);
                }
            }
        }
    }
    for (_, v) in &mut items {
        if v.ends_with(b"\n") {
            v.pop();
        }
    }
    items
}

fn parse_spec(s: &str) -> SectionSpec {
    let (nums, rest) = match s.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => (s[..i].trim_end_matches('.'), &s[i..]),
        None => (s, ""),
    };
    let parts = nums
        .split('.')
        .filter(|p| !p.is_empty())
        .map(|p| p.parse().unwrap())
        .collect();
    let names = |r: &str| -> Vec<String> {
        let inner = &r[r.find('(').unwrap() + 1..r.rfind(')').unwrap()];
        inner.split_whitespace().map(str::to_string).collect()
    };
    let text = if rest.is_empty() {
        SectionText::Full
    } else if rest.starts_with("HEADER.FIELDS.NOT") {
        SectionText::HeaderFieldsNot(names(rest))
    } else if rest.starts_with("HEADER.FIELDS") {
        SectionText::HeaderFields(names(rest))
    } else if rest == "HEADER" {
        SectionText::Header
    } else if rest == "TEXT" {
        SectionText::Text
    } else if rest == "MIME" {
        SectionText::Mime
    } else {
        panic!("unknown section {s}")
    };
    SectionSpec {
        parts,
        text,
        partial: None,
    }
}

fn hex(v: &[u8]) -> String {
    v.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn corpus_matches_dovecot() {
    let dir = data_dir();
    let known: HashSet<String> = fs::read_to_string(dir.join("known_differences.txt"))
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.trim().to_string())
        .collect();
    let mut names: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let n = e.unwrap().file_name().into_string().unwrap();
            n.strip_suffix(".eml").map(str::to_string)
        })
        .collect();
    names.sort();
    assert!(names.len() >= 30, "corpus has {} messages", names.len());
    let (mut checked, mut failures, mut tolerated) = (0, Vec::new(), Vec::new());
    for name in &names {
        let raw = fs::read(dir.join(format!("{name}.eml"))).unwrap();
        let expected = fs::read(dir.join(format!("{name}.expected"))).unwrap();
        let s = parse_structure(&raw);
        for (item, want) in expected_items(&expected) {
            let (key, got) = match item.as_str() {
                "ENVELOPE" => ("ENVELOPE".to_string(), imap_render::envelope_bytes(&s)),
                "BODY" => ("BODY".to_string(), imap_render::body_bytes(&s)),
                "BODYSTRUCTURE" => (
                    "BODYSTRUCTURE".to_string(),
                    imap_render::bodystructure_bytes(&s),
                ),
                _ => {
                    let line = String::from_utf8(want.clone()).unwrap();
                    let (spec, hexval) = line.split_once('\t').unwrap();
                    let got = cut_section(&raw, &parse_spec(spec)).unwrap_or_default();
                    checked += 1;
                    let id = format!("{name} SECTION[{spec}]");
                    if hex(&got) != hexval {
                        let k = format!("{name} SECTION[{spec}]");
                        if known.contains(&k) {
                            tolerated.push(id)
                        } else {
                            failures.push(format!("{id}\n  want {hexval}\n  got  {}", hex(&got)))
                        }
                    }
                    continue;
                }
            };
            checked += 1;
            if got != want {
                let id = format!("{name} {key}");
                if known.contains(&id) {
                    tolerated.push(id);
                } else {
                    failures.push(format!(
                        "{id}\n  want {}\n  got  {}",
                        String::from_utf8_lossy(&want),
                        String::from_utf8_lossy(&got)
                    ));
                }
            }
        }
    }
    eprintln!(
        "{checked} items checked, {} known differences",
        tolerated.len()
    );
    for t in &tolerated {
        eprintln!("known difference: {t}");
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    let stale: Vec<&String> = known.iter().filter(|k| !tolerated.contains(k)).collect();
    assert!(
        stale.is_empty(),
        "listed as known differences but equal to Dovecot's: {stale:?}"
    );
}

#[test]
fn never_panics_on_odd_input() {
    let odd: [&[u8]; 6] = [
        b"",
        b"\r\n",
        b"Subject: x",
        b"Content-Type: multipart/mixed; boundary=\"\"\r\n\r\n--\r\n",
        b"Content-Type: message/rfc822\r\n\r\nContent-Type: message/rfc822\r\n\r\n",
        b"From: <@>, ,;:\"\r\nTo: (((\r\n\r\n\xff\xfe",
    ];
    for raw in odd {
        let _ = parse_structure(raw);
        for spec in ["1", "2.1", "1.MIME", "TEXT", "HEADER", "3.2.1.TEXT"] {
            let _ = cut_binary(raw, &parse_spec(spec));
            let _ = cut_section(raw, &parse_spec(spec));
        }
    }
}

fn append(store: &mailkeep_store::Store, body: &[u8]) -> mailkeep_store::Appended {
    let mut w = store
        .begin_append(
            "INBOX",
            mailkeep_store::Flags::parse(&[] as &[&str]).unwrap(),
            None,
            body.len() as u64,
        )
        .unwrap();
    w.write(body).unwrap();
    w.commit().unwrap()
}

#[test]
fn store_structure_sections_cache_and_expunge() {
    let dir = tempfile::tempdir().unwrap();
    let store = mailkeep_store::Store::open(&dir.path().join("Maildir")).unwrap();
    let raw = fs::read(data_dir().join("04-mixed-attach.eml")).unwrap();
    let a = append(&store, &raw);
    let v = store.status("INBOX").unwrap().uidvalidity;
    let first = store.message_structure("INBOX", v, a.uid).unwrap();
    assert_eq!(first, parse_structure(&raw));
    assert_eq!(first.preview, "See attached.");
    // Cached: the same answer again.
    assert_eq!(store.message_structure("inbox", v, a.uid).unwrap(), first);
    // The batch form agrees and leaves out UIDs that do not exist.
    let batch = store
        .message_structures("INBOX", v, &[a.uid, a.uid + 100])
        .unwrap();
    assert_eq!(batch, vec![(a.uid, first.clone())]);
    // Stale UIDVALIDITY is refused.
    assert!(store.message_structure("INBOX", v + 1, a.uid).is_err());
    // BINARY of the base64 attachment is the 1024 decoded bytes.
    let spec = SectionSpec {
        parts: vec![2],
        text: SectionText::Full,
        partial: None,
    };
    let bin = store
        .binary_section("INBOX", v, a.uid, &spec)
        .unwrap()
        .unwrap();
    assert_eq!(bin.len(), 1024);
    assert_eq!(&bin[..4], &[0, 1, 2, 3]);
    assert_eq!(
        store.binary_size("INBOX", v, a.uid, &[2]).unwrap(),
        Ok(1024)
    );
    // Partial: <1.3> of part 1's body.
    let partial = SectionSpec {
        parts: vec![1],
        text: SectionText::Full,
        partial: Some((1, 3)),
    };
    assert_eq!(store.section("INBOX", v, a.uid, &partial).unwrap(), b"ee ");
    // Expunge: the cache row goes with the message (trigger), so the next
    // structure request finds no message instead of a stale cache entry.
    store
        .store_flags(
            "INBOX",
            v,
            &[mailkeep_store::UidRange::single(a.uid)],
            mailkeep_store::StoreMode::Add,
            &["\\Deleted"],
            None,
        )
        .unwrap();
    store.expunge("INBOX", v, None).unwrap();
    assert!(store.message_structure("INBOX", v, a.uid).is_err());
}

#[test]
fn an_unknown_transfer_encoding_is_refused_for_binary_only() {
    let raw = fs::read(data_dir().join("24-unknown-cte.eml")).unwrap();
    let spec = parse_spec("1");
    assert_eq!(
        cut_binary(&raw, &spec).unwrap(),
        Err(UnknownCte {
            encoding: "x-uuencode".into()
        })
    );
    assert!(cut_section(&raw, &spec).is_ok());
}

#[test]
fn a_part_the_message_does_not_have_reads_as_empty() {
    // 04: multipart/mixed with two parts; 01: one text part. (N.1 of a
    // part that is not multipart is that part itself: not in these lists.)
    for (file, sections) in [
        (
            "04-mixed-attach.eml",
            &["3", "3.MIME", "2.2", "0", "3.TEXT", "3.HEADER"][..],
        ),
        ("01-plain.eml", &["2", "2.MIME", "1.2", "5.TEXT"][..]),
    ] {
        let raw = fs::read(data_dir().join(file)).unwrap();
        for section in sections {
            let spec = parse_spec(section);
            assert_eq!(
                cut_section(&raw, &spec).unwrap(),
                Vec::<u8>::new(),
                "{file} BODY[{section}]"
            );
            assert_eq!(
                cut_binary(&raw, &spec).unwrap(),
                Ok(Vec::new()),
                "{file} BINARY[{section}]"
            );
        }
    }
    // The parts it has are still found.
    let raw = fs::read(data_dir().join("04-mixed-attach.eml")).unwrap();
    assert!(!cut_section(&raw, &parse_spec("2")).unwrap().is_empty());
}
