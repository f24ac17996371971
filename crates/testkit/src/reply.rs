//! The answer to one command: every response before its tagged status
//! response, and that status response, with the questions tests ask of
//! them.

use std::fmt;

use crate::response::{Code, Data, Response, Status, StatusResponse};
use crate::value::Value;
use crate::views::{Esearch, Fetch, sequence_set};

/// The responses up to and including a command's tagged response.
#[derive(Clone)]
pub struct Reply {
    /// Every response before the tagged one, in order: untagged data and
    /// status responses, continuation requests, and tagged responses of
    /// other (pipelined) commands.
    pub responses: Vec<Response>,
    /// The tagged response.
    pub tagged: Response,
}

impl Reply {
    /// Builds a reply from the responses read and the tagged one, which
    /// must be a tagged status response.
    pub fn new(responses: Vec<Response>, tagged: Response) -> Option<Reply> {
        tagged.tag()?;
        Some(Reply { responses, tagged })
    }

    /// The tagged status response.
    pub fn done(&self) -> &StatusResponse {
        // `new` admits only a tagged status response.
        self.tagged
            .status()
            .unwrap_or_else(|| unreachable!("a Reply's tagged response is a status response"))
    }

    /// OK, NO or BAD.
    pub fn status(&self) -> Status {
        self.done().status
    }

    /// Whether the command succeeded.
    pub fn is_ok(&self) -> bool {
        self.status() == Status::Ok
    }

    /// The tagged response's code.
    pub fn code(&self) -> Option<&Code> {
        self.done().code.as_ref()
    }

    /// Whether the tagged response carries code `name`.
    pub fn has_code(&self, name: &str) -> bool {
        self.code().is_some_and(|c| c.is(name))
    }

    /// The tagged response's text after its code.
    pub fn text(&self) -> &str {
        &self.done().text
    }

    /// Code `name` from the tagged response or any untagged status
    /// response (`* OK [UIDVALIDITY 7]` in a SELECT reply).
    pub fn code_named(&self, name: &str) -> Option<&Code> {
        std::iter::once(&self.tagged)
            .chain(&self.responses)
            .filter_map(|r| r.status()?.code.as_ref())
            .find(|c| c.is(name))
    }

    /// The first argument of code `name` as a number (`UIDVALIDITY`,
    /// `UIDNEXT`, `HIGHESTMODSEQ`).
    pub fn code_number(&self, name: &str) -> Option<u64> {
        self.code_named(name)?.number(0)
    }

    /// `(uidvalidity, uid)` from `[APPENDUID v uid]` (one message).
    pub fn appenduid(&self) -> Option<(u32, u32)> {
        let c = self.code_named("APPENDUID")?;
        let v = u32::try_from(c.number(0)?).ok()?;
        let uid = c.args.get(1)?.text()?;
        let uids = sequence_set(&uid)?;
        match uids.as_slice() {
            [one] => Some((v, *one)),
            _ => None,
        }
    }

    /// `(uidvalidity, source UIDs, destination UIDs)` from `[COPYUID ...]`.
    pub fn copyuid(&self) -> Option<(u32, Vec<u32>, Vec<u32>)> {
        let c = self.code_named("COPYUID")?;
        let v = u32::try_from(c.number(0)?).ok()?;
        let from = sequence_set(&c.args.get(1)?.text()?)?;
        let to = sequence_set(&c.args.get(2)?.text()?)?;
        Some((v, from, to))
    }

