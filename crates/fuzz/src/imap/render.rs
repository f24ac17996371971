//! Writes a parsed command back as a client would send it, for the
//! parse → render → parse round trip. `imap-proto` encodes responses only,
//! so this covers the commands whose every field can be written from the
//! parsed value, using the crate's own encoders (strings, mailbox names,
//! sequence sets, section names) wherever it has one.

use mailkeep_imap_proto::{
    AclModification, Command, CommandBody, Encoder, EntryKind, FetchAttribute, PartialRange,
    QResync, SearchDate, SearchKey, SearchReturn, Section, SectionText, SortKey, StoreMode,
    ThreadAlgorithm, base64_encode,
};

/// The command as a client sends it (CRLF included), or `None` for the
/// commands this does not write (LIST, NOTIFY, METADATA, ...).
pub fn render(command: &Command, utf8: bool) -> Option<Vec<u8>> {
    let enc = Encoder { utf8 };
    let mut out = Vec::new();
    out.extend_from_slice(command.tag.as_bytes());
    out.push(b' ');
    out.extend_from_slice(command.body.name().as_bytes());
    let mut w = Writer { out, enc };
    match &command.body {
        CommandBody::Capability(_)
        | CommandBody::Noop(_)
        | CommandBody::Logout(_)
        | CommandBody::StartTls(_)
        | CommandBody::Unauthenticate(_)
        | CommandBody::Namespace(_)
        | CommandBody::Check(_)
        | CommandBody::Close(_)
        | CommandBody::Unselect(_)
        | CommandBody::Idle(_) => {}
        CommandBody::Login(login) => {
            w.sp();
            w.astring(login.username.as_bytes());
            w.sp();
            w.astring(&login.password);
        }
        CommandBody::Select(select) | CommandBody::Examine(select) => {
            w.sp();
            w.mailbox(&select.mailbox);
            let mut params = Vec::new();
            if select.condstore {
                params.push(b"CONDSTORE".to_vec());
            }
            if let Some(q) = &select.qresync {
                params.push(qresync(q));
            }
            if !params.is_empty() {
                w.text(" (");
                w.out.extend_from_slice(&params.join(&b' '));
                w.text(")");
            }
        }
        CommandBody::Create(create) => {
            w.sp();
            w.mailbox(&create.mailbox);
            if !create.special_use.is_empty() {
                w.text(&format!(" (USE ({}))", create.special_use.join(" ")));
            }
        }
        CommandBody::Delete(d) => w.mailboxes(&[&d.mailbox]),
        CommandBody::Rename(r) => w.mailboxes(&[&r.from, &r.to]),
        CommandBody::Subscribe(s) => w.mailboxes(&[&s.mailbox]),
        CommandBody::Unsubscribe(s) => w.mailboxes(&[&s.mailbox]),
        CommandBody::Status(status) => {
            w.mailboxes(&[&status.mailbox]);
            let items: Vec<&str> = status.items.iter().map(|i| i.name()).collect();
            w.text(&format!(" ({})", items.join(" ")));
        }
        CommandBody::Enable(enable) => {
            for cap in &enable.capabilities {
                w.sp();
                w.text(cap);
            }
        }
        CommandBody::Expunge(expunge) => {
            if let Some(set) = &expunge.uid_set {
                w.text(&format!(" {set}"));
            }
        }
        CommandBody::Copy(c) | CommandBody::Move(c) => {
            w.text(&format!(" {}", c.set));
            w.mailboxes(&[&c.mailbox]);
        }
        CommandBody::Store(store) => {
            w.text(&format!(" {} ", store.set));
            if let Some(n) = store.unchanged_since {
                w.text(&format!("(UNCHANGEDSINCE {n}) "));
            }
            w.text(match store.mode {
                StoreMode::Replace => "FLAGS",
                StoreMode::Add => "+FLAGS",
                StoreMode::Remove => "-FLAGS",
            });
            if store.silent {
                w.text(".SILENT");
            }
            w.text(&format!(" ({})", store.flags.join(" ")));
        }
        CommandBody::Fetch(fetch) => {
            w.text(&format!(" {} (", fetch.set));
            for (i, item) in fetch.items.iter().enumerate() {
                if i > 0 {
                    w.sp();
                }
                w.fetch_item(item);
            }
            w.text(")");
            match (fetch.changed_since, fetch.vanished) {
                (Some(n), true) => w.text(&format!(" (CHANGEDSINCE {n} VANISHED)")),
                (Some(n), false) => w.text(&format!(" (CHANGEDSINCE {n})")),
                (None, true) => w.text(" (VANISHED)"),
                (None, false) => {}
            }
        }
        CommandBody::Search(search) => {
            w.returns(search.returns.as_deref());
            if let Some(charset) = &search.charset {
                w.text(&format!(" CHARSET {charset}"));
            }
            w.sp();
            w.search_key(&search.key);
        }
        CommandBody::Sort(sort) => {
            w.returns(sort.returns.as_deref());
            let criteria: Vec<String> = sort
                .criteria
                .iter()
                .map(|c| {
                    let reverse = if c.reverse { "REVERSE " } else { "" };
                    format!("{reverse}{}", sort_key(c.key))
                })
                .collect();
            w.text(&format!(" ({}) {} ", criteria.join(" "), sort.charset));
            w.search_key(&sort.key);
        }
        CommandBody::Thread(thread) => {
            let algorithm = match thread.algorithm {
                ThreadAlgorithm::OrderedSubject => "ORDEREDSUBJECT",
                ThreadAlgorithm::References => "REFERENCES",
                ThreadAlgorithm::Refs => "REFS",
            };
            w.text(&format!(" {algorithm} {} ", thread.charset));
            w.search_key(&thread.key);
        }
        CommandBody::Lsub(lsub) => w.mailboxes(&[&lsub.reference, &lsub.pattern]),
        CommandBody::Id(id) => match &id.params {
            None => w.text(" NIL"),
            Some(params) => {
                w.text(" (");
                for (i, (field, value)) in params.iter().enumerate() {
                    if i > 0 {
                        w.sp();
                    }
                    w.enc.string(&mut w.out, field.as_bytes());
                    w.sp();
                    w.enc
                        .nstring(&mut w.out, value.as_deref().map(str::as_bytes));
                }
                w.text(")");
            }
        },
        CommandBody::CancelUpdate(cancel) => {
            for tag in &cancel.tags {
                w.sp();
                w.enc.string(&mut w.out, tag.as_bytes());
            }
        }
        CommandBody::Authenticate(auth) => {
            w.text(&format!(" {}", auth.mechanism));
            match auth.initial_response.as_deref() {
                Some([]) => w.text(" ="),
                Some(data) => w.text(&format!(" {}", base64_encode(data))),
                None => {}
            }
        }
        CommandBody::Compress(compress) => w.text(&format!(" {}", compress.algorithm)),
        CommandBody::SetAcl(set) => {
            w.mailboxes(&[&set.mailbox]);
            w.sp();
            w.astring(set.identifier.as_bytes());
            w.sp();
            let prefix = match set.modification {
                AclModification::Replace => "",
                AclModification::Add => "+",
                AclModification::Remove => "-",
            };
            w.astring(format!("{prefix}{}", set.rights).as_bytes());
        }
        CommandBody::DeleteAcl(delete) => {
            w.mailboxes(&[&delete.mailbox]);
            w.sp();
            w.astring(delete.identifier.as_bytes());
        }
        CommandBody::ListRights(list) => {
            w.mailboxes(&[&list.mailbox]);
            w.sp();
            w.astring(list.identifier.as_bytes());
        }
        CommandBody::GetAcl(get) => w.mailboxes(&[&get.mailbox]),
        CommandBody::MyRights(my) => w.mailboxes(&[&my.mailbox]),
        _ => return None,
    }
    w.out.extend_from_slice(b"\r\n");
    Some(w.out)
}

