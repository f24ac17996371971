//! The commands: one module per command (or family), each defining the
//! command's typed value next to its grammar, and the one dispatch table
//! that maps command names, and UID sub-command names, to them.
//!
//! APPEND and REPLACE are in the table but have no line grammar: their
//! message literals are streamed (see [`crate::Outcome`] and
//! `append.rs`), so the parser hands them out piece by piece.

pub(crate) mod acl;
pub(crate) mod append;
pub(crate) mod authenticate;
pub(crate) mod cancel_update;
pub(crate) mod compress;
pub(crate) mod copy_move;
pub(crate) mod create;
pub(crate) mod enable;
pub(crate) mod expunge;
pub(crate) mod extension;
pub(crate) mod fetch;
pub(crate) mod id;
pub(crate) mod idle;
pub(crate) mod list;
pub(crate) mod login;
pub(crate) mod lsub;
pub(crate) mod metadata;
pub(crate) mod no_args;
pub(crate) mod notify;
pub(crate) mod rename;
pub(crate) mod search;
pub(crate) mod select;
pub(crate) mod sort;
pub(crate) mod status;
pub(crate) mod store;
pub(crate) mod subscribe;
pub(crate) mod thread;

use crate::grammar::{Cursor, Fail, PResult, bad};

pub use acl::{AclModification, DeleteAcl, GetAcl, ListRights, MyRights, SetAcl};
pub use append::{Append, AppendMessage, Literal, Replace};
pub use authenticate::Authenticate;
pub use cancel_update::CancelUpdate;
pub use compress::Compress;
pub use copy_move::CopyMove;
pub use create::Create;
pub use enable::Enable;
pub use expunge::Expunge;
pub use extension::{Extension, ExtensionArg};
pub use fetch::Fetch;
pub use id::Id;
pub use idle::{Idle, IdleEnd};
pub use list::{List, ListReturn, ListSelect};
pub use login::Login;
pub use lsub::Lsub;
pub use metadata::{GetMetadata, MetadataDepth, SetMetadata};
pub use no_args::{
    Capability, Check, Close, Logout, Namespace, Noop, StartTls, Unauthenticate, Unselect,
};
pub use notify::{Notify, NotifyEvent, NotifyGroup, NotifyMailboxes, NotifySet};
pub use rename::Rename;
pub use search::{PartialRange, Search, SearchReturn};
pub use select::{QResync, Select};
pub use sort::{Sort, SortCriterion, SortKey};
pub use status::{Status, StatusItem};
pub use store::{Store, StoreMode};
pub use subscribe::{Subscribe, Unsubscribe};
pub use thread::{Thread, ThreadAlgorithm};

/// One parsed command: its tag and what it asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The client's tag, echoed in the tagged reply.
    pub tag: String,
    /// The command itself.
    pub body: CommandBody,
}

