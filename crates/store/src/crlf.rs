//! Messages as IMAP serves them: with CRLF line ends. A message file may
//! use bare LFs (a migrated Maildir, mail dropped in by another delivery
//! agent, an APPEND of bare-LF bytes); its file is never rewritten, but
//! every size the index keeps and every byte served counts each bare LF as
//! CRLF: the size Dovecot keeps in a Maildir name's `W=` field.

use std::borrow::Cow;
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use rusqlite::{Connection, params};

use crate::error::{Result, SqlContext, StoreError};
use crate::sync::filename::base_name;

/// Bytes read from a file per step when converting or counting.
const STEP: usize = 64 * 1024;

/// How many LFs in `data` are not preceded by CR (`before` is the byte
/// just before `data`): each counts one more byte with CRLF line ends.
pub(crate) fn bare_line_feeds(before: u8, data: &[u8]) -> u64 {
    let bare = memchr::memchr_iter(b'\n', data).filter(|&i| {
        let previous = if i == 0 { before } else { data[i - 1] };
        previous != b'\r'
    });
    bare.count() as u64
}

/// `raw` with every bare LF made CRLF; borrowed when it has none.
pub fn to_crlf(raw: &[u8]) -> Cow<'_, [u8]> {
    let extra = bare_line_feeds(0, raw);
    if extra == 0 {
        return Cow::Borrowed(raw);
    }
    let mut out = Vec::with_capacity(raw.len() + usize::try_from(extra).unwrap_or(0));
    let mut prev = 0;
    expand(raw, &mut prev, &mut out);
    Cow::Owned(out)
}

/// Appends `data` to `out` with bare LFs made CRLF; `prev` is the byte
/// before `data` and becomes its last byte.
pub(crate) fn expand(data: &[u8], prev: &mut u8, out: &mut Vec<u8>) {
    let mut from = 0;
    for i in memchr::memchr_iter(b'\n', data) {
        let before = if i == 0 { *prev } else { data[i - 1] };
        if before != b'\r' {
            out.extend_from_slice(&data[from..i]);
            out.push(b'\r');
            from = i;
        }
    }
    out.extend_from_slice(&data[from..]);
    if let Some(&last) = data.last() {
        *prev = last;
    }
}

/// The `W=<size>` field of a Maildir file name (the size with CRLF line
/// ends), when present.
pub(crate) fn size_in_name(name: &str) -> Option<u64> {
    base_name(name)
        .split(',')
        .find_map(|field| field.strip_prefix("W="))
        .and_then(|v| v.parse().ok())
}

/// The size with CRLF line ends of the message file `name` at `path`:
/// the name's `W=` when it has one (as Dovecot trusts it), else counted
/// from the file.
pub(crate) fn size_of_file(path: &Path, name: &str) -> Result<u64> {
    match size_in_name(name) {
        Some(size) => Ok(size),
        None => counted_size(path),
    }
}

/// The size with CRLF line ends of the file at `path`, counted.
pub(crate) fn counted_size(path: &Path) -> Result<u64> {
    let context = || format!("reading {}", path.display());
    // Non-blocking, so that a FIFO put in a file's place cannot hold the
    // caller (it reads as empty); regular files read as usual.
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| StoreError::io(context(), e))?;
    let mut buf = vec![0u8; STEP];
    let (mut size, mut prev) = (0u64, 0u8);
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => return Ok(size),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(StoreError::io(context(), e)),
        };
        size += n as u64 + bare_line_feeds(prev, &buf[..n]);
        prev = buf[n - 1];
    }
}

/// The `meta` key that marks an index whose sizes count CRLF.
const SIZES_COUNT_CRLF: &str = "sizes_count_crlf";