/// The output and the connection's string rules.
struct Writer {
    out: Vec<u8>,
    enc: Encoder,
}

impl Writer {
    fn sp(&mut self) {
        self.out.push(b' ');
    }

    fn text(&mut self, s: &str) {
        self.out.extend_from_slice(s.as_bytes());
    }

    fn astring(&mut self, s: &[u8]) {
        self.enc.astring(&mut self.out, s);
    }

    fn mailbox(&mut self, name: &str) {
        self.enc.mailbox(&mut self.out, name);
    }

    /// Each name after a space.
    fn mailboxes(&mut self, names: &[&str]) {
        for name in names {
            self.sp();
            self.mailbox(name);
        }
    }

    /// ` RETURN (options)`, when the command had them.
    fn returns(&mut self, returns: Option<&[SearchReturn]>) {
        if let Some(returns) = returns {
            let opts: Vec<String> = returns.iter().map(search_return).collect();
            self.text(&format!(" RETURN ({})", opts.join(" ")));
        }
    }

    fn fetch_item(&mut self, item: &FetchAttribute) {
        use FetchAttribute as F;
        match item {
            F::BodySection {
                peek,
                section,
                partial,
            } => {
                self.text(if *peek { "BODY.PEEK[" } else { "BODY[" });
                self.section(section);
                self.text("]");
                self.partial(*partial);
            }
            F::BinarySection {
                peek,
                part,
                partial,
            } => {
                self.text(if *peek { "BINARY.PEEK[" } else { "BINARY[" });
                self.text(&part_text(part));
                self.text("]");
                self.partial(*partial);
            }
            F::Preview { lazy: true } => self.text("PREVIEW (LAZY)"),
            // The response's name for the rest is the request's.
            other => self.text(&mailkeep_imap_proto::FetchResponse::section_name(other)),
        }
    }

