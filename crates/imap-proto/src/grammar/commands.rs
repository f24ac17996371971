//! Command dispatch: the tag, the command name and each command's
//! arguments (RFC 9051 §6, RFC 3501 LSUB, RFC 7162 modifiers).

use super::cursor::{Cursor, Fail, PResult, bad, is_atom_char};
use super::fetch::fetch_items;
use super::flags::{flag, flag_list, starts_flag};
use super::seqset::sequence_set;
use super::time::date_time;
use crate::base64;
use crate::command::{Command, CommandBody, StatusItem, StoreMode};

/// Command names this parser knows (upper case). `UID` covers UID FETCH,
/// UID STORE and UID EXPUNGE.
const KNOWN: &[&str] = &[
    "CAPABILITY",
    "NOOP",
    "LOGOUT",
    "LOGIN",
    "AUTHENTICATE",
    "LIST",
    "LSUB",
    "CREATE",
    "DELETE",
    "RENAME",
    "SELECT",
    "EXAMINE",
    "STATUS",
    "APPEND",
    "CHECK",
    "CLOSE",
    "UNSELECT",
    "EXPUNGE",
    "FETCH",
    "STORE",
    "SEARCH",
    "UID",
];

/// Whether `name` (any case) is a command this parser knows.
pub(crate) fn known_command(name: &[u8]) -> bool {
    KNOWN
        .iter()
        .any(|k| k.as_bytes().eq_ignore_ascii_case(name))
}

/// The syntax of a command, appended to its error messages.
fn usage(name: &str) -> &'static str {
    match name {
        "LOGIN" => "LOGIN <user> <password>",
        "AUTHENTICATE" => "AUTHENTICATE <mechanism> [<initial-response>]",
        "LIST" => "LIST <reference> <pattern>",
        "LSUB" => "LSUB <reference> <pattern>",
        "CREATE" => "CREATE <mailbox>",
        "DELETE" => "DELETE <mailbox>",
        "RENAME" => "RENAME <mailbox> <new-name>",
        "SELECT" => "SELECT <mailbox>",
        "EXAMINE" => "EXAMINE <mailbox>",
        "STATUS" => "STATUS <mailbox> (<items>)",
        "APPEND" => "APPEND <mailbox> [(<flags>)] [\"<date-time>\"] <literal>",
        "FETCH" => "FETCH <sequence-set> <items> [(CHANGEDSINCE <modseq>)]",
        "SEARCH" | "UID SEARCH" => "SEARCH [CHARSET <charset>] <search-key> ...",
        "STORE" => "STORE <sequence-set> [(UNCHANGEDSINCE <modseq>)] [+|-]FLAGS[.SILENT] <flags>",
        "UID" => "UID FETCH|STORE|EXPUNGE <arguments>",
        "UID FETCH" => "UID FETCH <uid-set> <items> [(CHANGEDSINCE <modseq>)]",
        "UID STORE" => {
            "UID STORE <uid-set> [(UNCHANGEDSINCE <modseq>)] [+|-]FLAGS[.SILENT] <flags>"
        }
        "UID EXPUNGE" => "UID EXPUNGE <uid-set>",
        _ => "",
    }
}

/// Adds the command's syntax to a failure's message.
fn with_usage(fail: Fail, name: &str) -> Fail {
    match fail {
        Fail::Bad(msg) => {
            let u = usage(name);
            if u.is_empty() {
                Fail::Bad(format!("{msg} (expected: {name} with no arguments)"))
            } else {
                Fail::Bad(format!("{msg} (expected: {u})"))
            }
        }
        other => other,
    }
}

/// A mailbox name: an astring, any case of INBOX becoming `INBOX`.
fn mailbox(c: &mut Cursor<'_>, what: &str) -> PResult<String> {
    let name = c.astring_utf8(what)?;
    if name.eq_ignore_ascii_case("INBOX") {
        Ok("INBOX".to_string())
    } else {
        Ok(name)
    }
}

