//! Sections as the storage RPC sends them: the cuts of every message of a
//! Fetch ([`Store::cut_listed`]) and one section by its own call
//! ([`Store::open_section`]), each read from the message file where it
//! lies when that pays (see [`SectionReader`]), and cut in memory
//! otherwise. The decoded size of a large BINARY part is measured once
//! and kept.

use std::fs::File;

use super::cache::{self, Decoded, DecodedKey};
use super::section::part_at;
use super::stream::{self, Measure};
use super::{BodyStructure, CutSpec, SectionReader, SectionText, UnknownCte, cut_file, extent};
use crate::index::MessageMeta;
use crate::{Result, Store, StoreError, index, names};

/// Sections of messages at least this large are read from the file as
/// they are sent when they can be (see [`SectionReader`]), not cut whole
/// in memory.
const STREAM_FROM: u64 = 1 << 20;

/// A section opened for sending: cut in memory, or read from its file as
/// it is sent (a large body).
#[derive(Debug)]
pub enum OpenedSection {
    /// The section's bytes.
    Cut(Vec<u8>),
    /// The section, to be read chunk by chunk.
    Streamed(SectionReader),
}

/// One cut of a message listed for a Fetch.
#[derive(Debug, PartialEq, Eq)]
pub enum ListedCut {
    /// The cut's bytes.
    Bytes(Vec<u8>),
    /// Only the size was asked (BINARY.SIZE), and the cut was measured
    /// without being kept: its size and whether it holds NUL.
    Measured {
        /// The cut's size.
        total: u64,
        /// The cut holds a NUL byte.
        contains_nul: bool,
    },
}

impl Store {
    /// Cuts every spec of `specs` out of the message `listed` of
    /// `mailbox` (as an index read listed it): at the offsets of its cached
    /// structure when a spec names a part, reading only as much of the file
    /// as the cuts need; a window is read where it lies. A spec whose
    /// `size_only` (one per spec) is set (BINARY.SIZE) of a large message
    /// is measured as it is read, not kept. The inner error is
    /// [`super::cut_all`]'s.
    pub fn cut_listed(
        &self,
        mailbox: &str,
        listed: &MessageMeta,
        specs: &[CutSpec],
        size_only: &[bool],
    ) -> Result<std::result::Result<Vec<ListedCut>, UnknownCte>> {
        if size_only.len() != specs.len() {
            return Err(StoreError::InvalidArgument(format!(
                "{} cuts with {} size flags",
                specs.len(),
                size_only.len()
            )));
        }
        let body = self.structure_for_cuts(mailbox, 0, listed.uid, specs)?;
        let (file, meta) = self.open_listed(mailbox, listed)?;
        // Sizes measured and windows read from the file, by spec; the
        // rest is cut in memory below.
        let mut from_file: Vec<Option<ListedCut>> = Vec::with_capacity(specs.len());
        for (spec, &size_only) in specs.iter().zip(size_only) {
            let opened = if size_only {
                self.stream_cut(mailbox, &file, &meta, body.as_ref(), spec, Measure::Exact)?
            } else if spec.section.partial.is_some() {
                // Read whole here, and measured as read.
                self.stream_cut(mailbox, &file, &meta, body.as_ref(), spec, Measure::AsRead)?
            } else {
                None
            };
            from_file.push(match opened {
                Some(Ok(reader)) if size_only => Some(ListedCut::Measured {
                    total: reader.total(),
                    contains_nul: reader.contains_nul(),
                }),
                Some(Ok(reader)) => Some(ListedCut::Bytes(
                    reader
                        .read_all()
                        .map_err(|e| read_error(mailbox, &meta, e))?,
                )),
                Some(Err(unknown)) => return Ok(Err(unknown)),
                None => None,
            });
        }
        let rest: Vec<CutSpec> = specs
            .iter()
            .zip(&from_file)
            .filter(|(_, m)| m.is_none())
            .map(|(spec, _)| spec.clone())
            .collect();
        let mut cut = if rest.is_empty() {
            Vec::new().into_iter()
        } else {
            match cut_file(file, &meta, body.as_ref(), &rest, mailbox)? {
                Ok(cuts) => cuts.into_iter(),
                Err(unknown) => return Ok(Err(unknown)),
            }
        };
        Ok(Ok(from_file
            .into_iter()
            .map(|m| m.unwrap_or_else(|| ListedCut::Bytes(cut.next().unwrap_or_default())))
            .collect()))
    }