    fn section(&mut self, section: &Section) {
        self.text(&part_text(&section.part));
        let Some(text) = &section.text else {
            return;
        };
        if !section.part.is_empty() {
            self.text(".");
        }
        let (keyword, names) = match text {
            SectionText::Header => ("HEADER", None),
            SectionText::Text => ("TEXT", None),
            SectionText::Mime => ("MIME", None),
            SectionText::HeaderFields(names) => ("HEADER.FIELDS", Some(names)),
            SectionText::HeaderFieldsNot(names) => ("HEADER.FIELDS.NOT", Some(names)),
        };
        self.text(keyword);
        if let Some(names) = names {
            self.text(" (");
            for (i, name) in names.iter().enumerate() {
                if i > 0 {
                    self.sp();
                }
                self.astring(name.as_bytes());
            }
            self.text(")");
        }
    }

    fn partial(&mut self, partial: Option<(u64, u64)>) {
        if let Some((offset, count)) = partial {
            self.text(&format!("<{offset}.{count}>"));
        }
    }

    fn search_key(&mut self, key: &SearchKey) {
        use SearchKey as K;
        let word = match key {
            K::All => "ALL",
            K::Answered => "ANSWERED",
            K::Deleted => "DELETED",
            K::Draft => "DRAFT",
            K::Flagged => "FLAGGED",
            K::Seen => "SEEN",
            K::Unanswered => "UNANSWERED",
            K::Undeleted => "UNDELETED",
            K::Undraft => "UNDRAFT",
            K::Unflagged => "UNFLAGGED",
            K::Unseen => "UNSEEN",
            K::Recent => "RECENT",
            K::New => "NEW",
            K::Old => "OLD",
            K::SaveDateSupported => "SAVEDATESUPPORTED",
            K::Keyword(flag) => return self.text(&format!("KEYWORD {flag}")),
            K::Unkeyword(flag) => return self.text(&format!("UNKEYWORD {flag}")),
            K::Bcc(s) => return self.keyed_string("BCC", s),
            K::Cc(s) => return self.keyed_string("CC", s),
            K::From(s) => return self.keyed_string("FROM", s),
            K::To(s) => return self.keyed_string("TO", s),
            K::Subject(s) => return self.keyed_string("SUBJECT", s),
            K::Body(s) => return self.keyed_string("BODY", s),
            K::Text(s) => return self.keyed_string("TEXT", s),
            K::Header(field, value) => {
                self.keyed_string("HEADER", field);
                self.sp();
                return self.astring(value.as_bytes());
            }
            K::Before(d) => return self.dated("BEFORE", d),
            K::On(d) => return self.dated("ON", d),
            K::Since(d) => return self.dated("SINCE", d),
            K::SentBefore(d) => return self.dated("SENTBEFORE", d),
            K::SentOn(d) => return self.dated("SENTON", d),
            K::SentSince(d) => return self.dated("SENTSINCE", d),
            K::SavedBefore(d) => return self.dated("SAVEDBEFORE", d),
            K::SavedOn(d) => return self.dated("SAVEDON", d),
            K::SavedSince(d) => return self.dated("SAVEDSINCE", d),
            K::Larger(n) => return self.text(&format!("LARGER {n}")),
            K::Smaller(n) => return self.text(&format!("SMALLER {n}")),
            K::Older(n) => return self.text(&format!("OLDER {n}")),
            K::Younger(n) => return self.text(&format!("YOUNGER {n}")),
            K::ModSeq { entry, modseq } => {
                self.text("MODSEQ ");
                if let Some(entry) = entry {
                    let name = format!("/flags/{}", entry.flag);
                    self.enc.string(&mut self.out, name.as_bytes());
                    self.text(match entry.kind {
                        EntryKind::Private => " priv ",
                        EntryKind::Shared => " shared ",
                        EntryKind::All => " all ",
                    });
                }
                return self.text(&modseq.to_string());
            }
            K::EmailId(id) => return self.text(&format!("EMAILID {id}")),
            K::ThreadId(id) => return self.text(&format!("THREADID {id}")),
            K::Uid(set) => return self.text(&format!("UID {set}")),
            K::Sequence(set) => return self.text(&set.to_string()),
            K::Not(inner) => {
                self.text("NOT ");
                return self.search_key(inner);
            }
            K::Or(a, b) => {
                self.text("OR ");
                self.search_key(a);
                self.sp();
                return self.search_key(b);
            }
            K::And(keys) => {
                self.text("(");
                for (i, k) in keys.iter().enumerate() {
                    if i > 0 {
                        self.sp();
                    }
                    self.search_key(k);
                }
                return self.text(")");
            }
        };
        self.text(word);
    }