/// `list-mailbox`: list-chars (atom chars, wildcards, `]`) or a string.
fn list_mailbox(c: &mut Cursor<'_>) -> PResult<String> {
    let raw = match c.peek() {
        Some(b'"' | b'{') | None => c.string("mailbox pattern")?,
        Some(b'~') if c.peek2() == Some(b'{') => c.string("mailbox pattern")?,
        Some(b'\r' | b'\n') => return bad("Missing mailbox pattern"),
        Some(_) => {
            let raw = c.take_while(|b| is_atom_char(b) || matches!(b, b'%' | b'*' | b']'));
            if raw.is_empty() {
                return bad("Expected mailbox pattern");
            }
            raw.to_vec()
        }
    };
    String::from_utf8(raw).map_err(|_| Fail::Bad("Invalid UTF-8 in mailbox pattern".into()))
}

/// Parses a complete command (ending in CRLF, literals in place).
pub(crate) fn parse_command(buf: &[u8]) -> Result<Command, String> {
    let mut c = Cursor::new(buf);
    let result = (|| {
        let tag = c.tag()?;
        c.sp("command name")?;
        let name = String::from_utf8_lossy(c.atom("command name")?).to_ascii_uppercase();
        if !known_command(name.as_bytes()) {
            return bad(format!("Unknown command {name}"));
        }
        // UID's sub-commands add their own usage.
        let body = if name == "UID" {
            command_body(&mut c, &name)?
        } else {
            command_body(&mut c, &name).map_err(|f| with_usage(f, &name))?
        };
        Ok(Command { tag, body })
    })();
    match result {
        Ok(cmd) => Ok(cmd),
        Err(Fail::Bad(msg)) => Err(msg),
        Err(Fail::Incomplete) => Err("Unexpected end of command".to_string()),
    }
}

/// The arguments of command `name`, through the final CRLF.
fn command_body(c: &mut Cursor<'_>, name: &str) -> PResult<CommandBody> {
    let no_args = |c: &mut Cursor<'_>, body: CommandBody| {
        c.eol()?;
        Ok(body)
    };
    match name {
        "CAPABILITY" => no_args(c, CommandBody::Capability),
        "NOOP" => no_args(c, CommandBody::Noop),
        "LOGOUT" => no_args(c, CommandBody::Logout),
        "CHECK" => no_args(c, CommandBody::Check),
        "CLOSE" => no_args(c, CommandBody::Close),
        "UNSELECT" => no_args(c, CommandBody::Unselect),
        "EXPUNGE" => no_args(c, CommandBody::Expunge),
        "LOGIN" => {
            c.sp("user name")?;
            let username = c.astring_utf8("user name")?;
            c.sp("password")?;
            let password = c.astring("password")?;
            c.eol()?;
            Ok(CommandBody::Login { username, password })
        }
        "AUTHENTICATE" => authenticate(c),
        "LIST" | "LSUB" => {
            c.sp("reference name")?;
            let reference = mailbox(c, "reference name")?;
            c.sp("mailbox pattern")?;
            let pattern = list_mailbox(c)?;
            c.eol()?;
            Ok(if name == "LIST" {
                CommandBody::List { reference, pattern }
            } else {
                CommandBody::Lsub { reference, pattern }
            })
        }
        "CREATE" | "DELETE" | "SELECT" | "EXAMINE" => {
            c.sp("mailbox name")?;
            let mailbox = mailbox(c, "mailbox name")?;
            c.eol()?;
            Ok(match name {
                "CREATE" => CommandBody::Create { mailbox },
                "DELETE" => CommandBody::Delete { mailbox },
                "SELECT" => CommandBody::Select { mailbox },
                _ => CommandBody::Examine { mailbox },
            })
        }
        "RENAME" => {
            c.sp("mailbox name")?;
            let from = mailbox(c, "mailbox name")?;
            c.sp("new mailbox name")?;
            let to = mailbox(c, "new mailbox name")?;
            c.eol()?;
            Ok(CommandBody::Rename { from, to })
        }
        "STATUS" => status(c),
        "APPEND" => {
            append_args(c)?;
            bad("Expected the message literal")
        }
        "FETCH" => fetch(c, false),
        "STORE" => store(c, false),
        "SEARCH" => super::search::search(c, false),
        "UID" => {
            c.sp("UID command")?;
            let sub = String::from_utf8_lossy(c.atom("UID command")?).to_ascii_uppercase();
            let full = format!("UID {sub}");
            let body = match sub.as_str() {
                "FETCH" => fetch(c, true),
                "STORE" => store(c, true),
                "SEARCH" => super::search::search(c, true),
                "EXPUNGE" => (|| {
                    c.sp("UID set")?;
                    let set = sequence_set(c)?;
                    c.eol()?;
                    Ok(CommandBody::UidExpunge { set })
                })(),
                _ => return bad(format!("Unknown command UID {sub}")),
            };
            body.map_err(|f| with_usage(f, &full))
        }
        _ => bad(format!("Unknown command {name}")),
    }
}

