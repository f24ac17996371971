//! Reading only as much of a message file as a FETCH's sections need.
//! A part's bytes end where the cached structure says, and a header ends
//! at its empty line, so BODY[1] of a message whose second part is a
//! 25 MB attachment, or HEADER.FIELDS of any large message (a client's
//! message list), reads the start of the file and not all of it.
//!
//! A prefix of the file is enough also when the file has bare LFs: making
//! them CRLF only lengthens the bytes, and a line end is never split
//! between what is read and what is not (a lone CR at the end stays CR,
//! as it would before the LF that follows it).

use std::io::Read;

use super::section::part_at;
use super::{BodyStructure, CutSpec, SectionText, headers};

/// How much of a header is read first when only the header is wanted; a
/// header longer than this is read whole.
pub(super) const HEADER_PROBE: u64 = 64 * 1024;

/// How much of a message the cuts need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Extent {
    /// Bytes from the start (as served) every part cut needs; `None`: the
    /// whole message.
    prefix: Option<u64>,
    /// A cut needs the message's own header (HEADER, HEADER.FIELDS).
    header: bool,
    /// Bytes after the header a cut needs (a window of TEXT); with
    /// `header`.
    after_header: u64,
}

impl Extent {
    /// How many bytes from the message's start [`read`] reads for the
    /// cuts (unless the header is longer than its probe); `None`: the
    /// whole message.
    pub(super) fn reads(&self) -> Option<u64> {
        let prefix = self.prefix?;
        Some(if self.header {
            prefix.max(HEADER_PROBE.saturating_add(self.after_header))
        } else {
            prefix
        })
    }
}

/// What `specs` need of the message whose structure is `body` (`None`
/// when no spec names a part, or the structure is not known).
pub(super) fn extent(specs: &[CutSpec], body: Option<&BodyStructure>) -> Extent {
    let mut need = Extent {
        prefix: Some(0),
        header: false,
        after_header: 0,
    };
    for spec in specs {
        let section = &spec.section;
        // A window of a section's bytes as they are (not BINARY's decoded
        // ones) ends `offset + count` after the section's start.
        let window = section
            .partial
            .filter(|_| !spec.binary)
            .map(|(offset, count)| offset.saturating_add(count));
        let end = if section.parts.is_empty() {
            match section.text {
                SectionText::Full => window,
                SectionText::Text => window.map(|w| {
                    need.header = true;
                    need.after_header = need.after_header.max(w);
                    0
                }),
                // MIME of no part is refused whatever is read.
                SectionText::Header
                | SectionText::HeaderFields(_)
                | SectionText::HeaderFieldsNot(_)
                | SectionText::Mime => {
                    need.header = true;
                    Some(0)
                }
            }
        } else {
            // Without the structure, the whole message is read.
            body.map(|body| {
                // A part the message does not have reads as empty.
                part_at(body, &section.parts).map_or(0, |p| {
                    match window.filter(|_| section.text == SectionText::Full) {
                        Some(w) => p.span.body_end.min(p.span.body_start.saturating_add(w)),
                        // A part's MIME header ends where its body starts.
                        None if section.text == SectionText::Mime => p.span.body_start,
                        None => p.span.body_end,
                    }
                })
            })
        };
        need.prefix = match (need.prefix, end) {
            (Some(a), Some(b)) => Some(a.max(b)),
            _ => None,
        };
    }
    need
}

