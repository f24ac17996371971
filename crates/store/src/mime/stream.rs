//! Large sections read from their file as the client takes them: a part's
//! body, a message's TEXT, the whole message, a BINARY part decoded on the
//! way. A storage process serving many users would otherwise hold each
//! cut whole in memory (and the file's bytes beside it), so that a few
//! clients opening 40 MB attachments cost gigabytes.
//!
//! A section is streamed only when it is one run of the message as
//! served: a body or a TEXT (headers and HEADER.FIELDS are small and cut
//! in memory), in a file with CRLF line ends throughout (its size is the
//! size served, so its offsets are the file's) or with the file's map of
//! served offsets (`crlf_map`) when it has bare LFs. Anything else goes
//! the in-memory way, which gives the same bytes.

use std::fs::File;
use std::sync::Arc;

use super::binary::{Decoder, UnknownCte};
use super::cache::Decoded;
use super::crlf_map::{CrlfMap, read_served};
use super::section::{clamped, part_at};
use super::{BodyStructure, CutSpec, SectionText, headers};

/// How much of the file is read per step.
const STEP: usize = 256 * 1024;

/// How much of a header is read to find its end (the in-memory cut's
/// probe too); a longer one is cut in memory.
const HEADER_PROBE: usize = super::extent::HEADER_PROBE as usize;

/// Where a section lies in the message (as served), and the transfer
/// encoding BINARY would undo (`Some` for a part's body only).
#[derive(Debug, PartialEq, Eq)]
struct Run {
    start: u64,
    end: u64,
    encoding: Option<Option<Vec<u8>>>,
}

/// A section being read from its message file, `STEP` by `STEP`.
#[derive(Debug)]
pub struct SectionReader {
    file: File,
    /// Where the file's bytes are served, when it has bare LFs.
    map: Option<Arc<CrlfMap>>,
    /// Next byte of the file to read, and where the section's bytes end.
    pos: u64,
    end: u64,
    /// BINARY: the decoder, and how many decoded bytes to drop before
    /// the window; `None`: bytes as they are.
    decoder: Option<Decoder>,
    skip: u64,
    /// Bytes still to give out.
    left: u64,
    total: u64,
    contains_nul: bool,
    /// The whole message's size as served (for messages about it).
    message_size: u64,
}

impl SectionReader {
    /// A reader of the served bytes `pos..end`, decoded by `decoder` if
    /// any (its size is then learnt by reading).
    fn new(
        file: File,
        map: Option<Arc<CrlfMap>>,
        (pos, end): (u64, u64),
        decoder: Option<Decoder>,
        message_size: u64,
    ) -> SectionReader {
        let decoded = decoder.is_some();
        let left = if decoded { u64::MAX } else { end - pos };
        SectionReader {
            file,
            map,
            pos,
            end,
            decoder,
            skip: 0,
            left,
            total: if decoded { 0 } else { left },
            contains_nul: false,
            message_size,
        }
    }

    /// The size of the message the section is of, as served.
    pub fn message_size(&self) -> u64 {
        self.message_size
    }

    /// The section's size as it will be given out.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Whether the decoded bytes of a BINARY section hold a NUL (looked
    /// at before the first byte is given out); always `false` for a
    /// section given as it is, which is not looked at in advance.
    pub fn contains_nul(&self) -> bool {
        self.contains_nul
    }

    /// The whole section, read at once (a small window).
    pub fn read_all(mut self) -> std::io::Result<Vec<u8>> {
        let mut all = Vec::with_capacity(usize::try_from(self.total).unwrap_or(0).min(STEP));
        while let Some(chunk) = self.next_chunk()? {
            if all.is_empty() {
                all = chunk;
            } else {
                all.extend_from_slice(&chunk);
            }
        }
        Ok(all)
    }

