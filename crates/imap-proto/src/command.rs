//! The commands the parser produces: IMAP's grammar (RFC 9051, RFC 3501 and
//! extensions) turned into typed values.

/// One parsed command: its tag and what it asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The client's tag, echoed in the tagged reply.
    pub tag: String,
    /// The command itself.
    pub body: CommandBody,
}

/// What a command asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandBody {
    /// CAPABILITY
    Capability,
    /// NOOP
    Noop,
    /// LOGOUT
    Logout,
    /// LOGIN user password
    Login {
        /// The user name as sent.
        username: String,
        /// The password bytes as sent.
        password: Vec<u8>,
    },
    /// AUTHENTICATE mechanism [initial-response]
    Authenticate {
        /// The mechanism name, upper-cased.
        mechanism: String,
        /// The SASL-IR initial response, base64-decoded; `Some(vec![])` for "=".
        initial_response: Option<Vec<u8>>,
    },
    /// LIST reference pattern
    List {
        /// The reference name.
        reference: String,
        /// The mailbox pattern with `*` and `%` wildcards.
        pattern: String,
    },
    /// LSUB reference pattern
    Lsub {
        /// The reference name.
        reference: String,
        /// The mailbox pattern.
        pattern: String,
    },
    /// CREATE mailbox
    Create {
        /// The new mailbox's name.
        mailbox: String,
    },
    /// DELETE mailbox
    Delete {
        /// The mailbox to delete.
        mailbox: String,
    },
    /// RENAME from to
    Rename {
        /// The existing name.
        from: String,
        /// The new name.
        to: String,
    },
    /// SELECT mailbox
    Select {
        /// The mailbox to select.
        mailbox: String,
    },
    /// EXAMINE mailbox
    Examine {
        /// The mailbox to select read-only.
        mailbox: String,
    },
    /// STATUS mailbox (items)
    Status {
        /// The mailbox asked about.
        mailbox: String,
        /// The items asked for.
        items: Vec<StatusItem>,
    },
    /// APPEND mailbox [flags] [date-time] literal — the parser stops at the
    /// literal; its bytes follow in the stream (see the parser's outcome).
    Append {
        /// The target mailbox.
        mailbox: String,
        /// Flags to set on the new message.
        flags: Vec<String>,
        /// The internal date to give it.
        date: Option<DateTime>,
        /// The size of the message literal that follows.
        size: u64,
        /// Whether the literal is non-synchronizing (`{N+}`).
        non_sync: bool,
        /// Whether the literal was given as `~{N}` (binary literal).
        binary: bool,
    },
    /// CHECK
    Check,
    /// CLOSE
    Close,
    /// UNSELECT
    Unselect,
    /// EXPUNGE
    Expunge,
    /// UID EXPUNGE set
    UidExpunge {
        /// The UIDs to expunge (only those flagged \Deleted).
        set: SequenceSet,
    },
    /// FETCH / UID FETCH
    Fetch {
        /// Messages by sequence number, or by UID when `uid`.
        set: SequenceSet,
        /// Items asked for, with macros (ALL, FAST, FULL) expanded.
        items: Vec<FetchAttribute>,
        /// UID FETCH.
        uid: bool,
        /// CHANGEDSINCE modifier (RFC 7162).
        changed_since: Option<u64>,
    },
    /// SEARCH / UID SEARCH
    Search {
        /// UID SEARCH: answer with UIDs.
        uid: bool,
        /// The CHARSET argument, upper-cased, when given.
        charset: Option<String>,
        /// The criteria (several top-level keys are an [`SearchKey::And`]).
        key: SearchKey,
    },
    /// STORE / UID STORE
    Store {
        /// Messages by sequence number, or by UID when `uid`.
        set: SequenceSet,
        /// How to apply the flags.
        mode: StoreMode,
        /// `.SILENT`: no untagged FETCH for the change.
        silent: bool,
        /// The flags.
        flags: Vec<String>,
        /// UID STORE.
        uid: bool,
        /// UNCHANGEDSINCE modifier (RFC 7162).
        unchanged_since: Option<u64>,
    },
}

/// A calendar date in SEARCH (`1-Feb-2024`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchDate {
    /// The year.
    pub year: i32,
    /// The month, 1–12.
    pub month: u32,
    /// The day of the month, 1–31.
    pub day: u32,
}