/// AUTHENTICATE mechanism [SP (base64 / "=")].
fn authenticate(c: &mut Cursor<'_>) -> PResult<CommandBody> {
    c.sp("mechanism")?;
    let mechanism = String::from_utf8_lossy(c.atom("mechanism")?).to_ascii_uppercase();
    let initial_response = if c.at_eol() {
        None
    } else {
        c.sp("initial response")?;
        let raw = c.take_while(base64::is_base64_char);
        if raw == b"=" {
            Some(Vec::new())
        } else if raw.is_empty() {
            return bad("Expected base64 initial response or '='");
        } else {
            Some(
                base64::decode(raw)
                    .ok_or_else(|| Fail::Bad("Invalid base64 in initial response".into()))?,
            )
        }
    };
    c.eol()?;
    Ok(CommandBody::Authenticate {
        mechanism,
        initial_response,
    })
}

/// STATUS mailbox SP "(" status-att *(SP status-att) ")".
fn status(c: &mut Cursor<'_>) -> PResult<CommandBody> {
    c.sp("mailbox name")?;
    let mailbox = mailbox(c, "mailbox name")?;
    c.sp("status items")?;
    c.expect(b'(', "'(' to start the status items")?;
    let mut items = Vec::new();
    loop {
        let raw = c.atom("status item")?;
        let item = match raw.to_ascii_uppercase().as_slice() {
            b"MESSAGES" => StatusItem::Messages,
            b"RECENT" => StatusItem::Recent,
            b"UIDNEXT" => StatusItem::UidNext,
            b"UIDVALIDITY" => StatusItem::UidValidity,
            b"UNSEEN" => StatusItem::Unseen,
            b"DELETED" => StatusItem::Deleted,
            b"SIZE" => StatusItem::Size,
            b"HIGHESTMODSEQ" => StatusItem::HighestModSeq,
            _ => {
                return bad(format!(
                    "Unknown status item {}",
                    String::from_utf8_lossy(raw)
                ));
            }
        };
        items.push(item);
        match c.peek() {
            Some(b')') => {
                c.eat(b')');
                break;
            }
            Some(b' ') => c.sp("status item")?,
            None => return Err(Fail::Incomplete),
            Some(_) => return bad("Expected ')' or another status item"),
        }
    }
    c.eol()?;
    Ok(CommandBody::Status { mailbox, items })
}

/// APPEND's arguments up to and including the message literal's header.
fn append_args(c: &mut Cursor<'_>) -> PResult<CommandBody> {
    c.sp("mailbox name")?;
    let mailbox = mailbox(c, "mailbox name")?;
    c.sp("message literal")?;
    let mut flags = Vec::new();
    if c.peek() == Some(b'(') {
        flags = flag_list(c)?;
        c.sp("message literal")?;
    }
    let mut date = None;
    if c.peek() == Some(b'"') {
        date = Some(date_time(c)?);
        c.sp("message literal")?;
    }
    match c.peek() {
        Some(b'{' | b'~') | None => {}
        Some(_) => return bad("Expected the message literal"),
    }
    let (size, non_sync, binary) = c.literal_header(true, "message")?;
    Ok(CommandBody::Append {
        mailbox,
        flags,
        date,
        size,
        non_sync,
        binary,
    })
}