    /// The next bytes of the section; `None` at its end. A file that ends
    /// before the section does is an error.
    pub fn next_chunk(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        while self.left > 0 {
            let mut out = Vec::new();
            if self.pos < self.end {
                let want = usize::try_from(self.end - self.pos)
                    .unwrap_or(STEP)
                    .min(STEP);
                let piece = read_served(&self.file, self.map.as_deref(), self.pos, want)?;
                self.pos += want as u64;
                match self.decoder.as_mut() {
                    Some(decoder) => decoder.feed(&piece, &mut out),
                    None => out = piece,
                }
            }
            if self.pos >= self.end {
                match self.decoder.as_mut() {
                    Some(decoder) => decoder.finish(&mut out),
                    // Nothing more will come, whatever `left` says.
                    None if out.is_empty() => self.left = 0,
                    None => {}
                }
            }
            let drop = usize::try_from(self.skip)
                .unwrap_or(usize::MAX)
                .min(out.len());
            out.drain(..drop);
            self.skip -= drop as u64;
            out.truncate(usize::try_from(self.left).unwrap_or(usize::MAX));
            self.left -= out.len() as u64;
            if !out.is_empty() {
                return Ok(Some(out));
            }
            if self.pos >= self.end {
                // A decoder's last bytes are out: the section ends short
                // of its window.
                self.left = 0;
            }
        }
        Ok(None)
    }
}

/// How a BINARY section's size is known before its bytes are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Measure {
    /// Exactly, before the first byte goes out (a size announced ahead
    /// of a stream, or BINARY.SIZE): from the kept size, else by decoding
    /// once first.
    Exact,
    /// The caller reads the section whole and measures what it read (a
    /// small window): a window is not decoded twice, and
    /// [`SectionReader::total`] is then only its upper bound.
    AsRead,
}

/// A section opened by [`open`], and what was learnt of its part.
#[derive(Debug)]
pub(super) struct Opened {
    pub(super) reader: SectionReader,
    /// A BINARY section of a part's body that was decoded to be measured:
    /// the whole body's decoded size, to be kept.
    pub(super) measured: Option<Decoded>,
}

/// Opens `spec` of the message file `file` (`size` bytes as served, the
/// structure `body` when the spec names a part) as a [`SectionReader`],
/// if it can be streamed (see the module's text); `Ok(None)` when it is
/// to be cut in memory. A file with bare LFs needs its `map` (whose
/// served size must be `size`). A BINARY section must be measured (its decoded
/// size, whether it holds NUL) before any byte goes out: from `known`,
/// the part's decoded size kept from an earlier measure, when that says
/// enough, else by decoding it once here.
pub(super) fn open(
    file: &File,
    size: u64,
    body: Option<&BodyStructure>,
    spec: &CutSpec,
    known: Option<Decoded>,
    map: Option<Arc<CrlfMap>>,
    measure: Measure,
) -> std::io::Result<Option<Result<Opened, UnknownCte>>> {
    let map = if file.metadata()?.len() == size {
        None
    } else {
        // Bare LFs are made CRLF when served: offsets are not the file's,
        // and only its map says where they are.
        match map {
            Some(map) if map.served_len() == size => Some(map),
            _ => return Ok(None),
        }
    };
    let Some(run) = run_of(file, map.as_deref(), size, body, spec)? else {
        return Ok(None);
    };
    let window = spec.section.partial;
    if !spec.binary {
        let len = run.end - run.start;
        let (offset, count) = window.unwrap_or((0, len));
        let start = run.start + offset.min(len);
        let end = start.saturating_add(count).min(run.end);
        let reader = SectionReader::new(file.try_clone()?, map, (start, end), None, size);
        return Ok(Some(Ok(Opened {
            reader,
            measured: None,
        })));
    }
    let decoder = match &run.encoding {
        Some(cte) => Decoder::new(cte.as_deref()),
        None => Ok(Decoder::Identity),
    };
    let decoder = match decoder {
        Ok(decoder) => decoder,
        Err(unknown) => return Ok(Some(Err(unknown))),
    };
    let whole = |file: File, decoder: Decoder| {
        SectionReader::new(file, map.clone(), (run.start, run.end), Some(decoder), size)
    };
    if let (Measure::AsRead, Some((offset, count))) = (measure, window) {
        let mut reader = whole(file.try_clone()?, decoder);
        reader.skip = offset;
        reader.left = count;
        reader.total = count;
        return Ok(Some(Ok(Opened {
            reader,
            measured: None,
        })));
    }
    // Only a part's body has an encoding worth keeping the measure of.
    let keepable = run.encoding.is_some();
    let known = known.filter(|_| keepable);
    let (decoded, window_nul, measured) = match known {
        // The whole part's NUL flag tells about a window only if it has none.
        Some(k) if window.is_none() || !k.contains_nul => (k, false, None),
        _ => {
            let mut reader = whole(file.try_clone()?, decoder.clone());
            let (decoded, window_nul) = self::measure(&mut reader, window)?;
            // Kept unless it was known already (a window measured for its
            // own NUL flag).
            let measured = Some(decoded).filter(|_| keepable && known.is_none());
            (decoded, window_nul, measured)
        }
    };
    let (skip, left, contains_nul) = match window {
        None => (0, decoded.size, decoded.contains_nul),
        Some((offset, count)) => {
            let skip = offset.min(decoded.size);
            (skip, count.min(decoded.size - skip), window_nul)
        }
    };
    let mut reader = whole(file.try_clone()?, decoder);
    reader.skip = skip;
    reader.left = left;
    reader.total = left;
    reader.contains_nul = contains_nul;
    Ok(Some(Ok(Opened { reader, measured })))
}

