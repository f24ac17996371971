//! The ACL commands of RFC 4314 §3: SETACL, DELETEACL, GETACL, LISTRIGHTS
//! and MYRIGHTS. Mailbox names are read as every other command reads them
//! (modified UTF-7 or UTF-8); identifiers and rights are astrings. Which
//! right letters exist is the storage process's business: the parser only
//! splits SETACL's leading `+` or `-` from the letters.

use super::CommandBody;
use crate::grammar::mailbox::mailbox;
use crate::grammar::{Cursor, PResult};

/// How SETACL changes an identifier's rights (RFC 4314 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AclModification {
    /// No prefix: the rights become exactly these.
    Replace,
    /// `+`: the rights are added.
    Add,
    /// `-`: the rights are removed.
    Remove,
}

/// SETACL mailbox identifier mod-rights.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetAcl {
    /// The mailbox (UTF-8).
    pub mailbox: String,
    /// Whose rights: a user name, `anyone`, `authenticated`, or any of
    /// them behind `-` (negative rights).
    pub identifier: String,
    /// Replace, add or remove.
    pub modification: AclModification,
    /// The right letters, without the `+`/`-` prefix (possibly empty).
    pub rights: String,
}

/// DELETEACL mailbox identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteAcl {
    /// The mailbox (UTF-8).
    pub mailbox: String,
    /// The entry to remove.
    pub identifier: String,
}

/// GETACL mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetAcl {
    /// The mailbox (UTF-8).
    pub mailbox: String,
}

/// LISTRIGHTS mailbox identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRights {
    /// The mailbox (UTF-8).
    pub mailbox: String,
    /// Whose grantable rights are asked.
    pub identifier: String,
}

/// MYRIGHTS mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MyRights {
    /// The mailbox (UTF-8).
    pub mailbox: String,
}

/// `SP mailbox`.
fn mailbox_arg(c: &mut Cursor<'_>) -> PResult<String> {
    c.sp("mailbox name")?;
    mailbox(c, "mailbox name")
}

/// `SP identifier` (an astring, UTF-8).
fn identifier(c: &mut Cursor<'_>) -> PResult<String> {
    c.sp("identifier")?;
    c.astring_utf8("identifier")
}

/// SETACL's arguments: `SP mailbox SP identifier SP mod-rights`.
pub(crate) fn set(c: &mut Cursor<'_>, _uid: bool) -> PResult<CommandBody> {
    let mailbox = mailbox_arg(c)?;
    let identifier = identifier(c)?;
    c.sp("rights")?;
    let raw = c.astring_utf8("rights")?;
    let (modification, rights) = if let Some(rest) = raw.strip_prefix('+') {
        (AclModification::Add, rest.to_owned())
    } else if let Some(rest) = raw.strip_prefix('-') {
        (AclModification::Remove, rest.to_owned())
    } else {
        (AclModification::Replace, raw)
    };
    c.eol()?;
    Ok(CommandBody::SetAcl(SetAcl {
        mailbox,
        identifier,
        modification,
        rights,
    }))
}

/// DELETEACL's arguments: `SP mailbox SP identifier`.
pub(crate) fn delete(c: &mut Cursor<'_>, _uid: bool) -> PResult<CommandBody> {
    let mailbox = mailbox_arg(c)?;
    let identifier = identifier(c)?;
    c.eol()?;
    Ok(CommandBody::DeleteAcl(DeleteAcl {
        mailbox,
        identifier,
    }))
}

/// GETACL's argument: `SP mailbox`.
pub(crate) fn get(c: &mut Cursor<'_>, _uid: bool) -> PResult<CommandBody> {
    let mailbox = mailbox_arg(c)?;
    c.eol()?;
    Ok(CommandBody::GetAcl(GetAcl { mailbox }))
}

/// LISTRIGHTS's arguments: `SP mailbox SP identifier`.
pub(crate) fn list_rights(c: &mut Cursor<'_>, _uid: bool) -> PResult<CommandBody> {
    let mailbox = mailbox_arg(c)?;
    let identifier = identifier(c)?;
    c.eol()?;
    Ok(CommandBody::ListRights(ListRights {
        mailbox,
        identifier,
    }))
}

/// MYRIGHTS's argument: `SP mailbox`.
pub(crate) fn my_rights(c: &mut Cursor<'_>, _uid: bool) -> PResult<CommandBody> {
    let mailbox = mailbox_arg(c)?;
    c.eol()?;
    Ok(CommandBody::MyRights(MyRights { mailbox }))
}