/// Reads what `need` asks of the message file `file` (the start of it, or
/// all of it when the header turns out longer than the probe).
pub(super) fn read(file: &mut impl Read, need: Extent, size: u64) -> std::io::Result<Vec<u8>> {
    let Some(prefix) = need.prefix else {
        return read_rest(file, Vec::new(), size);
    };
    let want = if need.header {
        prefix.max(HEADER_PROBE.saturating_add(need.after_header))
    } else {
        prefix
    };
    let mut raw = Vec::with_capacity(usize::try_from(want.min(size)).unwrap_or(0));
    file.take(want).read_to_end(&mut raw)?;
    let at_end = (raw.len() as u64) < want;
    // The header's empty line must be inside what was read, its line end
    // included, and what follows it as far as a cut needs, unless the file
    // ends first. (Bare LFs made CRLF only lengthen what follows.)
    if need.header && !at_end {
        let h = headers::header_len(&raw);
        if h >= raw.len() || (h as u64).saturating_add(need.after_header) > raw.len() as u64 {
            return read_rest(file, raw, size);
        }
    }
    Ok(raw)
}

/// Reads the start of the message file `file` up to the end of its
/// header, or all of it when the header is longer than the probe (SEARCH
/// by header fields).
pub(crate) fn read_header(file: &mut impl Read) -> std::io::Result<Vec<u8>> {
    let need = Extent {
        prefix: Some(0),
        header: true,
        after_header: 0,
    };
    read(file, need, HEADER_PROBE)
}