/// Decodes the whole section `reader` reads: its size and NUL flag, and
/// whether the bytes of `window` hold a NUL.
fn measure(
    reader: &mut SectionReader,
    window: Option<(u64, u64)>,
) -> std::io::Result<(Decoded, bool)> {
    let (from, to) = window.map_or((0, u64::MAX), |(o, c)| (o, o.saturating_add(c)));
    let (mut at, mut contains_nul, mut window_nul) = (0u64, false, false);
    while let Some(chunk) = reader.next_chunk()? {
        let end = at + chunk.len() as u64;
        if chunk.contains(&0) {
            contains_nul = true;
            if from < end && to > at {
                let lo = usize::try_from(from.saturating_sub(at)).unwrap_or(0);
                let hi = usize::try_from(to.min(end) - at).unwrap_or(chunk.len());
                window_nul |= chunk[lo..hi].contains(&0);
            }
        }
        at = end;
    }
    let decoded = Decoded {
        size: at,
        contains_nul,
    };
    Ok((decoded, window_nul))
}

/// Where `spec` lies in the message, when it is a body or a TEXT that the
/// structure (and a look at a header) can place.
fn run_of(
    file: &File,
    map: Option<&CrlfMap>,
    size: u64,
    body: Option<&BodyStructure>,
    spec: &CutSpec,
) -> std::io::Result<Option<Run>> {
    let section = &spec.section;
    if section.parts.is_empty() {
        return Ok(match section.text {
            SectionText::Full => Some(Run {
                start: 0,
                end: size,
                encoding: None,
            }),
            SectionText::Text => header_end(file, map, 0, size)?.map(|h| Run {
                start: h,
                end: size,
                encoding: None,
            }),
            _ => None,
        });
    }
    let Some(part) = body.and_then(|b| part_at(b, &section.parts)) else {
        return Ok(None);
    };
    let [header_start, body_start, body_end] = clamped(&part.span, size);
    Ok(match section.text {
        SectionText::Full => {
            let Ok(len) = usize::try_from(body_start - header_start) else {
                return Ok(None);
            };
            if len > HEADER_PROBE {
                return Ok(None);
            }
            let header = read_served(file, map, header_start, len)?;
            let fields = headers::fields(&header);
            let cte = headers::first(&fields, "Content-Transfer-Encoding").map(<[u8]>::to_vec);
            Some(Run {
                start: body_start,
                end: body_end,
                encoding: Some(cte),
            })
        }
        SectionText::Text if part.is_message_type() => header_end(file, map, body_start, body_end)?
            .map(|h| Run {
                start: h,
                end: body_end,
                encoding: None,
            }),
        _ => None,
    })
}

