//! GETMETADATA and SETMETADATA (RFC 5464): server and mailbox
//! annotations. The empty mailbox name `""` means the server.

use super::CommandBody;
use crate::grammar::mailbox::mailbox;
use crate::grammar::{Cursor, PResult, bad};

/// GETMETADATA: read annotations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetMetadata {
    /// The mailbox; empty for server annotations.
    pub mailbox: String,
    /// MAXSIZE: leave out values longer than this (LONGENTRIES says so).
    pub max_size: Option<u64>,
    /// DEPTH: how far below each entry to look.
    pub depth: MetadataDepth,
    /// The entry names, as sent.
    pub entries: Vec<String>,
}

/// GETMETADATA's DEPTH option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MetadataDepth {
    /// 0 (the default): the entries named only.
    #[default]
    Zero,
    /// 1: and their immediate children.
    One,
    /// infinity: and everything below them.
    Infinity,
}

/// SETMETADATA: write (or with NIL remove) annotations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetMetadata {
    /// The mailbox; empty for server annotations.
    pub mailbox: String,
    /// Each entry name and its new value (`None`: remove it). Values are
    /// bytes: a binary literal may carry NUL.
    pub entries: Vec<(String, Option<Vec<u8>>)>,
}

/// An entry name (RFC 5464 §3.2): under `/private` or `/shared`, ASCII
/// without controls, wildcards, `//` or a trailing `/`.
fn entry(c: &mut Cursor<'_>) -> PResult<String> {
    let raw = c.astring("entry name")?;
    let Ok(name) = String::from_utf8(raw) else {
        return bad("Entry names are ASCII");
    };
    let lower = name.to_ascii_lowercase();
    let rooted = ["/private", "/shared"]
        .iter()
        .any(|root| lower == *root || lower.starts_with(&format!("{root}/")));
    let clean = name
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b'*' && b != b'%')
        && !name.contains("//")
        && !name.ends_with('/');
    if !rooted || !clean {
        return bad(format!("Invalid entry name {name}"));
    }
    Ok(name)
}

/// `"(" getmetadata-option *(SP getmetadata-option) ")"`.
fn options(c: &mut Cursor<'_>, get: &mut GetMetadata) -> PResult<()> {
    c.paren_list("GETMETADATA option", false, |c| {
        if c.eat_word("MAXSIZE") {
            c.sp("MAXSIZE")?;
            get.max_size = Some(c.number("MAXSIZE")?);
        } else if c.eat_word("DEPTH") {
            c.sp("DEPTH")?;
            get.depth = match c.atom("DEPTH")?.to_ascii_lowercase().as_slice() {
                b"0" => MetadataDepth::Zero,
                b"1" => MetadataDepth::One,
                b"infinity" => MetadataDepth::Infinity,
                _ => return bad("DEPTH is 0, 1 or infinity"),
            };
        } else {
            let raw = c.atom("GETMETADATA option")?;
            return bad(format!(
                "Unknown GETMETADATA option {}",
                String::from_utf8_lossy(raw)
            ));
        }
        Ok(())
    })?;
    Ok(())
}

/// Whether a `(` at the cursor opens GETMETADATA options (not entries).
fn at_options(c: &Cursor<'_>) -> bool {
    let mut probe = c.rewound(c.pos());
    probe.eat(b'(') && (probe.at_word("MAXSIZE") || probe.at_word("DEPTH"))
}

/// `[SP options] SP mailbox [SP options] SP entries`: the options are
/// accepted after the mailbox too, where RFC 5464's examples put them.
pub(crate) fn get(c: &mut Cursor<'_>, _uid: bool) -> PResult<CommandBody> {
    let mut get = GetMetadata {
        mailbox: String::new(),
        max_size: None,
        depth: MetadataDepth::Zero,
        entries: Vec::new(),
    };
    c.sp("mailbox name")?;
    if at_options(c) {
        options(c, &mut get)?;
        c.sp("mailbox name")?;
    }
    get.mailbox = mailbox(c, "mailbox name")?;
    c.sp("entry names")?;
    if at_options(c) {
        options(c, &mut get)?;
        c.sp("entry names")?;
    }
    if c.peek() == Some(b'(') {
        get.entries = c.paren_list("entry name", false, entry)?;
    } else {
        get.entries.push(entry(c)?);
        while !c.at_eol() {
            c.sp("entry name")?;
            get.entries.push(entry(c)?);
        }
    }
    c.eol()?;
    Ok(CommandBody::GetMetadata(get))
}

/// `SP mailbox SP "(" entry SP value *(SP entry SP value) ")"`.
pub(crate) fn set(c: &mut Cursor<'_>, _uid: bool) -> PResult<CommandBody> {
    c.sp("mailbox name")?;
    let mailbox = mailbox(c, "mailbox name")?;
    c.sp("entry values")?;
    let entries = c.paren_list("entry and value", false, |c| {
        let name = entry(c)?;
        c.sp("entry value")?;
        let value = if c.eat_word("NIL") {
            None
        } else {
            Some(c.string_or_literal8("entry value")?)
        };
        Ok((name, value))
    })?;
    c.eol()?;
    Ok(CommandBody::SetMetadata(SetMetadata { mailbox, entries }))
}