    /// Opens one section of the message `uid` for sending (FetchSection):
    /// a large body read from its file as it is sent, anything else cut in
    /// memory. The inner error is a BINARY section whose encoding is
    /// unknown, found before any byte is sent.
    pub fn open_section(
        &self,
        mailbox: &str,
        uidvalidity: u32,
        uid: u32,
        cut: CutSpec,
    ) -> Result<std::result::Result<OpenedSection, UnknownCte>> {
        let specs = [cut];
        let body = self.structure_for_cuts(mailbox, uidvalidity, uid, &specs)?;
        let name = names::canonical(mailbox)?;
        index::mailbox_checked(&*self.reader()?, &name, uidvalidity)?;
        let (file, meta) = self.open_message(&name, uid)?;
        let spec = &specs[0];
        match self.stream_cut(&name, &file, &meta, body.as_ref(), spec, Measure::Exact)? {
            Some(Ok(reader)) => return Ok(Ok(OpenedSection::Streamed(reader))),
            Some(Err(unknown)) => return Ok(Err(unknown)),
            None => {}
        }
        Ok(cut_file(file, &meta, body.as_ref(), &specs, &name)?
            .map(|cuts| OpenedSection::Cut(cuts.into_iter().next().unwrap_or_default())))
    }

    /// `spec` opened for reading from the message's file `file`, when it
    /// can be (see [`SectionReader`]) and it pays: a section of a message
    /// of at least [`STREAM_FROM`] bytes, or a window of bytes as they are
    /// of any message (read where it lies, not from the message's start:
    /// a client that downloads a message in windows, as Thunderbird does
    /// by default, reads each byte once). A file with bare LFs is read
    /// through its map, which takes one scan of the file to make: only
    /// when cutting in memory would read more of it than [`STREAM_FROM`].
    /// `None`: cut it in memory. The decoded size of a BINARY part is
    /// taken from the cache when it was measured before, and kept when it
    /// is measured now.
    fn stream_cut(
        &self,
        mailbox: &str,
        file: &File,
        meta: &MessageMeta,
        body: Option<&BodyStructure>,
        spec: &CutSpec,
        measure: Measure,
    ) -> Result<Option<std::result::Result<SectionReader, UnknownCte>>> {
        let window = spec.section.partial.is_some() && !spec.binary;
        if meta.size < STREAM_FROM && !window {
            return Ok(None);
        }
        let io = |e| read_error(mailbox, meta, e);
        let name = names::canonical(mailbox)?;
        let bare_lfs = file.metadata().map_err(io)?.len() != meta.size;
        let map = if bare_lfs {
            // Kept by the file's place (its name changes with its flags).
            let path = format!("{name}/{}", meta.file);
            match self.inner.crlf_maps.kept(&path) {
                Some(map) => Some(map),
                None => {
                    let in_memory = extent::extent(std::slice::from_ref(spec), body).reads();
                    if in_memory.is_some_and(|n| n <= STREAM_FROM) {
                        return Ok(None);
                    }
                    Some(self.inner.crlf_maps.of(&path, file).map_err(io)?)
                }
            }
        } else {
            None
        };
        let key = self.decoded_key(&name, meta.uid, body, spec)?;
        // A cache: one that cannot be read is measured again, not fatal.
        let known = key.as_ref().and_then(|key| {
            let read = || cache::get_decoded(&*self.reader()?, key);
            read().unwrap_or_else(|e| {
                tracing::warn!(error = %e, "decoded size not read");
                None
            })
        });
        let opened = stream::open(file, meta.size, body, spec, known, map, measure).map_err(io)?;
        Ok(opened.map(|opened| {
            opened.map(|opened| {
                if let (Some(key), Some(measured)) = (key, opened.measured) {
                    self.keep_decoded(&key, measured);
                }
                opened.reader
            })
        }))
    }

    /// Where the decoded size of `spec` is kept: for BINARY of a part's
    /// whole body, by the part and where it lies (a row made for another
    /// parse of the message is not taken).
    fn decoded_key(
        &self,
        mailbox: &str,
        uid: u32,
        body: Option<&BodyStructure>,
        spec: &CutSpec,
    ) -> Result<Option<DecodedKey>> {
        let section = &spec.section;
        if !spec.binary || section.parts.is_empty() || section.text != SectionText::Full {
            return Ok(None);
        }
        let Some(part) = body.and_then(|b| part_at(b, &section.parts)) else {
            return Ok(None);
        };
        let mailbox_id = index::mailbox_row(&*self.reader()?, mailbox)?.id;
        Ok(Some(DecodedKey {
            mailbox_id,
            uid,
            parts: section.parts.clone(),
            body_start: part.span.body_start,
            body_end: part.span.body_end,
        }))
    }

    /// Keeps a part's decoded size; a failure (a full disk) is logged, as
    /// for the structures the cache keeps.
    fn keep_decoded(&self, key: &DecodedKey, decoded: Decoded) {
        let write = || -> Result<()> {
            let mut conn = self.conn()?;
            let tx = crate::mailbox::begin_write(&mut conn)?;
            cache::put_decoded(&tx, key, decoded)?;
            tx.commit()
                .map_err(|e| StoreError::sqlite("keeping a decoded size", e))
        };
        if let Err(e) = write() {
            tracing::warn!(error = %e, "decoded size not kept");
        }
    }
}

/// A failed read of a message's file.
fn read_error(mailbox: &str, meta: &MessageMeta, e: std::io::Error) -> StoreError {
    StoreError::io(
        format!("reading message UID {} in {mailbox:?}", meta.uid),
        e,
    )
}