fn read_rest(file: &mut impl Read, mut raw: Vec<u8>, size: u64) -> std::io::Result<Vec<u8>> {
    let size = usize::try_from(size).unwrap_or(0).min(64 << 20);
    raw.reserve(size.saturating_sub(raw.len()));
    file.read_to_end(&mut raw)?;
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mime::{SectionSpec, cut_all, parse_structure};

    fn spec(parts: &[u32], text: SectionText) -> CutSpec {
        CutSpec {
            section: SectionSpec {
                parts: parts.to_vec(),
                text,
                partial: None,
            },
            binary: false,
        }
    }

    fn window(parts: &[u32], offset: u64, count: u64, binary: bool) -> CutSpec {
        let mut cut = spec(parts, SectionText::Full);
        cut.section.partial = Some((offset, count));
        cut.binary = binary;
        cut
    }

    /// A message whose second part is `attachment` bytes of base64.
    fn with_attachment(attachment: usize, line_end: &str) -> Vec<u8> {
        let mut m = "Subject: s\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nhello\n--b\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
            .replace('\n', line_end);
        for _ in 0..attachment / 76 {
            m.push_str(&"QUJD".repeat(19));
            m.push_str(line_end);
        }
        m.push_str(&format!("--b--{line_end}"));
        m.into_bytes()
    }

    #[test]
    fn a_cut_of_the_header_alone_is_what_the_whole_message_gives() {
        let header_cuts = [
            spec(&[], SectionText::Header),
            spec(&[], SectionText::HeaderFields(vec!["subject".into()])),
            spec(&[], SectionText::HeaderFieldsNot(vec!["subject".into()])),
        ];
        let messages: [&[u8]; 4] = [
            &with_attachment(200, "\n"),
            &with_attachment(200, "\r\n"),
            b"Subject: no body\nX-A: b\n",
            b"Subject: s\n\nbody line\nSubject: not a field\n",
        ];
        for raw in messages {
            let alone = cut_all(raw, None, &header_cuts).unwrap().unwrap();
            // With a cut of the body beside them the whole message is
            // converted, and the header cuts come from it.
            let mut with_text = header_cuts.to_vec();
            with_text.push(spec(&[], SectionText::Text));
            let whole = cut_all(raw, None, &with_text).unwrap().unwrap();
            assert_eq!(alone, whole[..3], "{:?}", String::from_utf8_lossy(raw));
            assert!(
                alone
                    .iter()
                    .all(|cut| !cut.windows(2).any(|w| w[1] == b'\n' && w[0] != b'\r'))
            );
        }
    }

    /// Cuts `specs` from what [`read`] reads of `raw`, and from all of it.
    fn cut_both(raw: &[u8], specs: &[CutSpec]) -> (usize, Vec<Vec<u8>>, Vec<Vec<u8>>) {
        let body = parse_structure(raw).body;
        let need = extent(specs, Some(&body));
        let read = read(&mut &raw[..], need, raw.len() as u64).unwrap();
        let from_prefix = cut_all(&read, Some(&body), specs).unwrap().unwrap();
        let from_all = cut_all(raw, Some(&body), specs).unwrap().unwrap();
        (read.len(), from_prefix, from_all)
    }

    #[test]
    fn the_first_part_of_a_message_with_a_large_attachment_reads_its_start() {
        for eol in ["\r\n", "\n"] {
            let raw = with_attachment(1 << 20, eol);
            let specs = [
                spec(&[1], SectionText::Full),
                spec(&[1], SectionText::Mime),
                spec(&[2], SectionText::Mime),
            ];
            let (read, from_prefix, from_all) = cut_both(&raw, &specs);
            assert!(read < 400, "read {read} bytes");
            assert_eq!(from_prefix, from_all);
            assert_eq!(from_prefix[0], b"hello");
        }
    }

    #[test]
    fn a_window_of_bytes_as_they_are_reads_up_to_its_end_and_a_decoded_one_the_part() {
        for eol in ["\r\n", "\n"] {
            let raw = with_attachment(1 << 20, eol);
            let (read, from_prefix, from_all) = cut_both(
                &raw,
                &[window(&[], 0, 2048, false), window(&[2], 100, 50, false)],
            );
            assert!(read < 4096, "read {read} bytes");
            assert_eq!(from_prefix, from_all);
            assert_eq!(from_prefix[0].len(), 2048);
            assert_eq!(from_prefix[1].len(), 50);

            let mut text = spec(&[], SectionText::Text);
            text.section.partial = Some((10, 100));
            let (read, from_prefix, from_all) = cut_both(&raw, &[text]);
            assert!(read as u64 <= HEADER_PROBE + 110, "read {read} bytes");
            assert_eq!(from_prefix, from_all);
            assert_eq!(from_prefix[0].len(), 100);

            let (read, from_prefix, from_all) = cut_both(&raw, &[window(&[2], 100, 50, true)]);
            assert!(read + 16 >= raw.len(), "{read} of {}", raw.len());
            assert_eq!(from_prefix, from_all);
        }
    }

    #[test]
    fn a_header_is_read_up_to_its_empty_line_or_whole_when_longer_than_the_probe() {
        let raw = with_attachment(1 << 20, "\r\n");
        let fields = spec(&[], SectionText::HeaderFields(vec!["subject".into()]));
        let (read, from_prefix, from_all) = cut_both(&raw, std::slice::from_ref(&fields));
        assert_eq!(read as u64, HEADER_PROBE);
        assert_eq!(from_prefix, from_all);
        assert_eq!(from_prefix[0], b"Subject: s\r\n\r\n");

        let mut long = format!("X-Long: {}\r\n", "a".repeat(HEADER_PROBE as usize)).into_bytes();
        long.extend_from_slice(&raw);
        let (read, from_prefix, from_all) =
            cut_both(&long, &[fields, spec(&[], SectionText::Header)]);
        assert_eq!(read, long.len());
        assert_eq!(from_prefix, from_all);
    }

    #[test]
    fn the_whole_message_or_its_text_reads_everything_and_a_last_part_nearly() {
        for eol in ["\r\n", "\n"] {
            let raw = with_attachment(200_000, eol);
            for specs in [
                vec![spec(&[], SectionText::Text)],
                vec![spec(&[], SectionText::Full), spec(&[1], SectionText::Full)],
            ] {
                let (read, from_prefix, from_all) = cut_both(&raw, &specs);
                assert_eq!(read, raw.len());
                assert_eq!(from_prefix, from_all);
            }
            let (read, from_prefix, from_all) = cut_both(&raw, &[spec(&[2], SectionText::Full)]);
            assert!(read + 16 >= raw.len(), "{read} of {}", raw.len());
            assert_eq!(from_prefix, from_all);
        }
    }
}
