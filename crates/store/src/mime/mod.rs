//! MIME content for FETCH (issue 3, item 1): the envelope, body structure
//! and PREVIEW (parsed once, then cached in the index, with where each
//! part lies) and BODY[section] / BINARY[section] (cut from the message
//! file at those offsets, reading only as much of it as the cuts need).
//! Values only: the IMAP process renders them (ENVELOPE, BODY,
//! BODYSTRUCTURE).

mod binary;
mod bodystructure;
pub(crate) mod cache;
mod codec;
mod crlf_map;
mod envelope;
mod extent;
mod headers;
mod listed;
mod preview;
mod section;
mod stream;
mod types;

use std::io::Read;

use crate::error::SqlContext;
use crate::index::MessageMeta;
use crate::{Result, Store, StoreError, index, names};

pub use binary::UnknownCte;
pub(crate) use bodystructure::parse as parse_undecoded;
pub(crate) use crlf_map::CrlfMaps;
pub(crate) use extent::read_header;
pub use listed::{ListedCut, OpenedSection};
pub use stream::SectionReader;
pub use types::{
    Address, AddressEntry, AddressGroup, BodyContent, BodyParam, BodyStructure, Disposition,
    EnclosedMessage, Envelope, PartSpan, SinglePart,
};

/// The parsed structure of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Structure {
    /// The envelope (IMAP ENVELOPE).
    pub envelope: Envelope,
    /// The MIME structure (IMAP BODY and BODYSTRUCTURE).
    pub body: BodyStructure,
    /// PREVIEW text (RFC 8970), UTF-8, at most 200 characters.
    pub preview: String,
}

/// What of a part a section names after its part numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionText {
    /// No text kind: the whole message, or the part's body.
    Full,
    /// `HEADER`.
    Header,
    /// `HEADER.FIELDS (names)`.
    HeaderFields(Vec<String>),
    /// `HEADER.FIELDS.NOT (names)`.
    HeaderFieldsNot(Vec<String>),
    /// `TEXT`.
    Text,
    /// `MIME`: the part's own header (needs part numbers).
    Mime,
}

/// A `BODY[section]<partial>` or `BINARY[section]<partial>` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionSpec {
    /// Part numbers, e.g. `[2, 1]` for `2.1`; empty for the message.
    pub parts: Vec<u32>,
    /// The text kind after the numbers.
    pub text: SectionText,
    /// `<offset.count>`: the bytes wanted of the section.
    pub partial: Option<(u64, u64)>,
}

/// Computes the structure of the raw message `raw`. Sizes and line counts
/// are those of the message as served, with CRLF line ends.
pub fn parse_structure(raw: &[u8]) -> Structure {
    let raw = &*crate::crlf::to_crlf(raw);
    let h = headers::header_len(raw);
    let parsed = bodystructure::parse(raw);
    Structure {
        envelope: envelope::envelope(&raw[..h]),
        body: bodystructure::structure(parsed.as_ref(), raw),
        preview: parsed
            .as_ref()
            .map(|m| preview::preview(m, raw))
            .unwrap_or_default(),
    }
}

/// Cuts `spec` (partial range included) out of the raw message `raw` as
/// served, with CRLF line ends: offsets and sizes count bare LFs as CRLF.
/// A section that names a part parses the message for its structure
/// (the store keeps structures: see [`Store::section`]).
pub fn cut_section(raw: &[u8], spec: &SectionSpec) -> Result<Vec<u8>> {
    Ok(partial(cut_one(raw, None, spec)?.bytes, spec))
}

/// [`cut_section`] with the part's transfer encoding undone (BINARY,
/// RFC 3516): the inner error is a part whose encoding is unknown.
pub fn cut_binary(
    raw: &[u8],
    spec: &SectionSpec,
) -> Result<std::result::Result<Vec<u8>, UnknownCte>> {
    Ok(cut_one(raw, None, spec)?
        .decoded()
        .map(|bytes| partial(bytes, spec)))
}

/// The section `spec` of the raw message `raw` before its partial range,
/// found in the structure `known` or in the message parsed.
fn cut_one(raw: &[u8], known: Option<&BodyStructure>, spec: &SectionSpec) -> Result<section::Cut> {
    let raw = &*crate::crlf::to_crlf(raw);
    let body = structure_for(raw, known, !spec.parts.is_empty());
    section::section(raw, body.as_deref(), spec)
}

/// The structure the cuts need: `known` (from the MIME cache), else the
/// message parsed; none when no section names a part (`needed` false).
fn structure_for<'a>(
    raw: &[u8],
    known: Option<&'a BodyStructure>,
    needed: bool,
) -> Option<std::borrow::Cow<'a, BodyStructure>> {
    match known {
        Some(body) => Some(std::borrow::Cow::Borrowed(body)),
        None if needed => {
            let parsed = bodystructure::parse(raw);
            Some(std::borrow::Cow::Owned(bodystructure::structure(
                parsed.as_ref(),
                raw,
            )))
        }
        None => None,
    }
}