    fn keyed_string(&mut self, keyword: &str, s: &str) {
        self.text(keyword);
        self.sp();
        self.astring(s.as_bytes());
    }

    fn dated(&mut self, keyword: &str, d: &SearchDate) {
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let month = usize::try_from(d.month)
            .ok()
            .and_then(|m| m.checked_sub(1))
            .and_then(|m| MONTHS.get(m))
            .unwrap_or(&"???");
        self.text(&format!("{keyword} {}-{month}-{:04}", d.day, d.year));
    }
}

fn qresync(q: &QResync) -> Vec<u8> {
    let mut s = format!("QRESYNC ({} {}", q.uidvalidity, q.modseq);
    if let Some(known) = &q.known_uids {
        s.push_str(&format!(" {known}"));
    }
    if let Some((seqs, uids)) = &q.seq_match {
        s.push_str(&format!(" ({seqs} {uids})"));
    }
    s.push(')');
    s.into_bytes()
}

fn search_return(r: &SearchReturn) -> String {
    match r {
        SearchReturn::Min => "MIN".into(),
        SearchReturn::Max => "MAX".into(),
        SearchReturn::All => "ALL".into(),
        SearchReturn::Count => "COUNT".into(),
        SearchReturn::Save => "SAVE".into(),
        SearchReturn::Context => "CONTEXT".into(),
        SearchReturn::Update => "UPDATE".into(),
        SearchReturn::Partial(range @ (PartialRange::First(..) | PartialRange::Last(..))) => {
            format!("PARTIAL {range}")
        }
    }
}

