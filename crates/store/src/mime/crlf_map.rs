//! Where the bytes of a message file with bare LFs lie in the message as
//! served (each bare LF served as CRLF). Messages delivered by Dovecot,
//! whose Maildirs mailkeep takes over, are stored with bare LFs (its
//! `mail_save_crlf` is off by default), so a large one is common, and a
//! section or window of it must be found without converting the file from
//! its start each time: a [`CrlfMap`] marks every [`MARK_EVERY`] bytes of
//! the file with the offset they are served at, made by one scan of the
//! file and kept for the files of the last few large messages read.

use std::collections::VecDeque;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex, PoisonError};

use crate::crlf::{bare_line_feeds, expand};

/// Bytes of the file between two marks: at most this much is converted
/// and dropped to reach a served offset.
const MARK_EVERY: u64 = 64 * 1024;

/// How much of a file is read per step while scanning or converting.
const READ_STEP: usize = 64 * 1024;

/// The maps of this many files are kept.
const KEPT: usize = 8;

/// A point of the file whose served offset is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Mark {
    /// Offset in the file.
    file: u64,
    /// Offset in the message as served.
    served: u64,
    /// The file's byte before `file` (0 at the start): an LF at `file` is
    /// bare unless this is CR.
    before: u8,
}

/// Marks of one file (see the module's text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CrlfMap {
    /// In order; the first is the file's start.
    marks: Vec<Mark>,
    /// The whole file's size as served.
    served_len: u64,
}

impl CrlfMap {
    /// Scans `file` once, marking every `every` bytes.
    pub(crate) fn build(file: &File, every: u64) -> std::io::Result<CrlfMap> {
        let every = every.max(1);
        let mut marks = vec![Mark {
            file: 0,
            served: 0,
            before: 0,
        }];
        let (mut at, mut served, mut before) = (0u64, 0u64, 0u8);
        let mut buf = vec![0; READ_STEP];
        loop {
            let n = file.read_at(&mut buf, at)?;
            if n == 0 {
                break;
            }
            let mut piece = &buf[..n];
            while !piece.is_empty() {
                let to_mark = every - at % every;
                let take = usize::try_from(to_mark)
                    .unwrap_or(usize::MAX)
                    .min(piece.len());
                let (now, rest) = piece.split_at(take);
                served += now.len() as u64 + bare_line_feeds(before, now);
                at += now.len() as u64;
                before = now[now.len() - 1];
                if at % every == 0 {
                    marks.push(Mark {
                        file: at,
                        served,
                        before,
                    });
                }
                piece = rest;
            }
        }
        Ok(CrlfMap {
            marks,
            served_len: served,
        })
    }

    /// The file's size as served.
    pub(crate) fn served_len(&self) -> u64 {
        self.served_len
    }

    /// The last mark at or before served offset `at`.
    fn mark_before(&self, at: u64) -> Mark {
        let i = self.marks.partition_point(|m| m.served <= at);
        self.marks[i.saturating_sub(1)]
    }
}

/// Reads exactly the served bytes `at..at + len` of `file`: as they are
/// when `map` is `None` (a file with CRLF line ends throughout), else
/// converted from the mark before them. A file that ends first is an
/// `UnexpectedEof` error.
pub(crate) fn read_served(
    file: &File,
    map: Option<&CrlfMap>,
    at: u64,
    len: usize,
) -> std::io::Result<Vec<u8>> {
    let Some(map) = map else {
        let mut out = vec![0; len];
        file.read_exact_at(&mut out, at)?;
        return Ok(out);
    };
    let mark = map.mark_before(at);
    let skip = usize::try_from(at - mark.served).unwrap_or(usize::MAX);
    let want = skip.saturating_add(len);
    let mut out = Vec::with_capacity(want.saturating_add(want / 16));
    let (mut pos, mut before) = (mark.file, mark.before);
    let mut buf = vec![0; READ_STEP];
    while out.len() < want {
        let n = file.read_at(&mut buf, pos)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        pos += n as u64;
        expand(&buf[..n], &mut before, &mut out);
    }
    out.truncate(want);
    out.drain(..skip);
    Ok(out)
}

/// The maps of the last few files read this way, by path.
#[derive(Debug, Default)]
pub(crate) struct CrlfMaps {
    kept: Mutex<VecDeque<(String, Arc<CrlfMap>)>>,
}

impl CrlfMaps {
    /// The map of the file at `path`, if one is kept.
    pub(crate) fn kept(&self, path: &str) -> Option<Arc<CrlfMap>> {
        self.kept
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, map)| Arc::clone(map))
    }

    /// The map of the file at `path` (opened as `file`), made now unless
    /// kept from before.
    pub(crate) fn of(&self, path: &str, file: &File) -> std::io::Result<Arc<CrlfMap>> {
        if let Some(map) = self.kept(path) {
            return Ok(map);
        }
        let map = Arc::new(CrlfMap::build(file, MARK_EVERY)?);
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.len() >= KEPT {
            kept.pop_front();
        }
        kept.push_back((path.to_owned(), Arc::clone(&map)));
        Ok(map)
    }

    /// Forgets every map (the store releases its memory when idle).
    pub(crate) fn clear(&self) {
        self.kept
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::crlf::to_crlf;

    #[test]
    fn every_served_range_reads_as_the_converted_file() {
        let raw = b"a\nb\r\n\nc\rd\n\r\n\n\nlong line here\nx\r".to_vec();
        let served = to_crlf(&raw).into_owned();
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&raw).unwrap();
        for every in [1, 2, 3, 5, 64] {
            let map = CrlfMap::build(&file, every).unwrap();
            assert_eq!(map.served_len(), served.len() as u64);
            for at in 0..=served.len() {
                for len in 0..=served.len() - at {
                    let got = read_served(&file, Some(&map), at as u64, len).unwrap();
                    assert_eq!(got, &served[at..at + len], "every {every}, {at}+{len}");
                }
            }
            let past = read_served(&file, Some(&map), served.len() as u64 - 1, 2);
            assert_eq!(past.unwrap_err().kind(), std::io::ErrorKind::UnexpectedEof);
        }
    }
}