/// What a command asks for: one variant per command, each wrapping the
/// command's own struct (a family such as SELECT/EXAMINE or COPY/MOVE
/// shares one). UID forms are the same variant with `uid: true`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandBody {
    /// CAPABILITY
    Capability(Capability),
    /// NOOP
    Noop(Noop),
    /// LOGOUT
    Logout(Logout),
    /// STARTTLS
    StartTls(StartTls),
    /// AUTHENTICATE mechanism [initial-response] (SASL-IR)
    Authenticate(Authenticate),
    /// LOGIN user password
    Login(Login),
    /// UNAUTHENTICATE (RFC 8437)
    Unauthenticate(Unauthenticate),
    /// ID (RFC 2971)
    Id(Id),
    /// ENABLE (RFC 5161)
    Enable(Enable),
    /// COMPRESS (RFC 4978)
    Compress(Compress),
    /// SELECT mailbox [(CONDSTORE) / (QRESYNC ...)]
    Select(Select),
    /// EXAMINE: SELECT read-only, same arguments.
    Examine(Select),
    /// CREATE mailbox [(USE (...))]
    Create(Create),
    /// DELETE mailbox
    Delete(Delete),
    /// RENAME from to
    Rename(Rename),
    /// SUBSCRIBE mailbox
    Subscribe(Subscribe),
    /// UNSUBSCRIBE mailbox
    Unsubscribe(Unsubscribe),
    /// LIST, with LIST-EXTENDED options (RFC 5258)
    List(List),
    /// LSUB (IMAP4rev1)
    Lsub(Lsub),
    /// NAMESPACE (RFC 2342)
    Namespace(Namespace),
    /// STATUS mailbox (items)
    Status(Status),
    /// APPEND: only ever the head of a streamed APPEND
    /// ([`crate::Outcome::AppendBegin`]), never a whole command.
    Append(Append),
    /// IDLE (RFC 2177); see [`IdleEnd`] for its DONE line.
    Idle(Idle),
    /// NOTIFY SET / NOTIFY NONE (RFC 5465)
    Notify(Notify),
    /// GETMETADATA (RFC 5464)
    GetMetadata(GetMetadata),
    /// SETMETADATA (RFC 5464)
    SetMetadata(SetMetadata),
    /// CHECK (IMAP4rev1)
    Check(Check),
    /// CLOSE
    Close(Close),
    /// UNSELECT (RFC 3691)
    Unselect(Unselect),
    /// EXPUNGE / UID EXPUNGE set
    Expunge(Expunge),
    /// SEARCH / UID SEARCH
    Search(Search),
    /// SORT / UID SORT (RFC 5256, RFC 5267)
    Sort(Sort),
    /// THREAD / UID THREAD (RFC 5256)
    Thread(Thread),
    /// FETCH / UID FETCH
    Fetch(Fetch),
    /// STORE / UID STORE
    Store(Store),
    /// COPY / UID COPY
    Copy(CopyMove),
    /// MOVE / UID MOVE (RFC 6851)
    Move(CopyMove),
    /// REPLACE / UID REPLACE (RFC 8508): only ever the head of a streamed
    /// command ([`crate::Outcome::AppendBegin`]).
    Replace(Replace),
    /// CANCELUPDATE (RFC 5267)
    CancelUpdate(CancelUpdate),
    /// SETACL mailbox identifier [+|-]rights (RFC 4314)
    SetAcl(SetAcl),
    /// DELETEACL mailbox identifier (RFC 4314)
    DeleteAcl(DeleteAcl),
    /// GETACL mailbox (RFC 4314)
    GetAcl(GetAcl),
    /// LISTRIGHTS mailbox identifier (RFC 4314)
    ListRights(ListRights),
    /// MYRIGHTS mailbox (RFC 4314)
    MyRights(MyRights),
    /// A command a plugin adds (GETQUOTA, ...), named to the parser with
    /// [`crate::Parser::set_extensions`]; its arguments in generic form.
    Extension(Extension),
}

/// DELETE mailbox
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delete {
    /// The mailbox to delete.
    pub mailbox: String,
}

impl CommandBody {
    /// The command's name as the dispatch table spells it, with `UID ` for
    /// the UID forms: `"FETCH"`, `"UID FETCH"`, `"EXAMINE"`.
    pub fn name(&self) -> &'static str {
        let (plain, uid) = match self {
            CommandBody::Capability(_) => ("CAPABILITY", None),
            CommandBody::Noop(_) => ("NOOP", None),
            CommandBody::Logout(_) => ("LOGOUT", None),
            CommandBody::StartTls(_) => ("STARTTLS", None),
            CommandBody::Authenticate(_) => ("AUTHENTICATE", None),
            CommandBody::Login(_) => ("LOGIN", None),
            CommandBody::Unauthenticate(_) => ("UNAUTHENTICATE", None),
            CommandBody::Id(_) => ("ID", None),
            CommandBody::Enable(_) => ("ENABLE", None),
            CommandBody::Compress(_) => ("COMPRESS", None),
            CommandBody::Select(_) => ("SELECT", None),
            CommandBody::Examine(_) => ("EXAMINE", None),
            CommandBody::Create(_) => ("CREATE", None),
            CommandBody::Delete(_) => ("DELETE", None),
            CommandBody::Rename(_) => ("RENAME", None),
            CommandBody::Subscribe(_) => ("SUBSCRIBE", None),
            CommandBody::Unsubscribe(_) => ("UNSUBSCRIBE", None),
            CommandBody::List(_) => ("LIST", None),
            CommandBody::Lsub(_) => ("LSUB", None),
            CommandBody::Namespace(_) => ("NAMESPACE", None),
            CommandBody::Status(_) => ("STATUS", None),
            CommandBody::Append(_) => ("APPEND", None),
            CommandBody::Idle(_) => ("IDLE", None),
            CommandBody::Notify(_) => ("NOTIFY", None),
            CommandBody::GetMetadata(_) => ("GETMETADATA", None),
            CommandBody::SetMetadata(_) => ("SETMETADATA", None),
            CommandBody::Check(_) => ("CHECK", None),
            CommandBody::Close(_) => ("CLOSE", None),
            CommandBody::Unselect(_) => ("UNSELECT", None),
            CommandBody::CancelUpdate(_) => ("CANCELUPDATE", None),
            CommandBody::SetAcl(_) => ("SETACL", None),
            CommandBody::DeleteAcl(_) => ("DELETEACL", None),
            CommandBody::GetAcl(_) => ("GETACL", None),
            CommandBody::ListRights(_) => ("LISTRIGHTS", None),
            CommandBody::MyRights(_) => ("MYRIGHTS", None),
            CommandBody::Extension(_) => ("EXTENSION", None),
            CommandBody::Expunge(e) => ("EXPUNGE", Some(e.uid_set.is_some())),
            CommandBody::Search(s) => ("SEARCH", Some(s.uid)),
            CommandBody::Sort(s) => ("SORT", Some(s.uid)),
            CommandBody::Thread(t) => ("THREAD", Some(t.uid)),
            CommandBody::Fetch(f) => ("FETCH", Some(f.uid)),
            CommandBody::Store(s) => ("STORE", Some(s.uid)),
            CommandBody::Copy(c) => ("COPY", Some(c.uid)),
            CommandBody::Move(m) => ("MOVE", Some(m.uid)),
            CommandBody::Replace(r) => ("REPLACE", Some(r.uid)),
        };
        match uid {
            Some(true) => lookup(plain.as_bytes())
                .and_then(|spec| spec.uid_name)
                .unwrap_or(plain),
            _ => plain,
        }
    }
}