/// One section asked of every message of a FETCH: what to cut and
/// whether to undo its transfer encoding (BINARY).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CutSpec {
    /// The section and its `<offset.count>`.
    pub section: SectionSpec,
    /// Decode the part's transfer encoding.
    pub binary: bool,
}

/// Whether any of `specs` names a part, and so needs the message's
/// structure (kept by [`Store::message_structure`]) to be cut.
pub fn cuts_need_structure(specs: &[CutSpec]) -> bool {
    specs.iter().any(|s| !s.section.parts.is_empty())
}

/// Whether `spec` cuts the message's own header or fields of it, and
/// nothing of its body.
fn cuts_only_the_header(spec: &CutSpec) -> bool {
    spec.section.parts.is_empty()
        && matches!(
            spec.section.text,
            SectionText::Header | SectionText::HeaderFields(_) | SectionText::HeaderFieldsNot(_)
        )
}

/// Cuts every spec of `specs` out of the raw message `raw`, converting it
/// to CRLF once for all of them (a FETCH of several sections reads and
/// converts each message once). `body` is the message's structure, if
/// known (else it is parsed when a spec names a part). The inner error is
/// a BINARY cut of a part whose encoding is unknown: then none of the
/// cuts is returned.
pub fn cut_all(
    raw: &[u8],
    body: Option<&BodyStructure>,
    specs: &[CutSpec],
) -> Result<std::result::Result<Vec<Vec<u8>>, UnknownCte>> {
    // Cuts of the message's own header (a client's message list) need
    // nothing past its empty line: the rest is not converted.
    let raw = if specs.iter().all(cuts_only_the_header) {
        &raw[..headers::header_len(raw)]
    } else {
        raw
    };
    let raw = &*crate::crlf::to_crlf(raw);
    let body = structure_for(raw, body, cuts_need_structure(specs));
    let mut cuts = Vec::with_capacity(specs.len());
    for spec in specs {
        let found = section::section(raw, body.as_deref(), &spec.section)?;
        let bytes = if spec.binary {
            match found.decoded() {
                Ok(bytes) => bytes,
                Err(e) => return Ok(Err(e)),
            }
        } else {
            found.bytes
        };
        cuts.push(partial(bytes, &spec.section));
    }
    Ok(Ok(cuts))
}

/// The `<offset.count>` window of `bytes`, if `spec` asks for one.
fn partial(mut bytes: Vec<u8>, spec: &SectionSpec) -> Vec<u8> {
    let Some((offset, count)) = spec.partial else {
        return bytes;
    };
    let start = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    let end = start
        .saturating_add(usize::try_from(count).unwrap_or(usize::MAX))
        .min(bytes.len());
    // In place: a large window is not copied out of its section, and a
    // small one does not keep the section's memory.
    bytes.truncate(end);
    bytes.drain(..start);
    if bytes.capacity() > 2 * bytes.len() {
        bytes.shrink_to_fit();
    }
    bytes
}

/// Reads what `specs` need of the message file `file` and cuts them.
fn cut_file(
    mut file: std::fs::File,
    meta: &MessageMeta,
    body: Option<&BodyStructure>,
    specs: &[CutSpec],
    mailbox: &str,
) -> Result<std::result::Result<Vec<Vec<u8>>, UnknownCte>> {
    let need = extent::extent(specs, body);
    let raw = extent::read(&mut file, need, meta.size).map_err(|e| {
        StoreError::io(
            format!("reading message UID {} in {mailbox:?}", meta.uid),
            e,
        )
    })?;
    cut_all(&raw, body, specs)
}

impl Store {
    /// The envelope, body structure and PREVIEW of one message: from the
    /// cache, else parsed from the file and cached. `uidvalidity` 0 skips
    /// the UIDVALIDITY check.
    pub fn message_structure(
        &self,
        mailbox: &str,
        uidvalidity: u32,
        uid: u32,
    ) -> Result<Structure> {
        let name = names::canonical(mailbox)?;
        let id = {
            let conn = self.reader()?;
            let row = index::mailbox_checked(&conn, &name, uidvalidity)?;
            if let Some(s) = cache::get(&conn, row.id, uid)? {
                return Ok(s);
            }
            row.id
        };
        let raw = self.read_message(&name, uid)?;
        let s = parse_structure(&raw);
        self.keep_in_cache(id, [(uid, &s)]);
        Ok(s)
    }

    /// Caches structures just parsed, in one transaction. A failure (a
    /// full disk, a locked index) is logged and the message served all the
    /// same: the cache only saves parsing it again.
    fn keep_in_cache<'s>(
        &self,
        mailbox_id: i64,
        parsed: impl IntoIterator<Item = (u32, &'s Structure)>,
    ) {
        let write = || -> Result<()> {
            let mut conn = self.conn()?;
            let tx = crate::mailbox::begin_write(&mut conn)?;
            for (uid, s) in parsed {
                cache::put(&tx, mailbox_id, uid, s)?;
            }
            tx.commit()
                .map_err(|e| StoreError::sqlite("committing the MIME cache", e))
        };
        if let Err(e) = write() {
            tracing::warn!(error = %e, "MIME structures not cached");
        }
    }