/// Where the header of the message at `start..end` of the file ends (its
/// empty line included); `None` when that is not within the probe.
fn header_end(
    file: &File,
    map: Option<&CrlfMap>,
    start: u64,
    end: u64,
) -> std::io::Result<Option<u64>> {
    let len = usize::try_from(end - start)
        .unwrap_or(HEADER_PROBE)
        .min(HEADER_PROBE);
    let probe = read_served(file, map, start, len)?;
    let h = headers::header_len(&probe);
    // A header running to the probe's end may go on past it.
    let whole = (len as u64) == end - start;
    Ok((h < len || whole).then_some(start + h as u64))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::mime::{BodyContent, CutSpec, SectionSpec, cut_all, parse_structure};

    /// Every part path of `body`, the enclosed messages' parts included.
    fn paths(body: &BodyStructure, prefix: Vec<u32>, out: &mut Vec<Vec<u32>>) {
        match &body.content {
            BodyContent::Multipart(children) => {
                for (i, child) in children.iter().enumerate() {
                    let mut path = prefix.clone();
                    path.push(i as u32 + 1);
                    out.push(path.clone());
                    paths(child, path, out);
                }
            }
            BodyContent::Single(single) => {
                if prefix.is_empty() {
                    out.push(vec![1]);
                }
                if let Some(m) = &single.message {
                    paths(&m.body, prefix, out);
                }
            }
        }
    }

    /// The bytes (or refusal) of `spec` streamed from `file`, `None` when
    /// it would be cut in memory; a BINARY part's is read twice, measured
    /// and then with that measure known, and must be the same.
    fn streamed(
        file: &File,
        size: u64,
        body: &BodyStructure,
        spec: &CutSpec,
        map: Option<&Arc<CrlfMap>>,
    ) -> Option<Result<Vec<u8>, UnknownCte>> {
        let opened = open(
            file,
            size,
            Some(body),
            spec,
            None,
            map.cloned(),
            Measure::Exact,
        )
        .unwrap()?;
        let (bytes, measured) = match opened {
            Ok(opened) => (read_all(opened.reader, spec), opened.measured),
            Err(unknown) => return Some(Err(unknown)),
        };
        if let Some(measured) = measured {
            let again = open(
                file,
                size,
                Some(body),
                spec,
                Some(measured),
                map.cloned(),
                Measure::Exact,
            )
            .unwrap()
            .unwrap()
            .unwrap();
            assert!(
                again.measured.is_none() || spec.section.partial.is_some() && measured.contains_nul
            );
            assert_eq!(
                read_all(again.reader, spec),
                bytes,
                "{spec:?} with its measure known"
            );
        }
        Some(Ok(bytes))
    }

    /// What `reader` gives, checked against its announced size and flag.
    fn read_all(mut reader: SectionReader, spec: &CutSpec) -> Vec<u8> {
        let total = reader.total();
        let mut bytes = Vec::new();
        while let Some(chunk) = reader.next_chunk().unwrap() {
            assert!(!chunk.is_empty());
            bytes.extend_from_slice(&chunk);
        }
        assert_eq!(bytes.len() as u64, total, "{spec:?}");
        if spec.binary {
            assert_eq!(reader.contains_nul(), bytes.contains(&0), "{spec:?}");
        }
        bytes
    }

    #[test]
    fn streamed_sections_are_the_cut_ones() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/mime");
        let mut messages: Vec<Vec<u8>> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .map(|p| crate::crlf::to_crlf(&std::fs::read(p).unwrap()).into_owned())
            .collect();
        // A part whose decoded bytes hold NUL past the first window only.
        messages.push(
            b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
Content-Transfer-Encoding: base64\r\n\r\nQUJDQUJDQUJDQUJDQUJD\r\nAAAA\r\nQUJDQUJD\r\n--b--\r\n"
                .to_vec(),
        );
        // Each also forwarded, so that parts lie inside an enclosed message.
        let forwarded: Vec<Vec<u8>> = messages
            .iter()
            .map(|m| {
                let mut f = b"Subject: fwd\r\nContent-Type: message/rfc822\r\n\r\n".to_vec();
                f.extend_from_slice(m);
                f
            })
            .collect();
        messages.extend(forwarded);
        // Each also with bare LFs, as Dovecot stores mail: read through
        // its map (marks every 7 bytes, so that sections start and end on
        // every side of a mark).
        let bare: Vec<Vec<u8>> = messages
            .iter()
            .map(|m| {
                String::from_utf8_lossy(m)
                    .replace("\r\n", "\n")
                    .into_bytes()
            })
            .filter(|m| !messages.contains(m))
            .collect();
        messages.extend(bare);
        let windows = [
            None,
            Some((0, 10)),
            Some((7, 100_000)),
            Some((3, 0)),
            Some((1 << 40, 5)),
        ];
        let mut compared = 0;
        let mut mapped = 0;
        for stored in &messages {
            let mut file = tempfile::tempfile().unwrap();
            file.write_all(stored).unwrap();
            let raw = &*crate::crlf::to_crlf(stored);
            let size = raw.len() as u64;
            let map = (raw != &stored[..]).then(|| Arc::new(CrlfMap::build(&file, 7).unwrap()));
            let body = parse_structure(raw).body;
            let mut all = vec![Vec::new()];
            paths(&body, Vec::new(), &mut all);
            for parts in all {
                for text in [SectionText::Full, SectionText::Text, SectionText::Header] {
                    for partial in windows {
                        for binary in [false, true] {
                            let spec = CutSpec {
                                section: SectionSpec {
                                    parts: parts.clone(),
                                    text: text.clone(),
                                    partial,
                                },
                                binary,
                            };
                            let Some(got) = streamed(&file, size, &body, &spec, map.as_ref())
                            else {
                                continue;
                            };
                            mapped += usize::from(map.is_some());
                            let cut = cut_all(raw, Some(&body), std::slice::from_ref(&spec))
                                .unwrap()
                                .map(|mut cuts| cuts.remove(0));
                            assert_eq!(got, cut, "{spec:?} of {}", String::from_utf8_lossy(raw));
                            compared += 1;
                        }
                    }
                }
            }
        }
        assert!(compared > 1_000, "only {compared} sections streamed");
        assert!(
            mapped > 500,
            "only {mapped} sections streamed through a map"
        );
    }

    /// `raw` in a file, its structure, and the spec of its TEXT.
    fn text_of(raw: &[u8]) -> (File, BodyStructure, CutSpec) {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(raw).unwrap();
        let spec = CutSpec {
            section: SectionSpec {
                parts: Vec::new(),
                text: SectionText::Text,
                partial: None,
            },
            binary: false,
        };
        (file, parse_structure(raw).body, spec)
    }

    #[test]
    fn a_file_with_bare_line_feeds_is_read_through_its_map_only() {
        let raw = b"Subject: a\n\nbody\n";
        let (file, body, spec) = text_of(raw);
        let served = crate::crlf::to_crlf(raw).len() as u64;
        assert!(
            open(
                &file,
                served,
                Some(&body),
                &spec,
                None,
                None,
                Measure::Exact
            )
            .unwrap()
            .is_none()
        );
        // A map whose served size is not the index's (the file changed
        // behind it) is not used either.
        let mut other = tempfile::tempfile().unwrap();
        other.write_all(b"Subject: a\n\nbody\n\n").unwrap();
        let wrong = Arc::new(CrlfMap::build(&other, 4).unwrap());
        assert!(
            open(
                &file,
                served,
                Some(&body),
                &spec,
                None,
                Some(wrong),
                Measure::Exact
            )
            .unwrap()
            .is_none()
        );
        let map = Arc::new(CrlfMap::build(&file, 4).unwrap());
        let reader = open(
            &file,
            served,
            Some(&body),
            &spec,
            None,
            Some(map),
            Measure::Exact,
        )
        .unwrap()
        .unwrap()
        .unwrap()
        .reader;
        assert_eq!(reader.read_all().unwrap(), b"body\r\n");
    }

    #[test]
    fn a_file_cut_short_is_an_error_not_a_short_section() {
        let raw = b"Subject: a\r\n\r\nbody\r\n";
        let (file, body, spec) = text_of(raw);
        let mut reader = open(
            &file,
            raw.len() as u64,
            Some(&body),
            &spec,
            None,
            None,
            Measure::Exact,
        )
        .unwrap()
        .unwrap()
        .unwrap()
        .reader;
        file.set_len(16).unwrap();
        assert!(reader.next_chunk().is_err());
    }
}