fn sort_key(key: SortKey) -> &'static str {
    match key {
        SortKey::Arrival => "ARRIVAL",
        SortKey::Cc => "CC",
        SortKey::Date => "DATE",
        SortKey::From => "FROM",
        SortKey::Size => "SIZE",
        SortKey::Subject => "SUBJECT",
        SortKey::To => "TO",
        SortKey::DisplayFrom => "DISPLAYFROM",
        SortKey::DisplayTo => "DISPLAYTO",
    }
}

fn part_text(part: &[u32]) -> String {
    part.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use mailkeep_imap_proto::{Limits, Outcome};

    use super::render;
    use crate::imap::drive;

    /// Every command kind the renderer writes, as a client might send it:
    /// each must parse, render and parse back the same, so the round trip
    /// in the fuzz target is never vacuous for them.
    #[test]
    fn every_rendered_command_kind_round_trips() {
        let lines: &[&[u8]] = &[
            b"a NOOP\r\n",
            b"a LOGIN {5}\r\nal\"ce \"p\\\\w\"\r\n",
            b"a SELECT &AOk- (CONDSTORE QRESYNC (1 2 1:5 (1,3 2,4)))\r\n",
            b"a EXAMINE inbox\r\n",
            b"a CREATE x (USE (\\Drafts \\Junk))\r\n",
            b"a DELETE x\r\n",
            b"a RENAME x y\r\n",
            b"a SUBSCRIBE x\r\n",
            b"a UNSUBSCRIBE x\r\n",
            b"a STATUS x (MESSAGES UIDNEXT MAILBOXID)\r\n",
            b"a ENABLE CONDSTORE utf8=accept\r\n",
            b"a UID EXPUNGE 1:3,7\r\n",
            b"a EXPUNGE\r\n",
            b"a UID COPY 1:* x\r\n",
            b"a MOVE $ x\r\n",
            b"a STORE 1 (UNCHANGEDSINCE 5) -FLAGS.SILENT \\seen kw\r\n",
            b"a UID FETCH 1 (BODY.PEEK[1.HEADER.FIELDS (A \"B-C\")]<0.9> BINARY[2]<1.2> BINARY.SIZE[1] PREVIEW (LAZY) MODSEQ) (CHANGEDSINCE 4 VANISHED)\r\n",
            b"a FETCH 1:2 FULL\r\n",
            b"a SEARCH RETURN (MIN PARTIAL -1:-5) CHARSET utf-8 OR NOT (SEEN FROM {2}\r\nxy) HEADER X \"\" SINCE 1-Feb-2024 MODSEQ \"/flags/\\\\Seen\" priv 0 UID 1:*\r\n",
            b"a UID SORT RETURN (COUNT) (REVERSE DATE SUBJECT) UTF-8 ALL\r\n",
            b"a THREAD REFS US-ASCII (UNSEEN LARGER 5)\r\n",
            b"a LSUB \"\" \"%/x\"\r\n",
            b"a ID (\"name\" \"x\" \"version\" NIL)\r\n",
            b"a ID NIL\r\n",
            b"a CANCELUPDATE \"t1\" \"t2\"\r\n",
            b"a AUTHENTICATE PLAIN =\r\n",
            b"a AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n",
            b"a COMPRESS DEFLATE\r\n",
        ];
        for utf8 in [false, true] {
            for line in lines {
                let run = drive(Limits::default(), utf8, line, line.len());
                let command = run
                    .outcomes
                    .iter()
                    .find_map(|o| match o {
                        Outcome::Command { command, .. } => Some(command),
                        _ => None,
                    })
                    .unwrap_or_else(|| panic!("{} gave {:?}", line.escape_ascii(), run.outcomes));
                assert!(render(command, utf8).is_some(), "{command:?} not rendered");
                crate::imap::round_trip(command, utf8);
            }
        }
    }
}