/// A SEARCH key (RFC 9051 §6.4.4, RFC 7162 MODSEQ, RFC 5032 OLDER/YOUNGER,
/// RFC 8514 SAVED*).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchKey {
    /// ALL
    All,
    /// ANSWERED
    Answered,
    /// DELETED
    Deleted,
    /// DRAFT
    Draft,
    /// FLAGGED
    Flagged,
    /// SEEN
    Seen,
    /// UNANSWERED
    Unanswered,
    /// UNDELETED
    Undeleted,
    /// UNDRAFT
    Undraft,
    /// UNFLAGGED
    Unflagged,
    /// UNSEEN
    Unseen,
    /// NEW, RECENT (IMAP4rev1; this server never sets \Recent: match nothing)
    Recent,
    /// OLD (IMAP4rev1: not \Recent, which is every message here)
    Old,
    /// KEYWORD flag
    Keyword(String),
    /// UNKEYWORD flag
    Unkeyword(String),
    /// BCC string
    Bcc(String),
    /// CC string
    Cc(String),
    /// FROM string
    From(String),
    /// TO string
    To(String),
    /// SUBJECT string
    Subject(String),
    /// BODY string
    Body(String),
    /// TEXT string
    Text(String),
    /// HEADER field string
    Header(String, String),
    /// BEFORE date
    Before(SearchDate),
    /// ON date
    On(SearchDate),
    /// SINCE date
    Since(SearchDate),
    /// SENTBEFORE date
    SentBefore(SearchDate),
    /// SENTON date
    SentOn(SearchDate),
    /// SENTSINCE date
    SentSince(SearchDate),
    /// SAVEDBEFORE date
    SavedBefore(SearchDate),
    /// SAVEDON date
    SavedOn(SearchDate),
    /// SAVEDSINCE date
    SavedSince(SearchDate),
    /// LARGER n
    Larger(u64),
    /// SMALLER n
    Smaller(u64),
    /// OLDER seconds
    Older(u64),
    /// YOUNGER seconds
    Younger(u64),
    /// MODSEQ n
    ModSeq(u64),
    /// UID set
    Uid(SequenceSet),
    /// A sequence set
    Sequence(SequenceSet),
    /// NOT key
    Not(Box<SearchKey>),
    /// OR key key
    Or(Box<SearchKey>, Box<SearchKey>),
    /// (key key ...) or several keys in a row: all must match.
    And(Vec<SearchKey>),
}

/// A date and time with its zone, as in APPEND and INTERNALDATE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime {
    /// Seconds since the epoch (UTC).
    pub unix: i64,
    /// The zone as minutes east of UTC.
    pub offset_minutes: i32,
}

/// STATUS data items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusItem {
    /// MESSAGES
    Messages,
    /// RECENT (IMAP4rev1)
    Recent,
    /// UIDNEXT
    UidNext,
    /// UIDVALIDITY
    UidValidity,
    /// UNSEEN
    Unseen,
    /// DELETED (RFC 9051)
    Deleted,
    /// SIZE (RFC 9051)
    Size,
    /// HIGHESTMODSEQ (RFC 7162)
    HighestModSeq,
}

/// One end of a sequence range: a number or `*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqNumber {
    /// A sequence number or UID.
    Value(u32),
    /// `*`: the largest number in use.
    Largest,
}

/// One range of a sequence set; `a:b` with either order, or a single number
/// (then `start == end`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeqRange {
    /// One end.
    pub start: SeqNumber,
    /// The other end.
    pub end: SeqNumber,
}

/// A sequence set such as `1:4,7,9:*`, or `$` (the saved search result).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SequenceSet {
    /// Explicit ranges, in the order given.
    Ranges(Vec<SeqRange>),
    /// `$` (RFC 5182).
    Saved,
}

/// How STORE applies its flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreMode {
    /// FLAGS: replace.
    Replace,
    /// +FLAGS: add.
    Add,
    /// -FLAGS: remove.
    Remove,
}

/// A FETCH data item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchAttribute {
    /// FLAGS
    Flags,
    /// UID
    Uid,
    /// RFC822.SIZE
    Rfc822Size,
    /// INTERNALDATE
    InternalDate,
    /// ENVELOPE
    Envelope,
    /// BODY (non-extensible structure)
    Body,
    /// BODYSTRUCTURE
    BodyStructure,
    /// RFC822 (same as BODY[], sets \Seen)
    Rfc822,
    /// RFC822.HEADER (same as BODY.PEEK[HEADER])
    Rfc822Header,
    /// RFC822.TEXT (same as BODY[TEXT], sets \Seen)
    Rfc822Text,
    /// MODSEQ (RFC 7162)
    ModSeq,
    /// BODY[section]<partial> and BODY.PEEK[...]
    BodySection {
        /// BODY.PEEK: do not set \Seen.
        peek: bool,
        /// The section.
        section: Section,
        /// `<offset.count>`.
        partial: Option<(u64, u64)>,
    },
    /// BINARY[section]<partial> and BINARY.PEEK[...] (RFC 3516)
    BinarySection {
        /// BINARY.PEEK.
        peek: bool,
        /// Part numbers.
        part: Vec<u32>,
        /// `<offset.count>`.
        partial: Option<(u64, u64)>,
    },
    /// BINARY.SIZE[section]
    BinarySize {
        /// Part numbers.
        part: Vec<u32>,
    },
}

/// A body section: part numbers and what of the part.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Section {
    /// Part numbers, e.g. `[1, 2]` for `1.2`; empty for the whole message.
    pub part: Vec<u32>,
    /// HEADER, TEXT, MIME, ...; `None` for the part's whole content.
    pub text: Option<SectionText>,
}

/// What of a part a section names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionText {
    /// HEADER
    Header,
    /// HEADER.FIELDS (names), upper-cased.
    HeaderFields(Vec<String>),
    /// HEADER.FIELDS.NOT (names), upper-cased.
    HeaderFieldsNot(Vec<String>),
    /// TEXT
    Text,
    /// MIME
    Mime,
}