/// Parses an APPEND command that `buf` holds up to a literal header's CRLF.
/// `Ok` when that literal is the message (it ends exactly at `buf`'s end);
/// `Err(Incomplete)` when the literal belongs to an earlier argument.
pub(crate) fn parse_append_prefix(buf: &[u8]) -> Result<Command, Fail> {
    let mut c = Cursor::new(buf);
    let tag = c.tag()?;
    c.sp("command name")?;
    c.atom("command name")?;
    let body = append_args(&mut c).map_err(|f| with_usage(f, "APPEND"))?;
    if c.pos() != buf.len() {
        return Err(with_usage(
            Fail::Bad("Unexpected data after the message literal".into()),
            "APPEND",
        ));
    }
    Ok(Command { tag, body })
}

/// FETCH sequence-set SP items [SP "(" CHANGEDSINCE n ")"].
fn fetch(c: &mut Cursor<'_>, uid: bool) -> PResult<CommandBody> {
    c.sp("sequence set")?;
    let set = sequence_set(c)?;
    c.sp("fetch items")?;
    let items = fetch_items(c)?;
    let mut changed_since = None;
    if !c.at_eol() {
        c.sp("fetch modifiers")?;
        c.expect(b'(', "'(' to start the fetch modifiers")?;
        let raw = c.atom("fetch modifier")?;
        if !raw.eq_ignore_ascii_case(b"CHANGEDSINCE") {
            return bad(format!(
                "Unknown fetch modifier {}",
                String::from_utf8_lossy(raw)
            ));
        }
        c.sp("mod-sequence value")?;
        let n = c.number("mod-sequence value")?;
        if n == 0 || n > i64::MAX as u64 {
            return bad("Invalid CHANGEDSINCE value");
        }
        changed_since = Some(n);
        c.expect(b')', "')' to end the fetch modifiers")?;
    }
    c.eol()?;
    Ok(CommandBody::Fetch {
        set,
        items,
        uid,
        changed_since,
    })
}

/// STORE sequence-set [SP "(" UNCHANGEDSINCE n ")"] SP store-att-flags.
fn store(c: &mut Cursor<'_>, uid: bool) -> PResult<CommandBody> {
    c.sp("sequence set")?;
    let set = sequence_set(c)?;
    c.sp("store item")?;
    let mut unchanged_since = None;
    if c.eat(b'(') {
        let raw = c.atom("store modifier")?;
        if !raw.eq_ignore_ascii_case(b"UNCHANGEDSINCE") {
            return bad(format!(
                "Unknown store modifier {}",
                String::from_utf8_lossy(raw)
            ));
        }
        c.sp("mod-sequence value")?;
        let n = c.number("mod-sequence value")?;
        if n > i64::MAX as u64 {
            return bad("Invalid UNCHANGEDSINCE value");
        }
        unchanged_since = Some(n);
        c.expect(b')', "')' to end the store modifiers")?;
        c.sp("store item")?;
    }
    let raw = c.atom("store item (FLAGS, +FLAGS or -FLAGS)")?;
    let (mode, silent) = match raw.to_ascii_uppercase().as_slice() {
        b"FLAGS" => (StoreMode::Replace, false),
        b"FLAGS.SILENT" => (StoreMode::Replace, true),
        b"+FLAGS" => (StoreMode::Add, false),
        b"+FLAGS.SILENT" => (StoreMode::Add, true),
        b"-FLAGS" => (StoreMode::Remove, false),
        b"-FLAGS.SILENT" => (StoreMode::Remove, true),
        _ => {
            return bad(format!(
                "Unknown store item {}",
                String::from_utf8_lossy(raw)
            ));
        }
    };
    c.sp("flags")?;
    let flags = if c.peek() == Some(b'(') {
        flag_list(c)?
    } else {
        let mut flags = vec![flag(c)?];
        while c.peek() == Some(b' ') && c.peek2().is_some_and(starts_flag) {
            c.sp("flag")?;
            flags.push(flag(c)?);
        }
        flags
    };
    c.eol()?;
    Ok(CommandBody::Store {
        set,
        mode,
        silent,
        flags,
        uid,
        unchanged_since,
    })
}
