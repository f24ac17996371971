//! LIST with LIST-EXTENDED (RFC 5258): selection options, several
//! patterns and return options, including STATUS (RFC 5819 LIST-STATUS)
//! and SPECIAL-USE (RFC 6154).

use super::CommandBody;
use super::status::status_items;
use crate::StatusItem;
use crate::grammar::mailbox::{list_mailbox, mailbox};
use crate::grammar::{Cursor, PResult, bad};

/// LIST: mailboxes matching one or more patterns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct List {
    /// Selection options (`LIST (SUBSCRIBED) ...`).
    pub select: ListSelect,
    /// The reference name.
    pub reference: String,
    /// The patterns, `*` and `%` wildcards; at least one.
    pub patterns: Vec<String>,
    /// Return options (`RETURN (CHILDREN STATUS (...))`).
    pub returns: ListReturn,
    /// The extended syntax was used (selection options, a pattern list or
    /// RETURN): RFC 5258 §3 then wants e.g. `\NonExistent` and CHILDINFO
    /// where they apply.
    pub extended: bool,
}

/// LIST's selection options (RFC 5258 §3, RFC 6154).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ListSelect {
    /// SUBSCRIBED: list subscriptions (implies return SUBSCRIBED).
    pub subscribed: bool,
    /// REMOTE: include remote mailboxes.
    pub remote: bool,
    /// RECURSIVEMATCH: report children that match (CHILDINFO).
    pub recursive_match: bool,
    /// SPECIAL-USE: only mailboxes with a special use.
    pub special_use: bool,
}

/// LIST's return options.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListReturn {
    /// SUBSCRIBED: mark subscribed mailboxes `\Subscribed`.
    pub subscribed: bool,
    /// CHILDREN: `\HasChildren` / `\HasNoChildren`.
    pub children: bool,
    /// SPECIAL-USE: the special-use attributes.
    pub special_use: bool,
    /// STATUS (items): a STATUS response after each selectable mailbox.
    pub status: Option<Vec<StatusItem>>,
    /// MYRIGHTS (RFC 8440, with the ACL plugin).
    pub my_rights: bool,
}

/// `[SP list-select-opts] SP mailbox SP mbox-or-pat [SP list-return-opts]`.
pub(crate) fn parse(c: &mut Cursor<'_>, _uid: bool) -> PResult<CommandBody> {
    c.sp("reference name")?;
    let mut extended = false;
    let mut select = ListSelect::default();
    if c.peek() == Some(b'(') {
        extended = true;
        c.paren_list("selection option", true, |c| {
            let raw = c.atom("selection option")?;
            match raw.to_ascii_uppercase().as_slice() {
                b"SUBSCRIBED" => select.subscribed = true,
                b"REMOTE" => select.remote = true,
                b"RECURSIVEMATCH" => select.recursive_match = true,
                b"SPECIAL-USE" => select.special_use = true,
                _ => {
                    return bad(format!(
                        "Unknown LIST selection option {}",
                        String::from_utf8_lossy(raw)
                    ));
                }
            }
            Ok(())
        })?;
        // RFC 5258 §3: RECURSIVEMATCH only refines another selection.
        if select.recursive_match && !select.subscribed && !select.special_use {
            return bad("RECURSIVEMATCH needs another selection option");
        }
        c.sp("reference name")?;
    }
    let reference = mailbox(c, "reference name")?;
    c.sp("mailbox pattern")?;
    let patterns = if c.peek() == Some(b'(') {
        extended = true;
        c.paren_list("mailbox pattern", false, list_mailbox)?
    } else {
        vec![list_mailbox(c)?]
    };
    let mut returns = ListReturn {
        subscribed: select.subscribed,
        ..ListReturn::default()
    };
    if !c.at_eol() {
        extended = true;
        c.sp("RETURN")?;
        if !c.eat_word("RETURN") {
            return bad("Expected RETURN (<options>)");
        }
        c.sp("return options")?;
        c.paren_list("return option", true, |c| {
            let raw = c.atom("return option")?;
            match raw.to_ascii_uppercase().as_slice() {
                b"SUBSCRIBED" => returns.subscribed = true,
                b"CHILDREN" => returns.children = true,
                b"SPECIAL-USE" => returns.special_use = true,
                b"MYRIGHTS" => returns.my_rights = true,
                b"STATUS" => {
                    c.sp("status items")?;
                    returns.status = Some(status_items(c)?);
                }
                _ => {
                    return bad(format!(
                        "Unknown LIST return option {}",
                        String::from_utf8_lossy(raw)
                    ));
                }
            }
            Ok(())
        })?;
    }
    c.eol()?;
    Ok(CommandBody::List(List {
        select,
        reference,
        patterns,
        returns,
        extended,
    }))
}