    /// [`Store::message_structure`] for many messages at once: cached ones
    /// in one read, the rest parsed and cached in one transaction (one
    /// index sync instead of one per message). Messages that no longer
    /// exist are left out; the result is in the order of `uids`.
    pub fn message_structures(
        &self,
        mailbox: &str,
        uidvalidity: u32,
        uids: &[u32],
    ) -> Result<Vec<(u32, Structure)>> {
        let name = names::canonical(mailbox)?;
        let mut found: Vec<(u32, Option<Structure>)> = Vec::with_capacity(uids.len());
        let id = {
            let mut conn = self.reader()?;
            let tx = crate::txn::Txn::read(&mut conn).ctx("reading the MIME cache")?;
            let row = index::mailbox_checked(&tx, &name, uidvalidity)?;
            let cached = cache::get_all(&tx, row.id, uids)?;
            found.extend(uids.iter().copied().zip(cached));
            row.id
        };
        let mut parsed = Vec::new();
        for (uid, s) in &mut found {
            if s.is_none() {
                match self.read_message(&name, *uid) {
                    Ok(raw) => {
                        let p = parse_structure(&raw);
                        parsed.push((*uid, p.clone()));
                        *s = Some(p);
                    }
                    Err(
                        StoreError::NotFound { .. }
                        | StoreError::Expunged { .. }
                        | StoreError::MessageFileMissing { .. },
                    ) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        if !parsed.is_empty() {
            self.keep_in_cache(id, parsed.iter().map(|(uid, s)| (*uid, s)));
        }
        Ok(found
            .into_iter()
            .filter_map(|(uid, s)| s.map(|s| (uid, s)))
            .collect())
    }

    /// The bytes of `spec` in one message (BODY[...]), as served (CRLF);
    /// bounded by the message size.
    pub fn section(
        &self,
        mailbox: &str,
        uidvalidity: u32,
        uid: u32,
        spec: &SectionSpec,
    ) -> Result<Vec<u8>> {
        let cut = CutSpec {
            section: spec.clone(),
            binary: false,
        };
        // Only a BINARY cut can meet an unknown encoding.
        Ok(self
            .cut_uid(mailbox, uidvalidity, uid, cut)?
            .unwrap_or_default())
    }

    /// The bytes of `spec` in one message with the part's transfer
    /// encoding undone (BINARY[...]); the inner error is a part whose
    /// encoding is unknown (`NO [UNKNOWN-CTE]`).
    pub fn binary_section(
        &self,
        mailbox: &str,
        uidvalidity: u32,
        uid: u32,
        spec: &SectionSpec,
    ) -> Result<std::result::Result<Vec<u8>, UnknownCte>> {
        let cut = CutSpec {
            section: spec.clone(),
            binary: true,
        };
        self.cut_uid(mailbox, uidvalidity, uid, cut)
    }

    /// BINARY.SIZE[section]: the decoded size of a section.
    pub fn binary_size(
        &self,
        mailbox: &str,
        uidvalidity: u32,
        uid: u32,
        parts: &[u32],
    ) -> Result<std::result::Result<u64, UnknownCte>> {
        let spec = SectionSpec {
            parts: parts.to_vec(),
            text: SectionText::Full,
            partial: None,
        };
        Ok(self
            .binary_section(mailbox, uidvalidity, uid, &spec)?
            .map(|bytes| bytes.len() as u64))
    }

    /// One cut of the message `uid` after checking its mailbox's
    /// UIDVALIDITY.
    fn cut_uid(
        &self,
        mailbox: &str,
        uidvalidity: u32,
        uid: u32,
        cut: CutSpec,
    ) -> Result<std::result::Result<Vec<u8>, UnknownCte>> {
        let specs = [cut];
        let body = self.structure_for_cuts(mailbox, uidvalidity, uid, &specs)?;
        let name = names::canonical(mailbox)?;
        index::mailbox_checked(&*self.reader()?, &name, uidvalidity)?;
        let (file, meta) = self.open_message(&name, uid)?;
        Ok(cut_file(file, &meta, body.as_ref(), &specs, &name)?
            .map(|cuts| cuts.into_iter().next().unwrap_or_default()))
    }

    /// The structure `specs` need (from the MIME cache, or parsed and
    /// cached): `None` when no spec names a part.
    fn structure_for_cuts(
        &self,
        mailbox: &str,
        uidvalidity: u32,
        uid: u32,
        specs: &[CutSpec],
    ) -> Result<Option<BodyStructure>> {
        if !cuts_need_structure(specs) {
            return Ok(None);
        }
        Ok(Some(
            self.message_structure(mailbox, uidvalidity, uid)?.body,
        ))
    }

    fn read_message(&self, name: &str, uid: u32) -> Result<Vec<u8>> {
        let (mut file, meta) = self.open_message(name, uid)?;
        let mut raw = Vec::with_capacity(usize::try_from(meta.size).unwrap_or(0).min(64 << 20));
        file.read_to_end(&mut raw)
            .map_err(|e| StoreError::io(format!("reading message UID {uid} in {name:?}"), e))?;
        Ok(raw)
    }
}