/// How a command's arguments are read.
#[derive(Clone, Copy)]
pub(crate) enum Grammar {
    /// A whole framed command, from just after the command name through
    /// the final CRLF; the flag says whether it came after `UID`.
    Line(fn(&mut Cursor<'_>, bool) -> PResult<CommandBody>),
    /// APPEND and REPLACE: streamed by [`append`].
    Streamed,
}

/// One row of the dispatch table.
pub(crate) struct Spec {
    /// The command name, upper case.
    pub(crate) name: &'static str,
    /// The name of its UID form, when `UID <name>` exists.
    pub(crate) uid_name: Option<&'static str>,
    /// The syntax, appended to error messages.
    pub(crate) usage: &'static str,
    /// How to read the arguments.
    pub(crate) grammar: Grammar,
}

/// A row with no UID form.
const fn plain(name: &'static str, usage: &'static str, grammar: Grammar) -> Spec {
    Spec {
        name,
        uid_name: None,
        usage,
        grammar,
    }
}

/// A row whose command also exists as `UID <name>`.
const fn with_uid(
    name: &'static str,
    uid_name: &'static str,
    usage: &'static str,
    grammar: Grammar,
) -> Spec {
    Spec {
        name,
        uid_name: Some(uid_name),
        usage,
        grammar,
    }
}

use Grammar::{Line, Streamed};

/// Every command the parser knows. `known_command`, the framing's early
/// check of a command still arriving, and `parse_command` all read this.
static COMMANDS: &[Spec] = &[
    plain("CAPABILITY", "", Line(no_args::capability)),
    plain("NOOP", "", Line(no_args::noop)),
    plain("LOGOUT", "", Line(no_args::logout)),
    plain("STARTTLS", "", Line(no_args::starttls)),
    plain(
        "AUTHENTICATE",
        "AUTHENTICATE <mechanism> [<initial-response>]",
        Line(authenticate::parse),
    ),
    plain("LOGIN", "LOGIN <user> <password>", Line(login::parse)),
    plain("UNAUTHENTICATE", "", Line(no_args::unauthenticate)),
    plain("ID", "ID (<field> <value> ...) | ID NIL", Line(id::parse)),
    plain("ENABLE", "ENABLE <capability> ...", Line(enable::parse)),
    plain("COMPRESS", "COMPRESS <algorithm>", Line(compress::parse)),
    plain(
        "SELECT",
        "SELECT <mailbox> [(CONDSTORE | QRESYNC (<uidvalidity> <modseq> [<uids>] [(<seqs> <uids>)]))]",
        Line(select::select),
    ),
    plain(
        "EXAMINE",
        "EXAMINE <mailbox> [(CONDSTORE | QRESYNC (...))]",
        Line(select::examine),
    ),
    plain(
        "CREATE",
        "CREATE <mailbox> [(USE (<special-use> ...))]",
        Line(create::parse),
    ),
    plain("DELETE", "DELETE <mailbox>", Line(delete)),
    plain("RENAME", "RENAME <mailbox> <new-name>", Line(rename::parse)),
    plain(
        "SUBSCRIBE",
        "SUBSCRIBE <mailbox>",
        Line(subscribe::subscribe),
    ),
    plain(
        "UNSUBSCRIBE",
        "UNSUBSCRIBE <mailbox>",
        Line(subscribe::unsubscribe),
    ),
    plain(
        "LIST",
        "LIST [(<selection>)] <reference> <pattern> | (<pattern> ...) [RETURN (<options>)]",
        Line(list::parse),
    ),
    plain("LSUB", "LSUB <reference> <pattern>", Line(lsub::parse)),
    plain("NAMESPACE", "", Line(no_args::namespace)),
    plain("STATUS", "STATUS <mailbox> (<items>)", Line(status::parse)),
    plain(
        "APPEND",
        "APPEND <mailbox> [(<flags>)] [\"<date-time>\"] <literal> | CATENATE (...) | UTF8 (<literal8>) ...",
        Streamed,
    ),
    plain("IDLE", "", Line(idle::parse)),
    plain(
        "NOTIFY",
        "NOTIFY NONE | NOTIFY SET [STATUS] (<mailboxes> <events>) ...",
        Line(notify::parse),
    ),
    plain(
        "GETMETADATA",
        "GETMETADATA [(MAXSIZE <n> DEPTH 0|1|infinity)] <mailbox> <entry> | (<entry> ...)",
        Line(metadata::get),
    ),
    plain(
        "SETMETADATA",
        "SETMETADATA <mailbox> (<entry> <value> ...)",
        Line(metadata::set),
    ),
    plain(
        "SETACL",
        "SETACL <mailbox> <identifier> [+|-]<rights>",
        Line(acl::set),
    ),
    plain(
        "DELETEACL",
        "DELETEACL <mailbox> <identifier>",
        Line(acl::delete),
    ),
    plain("GETACL", "GETACL <mailbox>", Line(acl::get)),
    plain(
        "LISTRIGHTS",
        "LISTRIGHTS <mailbox> <identifier>",
        Line(acl::list_rights),
    ),
    plain("MYRIGHTS", "MYRIGHTS <mailbox>", Line(acl::my_rights)),
    plain("CHECK", "", Line(no_args::check)),
    plain("CLOSE", "", Line(no_args::close)),
    plain("UNSELECT", "", Line(no_args::unselect)),
    plain(
        "CANCELUPDATE",
        "CANCELUPDATE \"<tag>\" ...",
        Line(cancel_update::parse),
    ),
    with_uid(
        "EXPUNGE",
        "UID EXPUNGE",
        "EXPUNGE | UID EXPUNGE <uid-set>",
        Line(expunge::parse),
    ),
    with_uid(
        "SEARCH",
        "UID SEARCH",
        "SEARCH [RETURN (<options>)] [CHARSET <charset>] <search-key> ...",
        Line(search::parse),
    ),
    with_uid(
        "SORT",
        "UID SORT",
        "SORT [RETURN (<options>)] (<sort-criteria>) <charset> <search-key> ...",
        Line(sort::parse),
    ),
    with_uid(
        "THREAD",
        "UID THREAD",
        "THREAD <algorithm> <charset> <search-key> ...",
        Line(thread::parse),
    ),
    with_uid(
        "FETCH",
        "UID FETCH",
        "FETCH <sequence-set> <items> [(CHANGEDSINCE <modseq> [VANISHED])]",
        Line(fetch::parse),
    ),
    with_uid(
        "STORE",
        "UID STORE",
        "STORE <sequence-set> [(UNCHANGEDSINCE <modseq>)] [+|-]FLAGS[.SILENT] <flags>",
        Line(store::parse),
    ),
    with_uid(
        "COPY",
        "UID COPY",
        "COPY <sequence-set> <mailbox>",
        Line(copy_move::copy),
    ),
    with_uid(
        "MOVE",
        "UID MOVE",
        "MOVE <sequence-set> <mailbox>",
        Line(copy_move::move_),
    ),
    with_uid(
        "REPLACE",
        "UID REPLACE",
        "REPLACE <number> <mailbox> [(<flags>)] [\"<date-time>\"] <literal>",
        Streamed,
    ),
];

/// DELETE mailbox.
fn delete(c: &mut Cursor<'_>, _uid: bool) -> PResult<CommandBody> {
    c.sp("mailbox name")?;
    let mailbox = crate::grammar::mailbox::mailbox(c, "mailbox name")?;
    c.eol()?;
    Ok(CommandBody::Delete(Delete { mailbox }))
}

/// The row that stands for every plugin command (see
/// [`CommandBody::Extension`]).
static EXTENSION: Spec = plain("", "<command> <arguments>", Streamed);

/// The row of command `name` (any case).
pub(crate) fn lookup(name: &[u8]) -> Option<&'static Spec> {
    COMMANDS
        .iter()
        .find(|spec| spec.name.as_bytes().eq_ignore_ascii_case(name))
}

/// The row of `UID <name>` (any case), when that UID form exists.
pub(crate) fn lookup_uid(name: &[u8]) -> Option<&'static Spec> {
    lookup(name).filter(|spec| spec.uid_name.is_some())
}