    /// The untagged data responses named `name` (`FETCH`, `LIST`, ...).
    pub fn untagged<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Data> + 'a {
        self.responses
            .iter()
            .filter_map(Response::data)
            .filter(move |d| d.is(name))
    }

    /// The text of the untagged data responses named `name`, as received
    /// (without the final CRLF): for a test that compares whole lines.
    pub fn lines_of(&self, name: &str) -> Vec<String> {
        self.responses
            .iter()
            .filter(|r| r.data().is_some_and(|d| d.is(name)))
            .map(Response::text)
            .collect()
    }

    /// The untagged status responses (`* OK [...]`, `* NO`, `* BYE`).
    pub fn untagged_status(&self) -> impl Iterator<Item = &StatusResponse> {
        self.responses
            .iter()
            .filter_map(Response::status)
            .filter(|s| s.tag.is_none())
    }

    /// Whether a `* BYE` came.
    pub fn has_bye(&self) -> bool {
        self.responses.iter().any(Response::is_bye)
    }

    /// The FETCH responses.
    pub fn fetches(&self) -> Vec<Fetch<'_>> {
        self.untagged("FETCH").filter_map(Data::fetch).collect()
    }

    /// The FETCH response for message `seq`.
    pub fn fetch(&self, seq: u32) -> Option<Fetch<'_>> {
        self.fetches().into_iter().find(|f| f.seq == seq)
    }

    /// The last `* n EXISTS`.
    pub fn exists(&self) -> Option<u32> {
        self.untagged("EXISTS").filter_map(|d| d.number).last()
    }

    /// The numbers of the `* n EXPUNGE` responses, in order.
    pub fn expunged(&self) -> Vec<u32> {
        self.untagged("EXPUNGE").filter_map(|d| d.number).collect()
    }

    /// The UIDs of the `* VANISHED` responses (RFC 7162), EARLIER or not.
    pub fn vanished(&self) -> Vec<u32> {
        let mut out = Vec::new();
        for d in self.untagged("VANISHED") {
            if let Some(set) = d.values.last().and_then(Value::text) {
                out.extend(sequence_set(&set).unwrap_or_default());
            }
        }
        out
    }

    /// The numbers of the `* SEARCH` responses (a trailing `(MODSEQ n)`
    /// is left out).
    pub fn search(&self) -> Vec<u32> {
        self.untagged("SEARCH").flat_map(Data::numbers).collect()
    }

    /// The ESEARCH response.
    pub fn esearch(&self) -> Option<Esearch> {
        self.untagged("ESEARCH").find_map(Data::esearch)
    }

    /// Item `name` of the first `* STATUS mailbox (...)` response
    /// (`MESSAGES`, `UIDNEXT`, `SIZE`).
    pub fn status_item(&self, name: &str) -> Option<u64> {
        let items = self.untagged("STATUS").next()?.values.get(1)?.as_list()?;
        items.chunks(2).find_map(|pair| match pair {
            [key, Value::Number(n)] if key.is_atom(name) => Some(*n),
            _ => None,
        })
    }

    /// The capabilities from `* CAPABILITY` or a `[CAPABILITY ...]` code.
    pub fn capabilities(&self) -> Vec<String> {
        if let Some(d) = self.untagged("CAPABILITY").next() {
            return d.words();
        }
        self.code_named("CAPABILITY")
            .map(Code::words)
            .unwrap_or_default()
    }

    /// The mailboxes of LIST (or LSUB) responses: `(attributes, delimiter,
    /// name)`, the name as sent (modified UTF-7 unless UTF8=ACCEPT).
    pub fn list(&self, name: &str) -> Vec<Listed> {
        self.untagged(name)
            .filter_map(|d| match d.values.as_slice() {
                [Value::List(attrs), delimiter, mailbox, ..] => Some(Listed {
                    attributes: attrs.iter().filter_map(Value::text).collect(),
                    delimiter: delimiter.text(),
                    name: mailbox.text()?,
                }),
                _ => None,
            })
            .collect()
    }

    /// The bytes of every literal in every response, in total.
    pub fn literal_bytes(&self) -> u64 {
        self.responses
            .iter()
            .filter_map(Response::data)
            .flat_map(|d| d.values.iter())
            .map(Value::literal_bytes)
            .sum()
    }
}

/// One mailbox of a LIST or LSUB reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// Its attributes (`\HasNoChildren`, `\Sent`).
    pub attributes: Vec<String>,
    /// The hierarchy delimiter; `None` for NIL.
    pub delimiter: Option<String>,
    /// Its name as sent.
    pub name: String,
}

/// Every response, one a line, literals abbreviated.
impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for r in &self.responses {
            writeln!(f, "{r:?}")?;
        }
        write!(f, "{:?}", self.tagged)
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}