/// Brings an index written when sizes were file sizes up to date, once:
/// each message whose file has bare LFs gets its size with CRLF line ends.
/// A file that cannot be read keeps its row as it is (the next sync or
/// `verify` deals with it); opening the store does not fail for it.
pub(crate) fn upgrade_sizes(conn: &mut Connection, root: &Path) -> Result<()> {
    let context = "counting message sizes with CRLF line ends";
    let done = |c: &Connection| {
        c.query_row(
            "SELECT EXISTS (SELECT 1 FROM meta WHERE key = ?1)",
            [SIZES_COUNT_CRLF],
            |r| r.get::<_, bool>(0),
        )
        .ctx(context)
    };
    if done(conn)? {
        return Ok(());
    }
    let tx = crate::mailbox::begin_write(conn)?;
    if done(&tx)? {
        return Ok(());
    }
    let rows: Vec<(i64, u32, String, String, i64)> = {
        let mut stmt = tx
            .prepare(
                "SELECT m.mailbox_id, m.uid, m.file, b.name, m.size
                 FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id",
            )
            .ctx(context)?;
        stmt.query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .ctx(context)?
        .collect::<rusqlite::Result<_>>()
        .ctx(context)?
    };
    for (mailbox_id, uid, file, mailbox, size) in rows {
        let path = crate::names::mailbox_dir(root, &mailbox)
            .join("cur")
            .join(&file);
        match size_of_file(&path, &file) {
            Ok(served) if served as i64 != size => {
                tx.execute(
                    "UPDATE messages SET size = ?3 WHERE mailbox_id = ?1 AND uid = ?2",
                    params![mailbox_id, uid, served as i64],
                )
                .ctx(context)?;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(mailbox, uid, error = %e,
                "size with CRLF line ends not counted; the row keeps the file's size"),
        }
    }
    mark_sizes_counted(&tx)?;
    tx.commit().ctx(context)
}

/// Records that every size in the index counts CRLF (after an import that
/// counted them so), so that [`upgrade_sizes`] has nothing to do.
pub(crate) fn mark_sizes_counted(conn: &Connection) -> Result<()> {
    conn.execute(
        "INSERT OR IGNORE INTO meta (key, value) VALUES (?1, 1)",
        [SIZES_COUNT_CRLF],
    )
    .ctx("marking sizes as counted with CRLF line ends")?;
    Ok(())
}

/// A reader that yields what it reads with bare LFs made CRLF, for
/// streaming a message file as IMAP serves it without reading it whole.
pub struct CrlfReader<R> {
    inner: R,
    prev: u8,
    raw: Vec<u8>,
    out: Vec<u8>,
    pos: usize,
}

impl<R: Read> CrlfReader<R> {
    /// Wraps `inner`, positioned at the start of a message.
    pub fn new(inner: R) -> CrlfReader<R> {
        CrlfReader {
            inner,
            prev: 0,
            raw: Vec::new(),
            out: Vec::new(),
            pos: 0,
        }
    }
}

impl<R: Read> Read for CrlfReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.pos == self.out.len() {
            self.raw.resize(STEP, 0);
            let n = self.inner.read(&mut self.raw)?;
            if n == 0 {
                return Ok(0);
            }
            self.out.clear();
            self.pos = 0;
            expand(&self.raw[..n], &mut self.prev, &mut self.out);
        }
        let n = buf.len().min(self.out.len() - self.pos);
        buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_line_feeds_without_a_carriage_return() {
        assert_eq!(bare_line_feeds(0, b"a\r\nb\nc\n\n"), 3);
        assert_eq!(bare_line_feeds(0, b""), 0);
        // A CRLF split between two writes is one line end, not a bare LF.
        assert_eq!(bare_line_feeds(b'\r', b"\nx"), 0);
        assert_eq!(bare_line_feeds(b'x', b"\nx"), 1);
    }

    #[test]
    fn bare_line_feeds_become_crlf_and_the_rest_stays() {
        assert_eq!(
            &*to_crlf(b"a\nb\r\nc\r\rd\n\n"),
            b"a\r\nb\r\nc\r\rd\r\n\r\n"
        );
        assert!(matches!(to_crlf(b"a\r\nb"), Cow::Borrowed(_)));
    }

    /// A reader handing out one byte at a time, to cut every CRLF apart.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match (self.0.split_first(), buf.is_empty()) {
                (Some((&b, rest)), false) => {
                    buf[0] = b;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    #[test]
    fn the_reader_converts_across_any_read_boundary() {
        let raw = b"Subject: x\n\nline\r\nline\n".repeat(5000);
        let want = to_crlf(&raw).into_owned();
        let mut got = Vec::new();
        CrlfReader::new(&raw[..]).read_to_end(&mut got).unwrap();
        assert_eq!(got, want);
        let mut got = Vec::new();
        CrlfReader::new(Trickle(&raw[..2000]))
            .read_to_end(&mut got)
            .unwrap();
        assert_eq!(got, &*to_crlf(&raw[..2000]));
        let mut small = [0u8; 3];
        let mut reader = CrlfReader::new(&b"a\nb"[..]);
        let mut got = Vec::new();
        loop {
            let n = reader.read(&mut small).unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&small[..n]);
        }
        assert_eq!(got, b"a\r\nb");
    }

    #[test]
    fn the_size_comes_from_the_name_or_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m");
        std::fs::write(&path, b"a\nb\r\nc\n").unwrap();
        assert_eq!(size_of_file(&path, "1.M1P1.h,S=7,W=42:2,S").unwrap(), 42);
        assert_eq!(size_of_file(&path, "1.M1P1.h,S=7:2,").unwrap(), 9);
        assert_eq!(size_of_file(&path, "1.M1P1.h").unwrap(), 9);
    }
}