/// Whether `name` (any case) is a command this parser knows: a name of
/// the dispatch table, `UID`, or `UID <name>` for the commands with a UID
/// form.
pub fn known_command(name: &str) -> bool {
    let name = name.as_bytes();
    if name.eq_ignore_ascii_case(b"UID") {
        return true;
    }
    match name.get(..4) {
        Some(prefix) if prefix.eq_ignore_ascii_case(b"UID ") => lookup_uid(&name[4..]).is_some(),
        _ => lookup(name).is_some(),
    }
}

/// Every command name the parser knows, UID forms included (`"FETCH"`,
/// `"UID FETCH"`, ...): what a server's command table must cover.
pub fn command_names() -> impl Iterator<Item = &'static str> {
    COMMANDS
        .iter()
        .flat_map(|spec| std::iter::once(spec.name).chain(spec.uid_name))
}

/// Adds the command's syntax to a failure's message.
fn with_usage(fail: Fail, spec: &Spec, uid: bool) -> Fail {
    match fail {
        Fail::Bad(msg) => {
            let name = if uid {
                spec.uid_name.unwrap_or(spec.name)
            } else {
                spec.name
            };
            if spec.usage.is_empty() {
                Fail::Bad(format!("{msg} (expected: {name} with no arguments)"))
            } else if uid && spec.name != "EXPUNGE" {
                Fail::Bad(format!("{msg} (expected: UID {})", spec.usage))
            } else {
                Fail::Bad(format!("{msg} (expected: {})", spec.usage))
            }
        }
        other => other,
    }
}

