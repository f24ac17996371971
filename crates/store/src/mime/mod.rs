//! MIME content for FETCH (issue 3, item 1): the envelope, body structure
//! and PREVIEW (parsed once, then cached in the index) and BODY[section] /
//! BINARY[section] (cut from the message file each time). Values only: the
//! IMAP process renders them (ENVELOPE, BODY, BODYSTRUCTURE).

mod binary;
mod bodystructure;
pub(crate) mod cache;
mod codec;
mod envelope;
mod headers;
mod preview;
mod section;
mod types;

use std::io::Read;

use crate::error::SqlContext;
use crate::{Result, Store, StoreError, index, names};

pub use binary::UnknownCte;
pub use types::{
    Address, AddressEntry, AddressGroup, BodyContent, BodyParam, BodyStructure, Disposition,
    EnclosedMessage, Envelope, SinglePart,
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
        preview: parsed.as_ref().map(preview::preview).unwrap_or_default(),
    }
}

/// Cuts `spec` (partial range included) out of the raw message `raw` as
/// served, with CRLF line ends: offsets and sizes count bare LFs as CRLF.
pub fn cut_section(raw: &[u8], spec: &SectionSpec) -> Result<Vec<u8>> {
    let raw = &*crate::crlf::to_crlf(raw);
    Ok(partial(section::section(raw, spec)?.bytes, spec))
}

/// [`cut_section`] with the part's transfer encoding undone (BINARY,
/// RFC 3516): the inner error is a part whose encoding is unknown.
pub fn cut_binary(
    raw: &[u8],
    spec: &SectionSpec,
) -> Result<std::result::Result<Vec<u8>, UnknownCte>> {
    let raw = &*crate::crlf::to_crlf(raw);
    Ok(section::section(raw, spec)?
        .decoded()
        .map(|bytes| partial(bytes, spec)))
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

/// Cuts every spec of `specs` out of the raw message `raw`, converting it
/// to CRLF once for all of them (a FETCH of several sections reads and
/// converts each message once). The inner error is a BINARY cut of a part
/// whose encoding is unknown: then none of the cuts is returned.
pub fn cut_all(
    raw: &[u8],
    specs: &[CutSpec],
) -> Result<std::result::Result<Vec<Vec<u8>>, UnknownCte>> {
    let raw = &*crate::crlf::to_crlf(raw);
    let mut cuts = Vec::with_capacity(specs.len());
    for spec in specs {
        let found = section::section(raw, &spec.section)?;
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
fn partial(bytes: Vec<u8>, spec: &SectionSpec) -> Vec<u8> {
    let Some((offset, count)) = spec.partial else {
        return bytes;
    };
    let start = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    let end = start
        .saturating_add(usize::try_from(count).unwrap_or(usize::MAX))
        .min(bytes.len());
    bytes[start..end].to_vec()
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
        let conn = self.conn()?;
        cache::put(&conn, id, uid, &s)?;
        Ok(s)
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
            for &uid in uids {
                found.push((uid, cache::get(&tx, row.id, uid)?));
            }
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
            let mut conn = self.conn()?;
            let tx = crate::mailbox::begin_write(&mut conn)?;
            for (uid, s) in &parsed {
                cache::put(&tx, id, *uid, s)?;
            }
            tx.commit()
                .map_err(|e| StoreError::sqlite("committing the MIME cache", e))?;
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
        let raw = self.checked_message(mailbox, uidvalidity, uid)?;
        cut_section(&raw, spec)
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
        let raw = self.checked_message(mailbox, uidvalidity, uid)?;
        cut_binary(&raw, spec)
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

    /// The raw bytes of one message after checking its mailbox's
    /// UIDVALIDITY.
    fn checked_message(&self, mailbox: &str, uidvalidity: u32, uid: u32) -> Result<Vec<u8>> {
        let name = names::canonical(mailbox)?;
        index::mailbox_checked(&*self.reader()?, &name, uidvalidity)?;
        self.read_message(&name, uid)
    }

    fn read_message(&self, name: &str, uid: u32) -> Result<Vec<u8>> {
        let (mut file, meta) = self.open_message(name, uid)?;
        let mut raw = Vec::with_capacity(usize::try_from(meta.size).unwrap_or(0).min(64 << 20));
        file.read_to_end(&mut raw)
            .map_err(|e| StoreError::io(format!("reading message UID {uid} in {name:?}"), e))?;
        Ok(raw)
    }
}