/// Reads the tag and the command name (and `UID`'s sub-command) at the
/// start of a command: the row, whether it is a UID form.
pub(crate) fn head(
    c: &mut Cursor<'_>,
    extensions: &[String],
) -> PResult<(String, &'static Spec, bool)> {
    let tag = c.tag()?;
    c.sp("command name")?;
    let name = c.atom("command name")?;
    if name.eq_ignore_ascii_case(b"UID") {
        c.sp("UID command")?;
        let sub = c.atom("UID command")?;
        return match lookup_uid(sub) {
            Some(spec) => Ok((tag, spec, true)),
            None => bad(format!(
                "Unknown command UID {}",
                String::from_utf8_lossy(sub).to_ascii_uppercase()
            )),
        };
    }
    match lookup(name) {
        Some(spec) => Ok((tag, spec, false)),
        None if extensions
            .iter()
            .any(|e| e.as_bytes().eq_ignore_ascii_case(name)) =>
        {
            Ok((tag, &EXTENSION, false))
        }
        None => bad(format!(
            "Unknown command {}",
            String::from_utf8_lossy(name).to_ascii_uppercase()
        )),
    }
}

/// Parses a complete command (ending in CRLF, literals in place) that is
/// not streamed; `utf8` is the connection's UTF8=ACCEPT switch.
pub(crate) fn parse_command(
    buf: &[u8],
    utf8: bool,
    extensions: &[String],
) -> Result<Command, Fail> {
    let mut c = Cursor::with_utf8(buf, utf8);
    let result = (|| {
        let (tag, spec, uid) = head(&mut c, extensions)?;
        if std::ptr::eq(spec, &EXTENSION) {
            let name = extension::name_of(buf)?;
            let body = extension::parse(name, &mut c)?;
            return Ok(Command { tag, body });
        }
        let body = match spec.grammar {
            Line(parse) => parse(&mut c, uid).map_err(|f| with_usage(f, spec, uid))?,
            Streamed => return bad(format!("{} is streamed", spec.name)),
        };
        Ok(Command { tag, body })
    })();
    match result {
        Err(Fail::Incomplete) => Err(Fail::Bad("Unexpected end of command".to_string())),
        other => other,
    }
}

/// Adds the usage of a streamed command to a failure.
pub(crate) fn streamed_usage(fail: Fail, name: &str, uid: bool) -> Fail {
    match lookup(name.as_bytes()) {
        Some(spec) => with_usage(fail, spec, uid),
        None => fail,
    }
}
