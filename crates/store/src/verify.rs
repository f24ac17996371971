//! `Store::verify`: the index checked against the files, every problem
//! described in plain words (for `mailkeep admin verify USER`).

use std::collections::{HashMap, HashSet};
use std::fmt;

use crate::error::{Result, SqlContext};
use crate::sync::filename::base_name;
use crate::sync::scan;
use crate::{Store, index, names};

/// The outcome of [`Store::verify`]: how much was checked and each
/// inconsistency found (empty when the index and files agree).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Mailboxes checked.
    pub mailboxes: u32,
    /// Index rows checked.
    pub messages: u64,
    /// Files checked in `cur/` and `new/`.
    pub files: u64,
    /// Each problem, in plain words, naming the mailbox and UID or file.
    pub problems: Vec<String>,
}

impl VerifyReport {
    /// Whether no inconsistency was found.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "checked {} mailboxes, {} index rows, {} files: {}",
            self.mailboxes,
            self.messages,
            self.files,
            if self.is_ok() {
                "no problems".to_owned()
            } else {
                format!("{} problems", self.problems.len())
            }
        )?;
        for p in &self.problems {
            writeln!(f, "  - {p}")?;
        }
        Ok(())
    }
}

/// The `S=<size>` field of a Maildir file name, when present.
fn size_in_name(name: &str) -> Option<u64> {
    base_name(name)
        .split(',')
        .find_map(|field| field.strip_prefix("S="))
        .and_then(|v| v.parse().ok())
}

impl Store {
    /// Checks every mailbox: each index row has its file in `cur/` under
    /// the recorded name with the recorded size (counting line ends as
    /// CRLF; and the `S=` size of the name is the file's), each file in `cur/` and `new/` is indexed, no two files share
    /// a base name, UIDs are below UIDNEXT and MODSEQs at most
    /// HIGHESTMODSEQ. Reads only; run [`Store::sync_mailbox`] first to
    /// pick up outside changes.
    pub fn verify(&self) -> Result<VerifyReport> {
        let mut report = VerifyReport::default();
        // Messages appended moments ago get their files from the append
        // journal (what any reader of them does).
        self.write_out_journaled(crate::journal::Unwritten::All)?;
        let conn = self.conn()?;
        for name in index::all_names(&conn)? {
            let row = index::mailbox_row(&conn, &name)?;
            report.mailboxes += 1;
            let dir = names::mailbox_dir(self.root(), &name);
            if !dir.join("cur").is_dir() {
                report.problems.push(format!(
                    "mailbox {name:?}: folder {} is missing",
                    dir.display()
                ));
                continue;
            }
            let cur = scan::list(&dir.join("cur"))?;
            let new = scan::list(&dir.join("new"))?;
            report.files += (cur.len() + new.len()) as u64;
            let mut by_base: HashMap<&str, &scan::Entry> = HashMap::new();
            for e in &cur {
                if by_base.insert(base_name(&e.name), e).is_some() {
                    report.problems.push(format!(
                        "mailbox {name:?}: two files in cur/ share the base name {:?}",
                        base_name(&e.name)
                    ));
                }
            }
            for e in &new {
                report.problems.push(format!(
                    "mailbox {name:?}: file new/{} is not indexed yet",
                    e.name
                ));
            }
            let messages = index::all_messages(&conn, &row)?;
            // Appended since the write-out above (or kept there by a full
            // disk): their bytes are in the append journal, not missing.
            let unwritten = crate::journal::unwritten_files(&conn, row.id)?;
            report.messages += messages.len() as u64;
            let mut indexed: HashSet<&str> = HashSet::new();
            for m in &messages {
                let base = base_name(&m.file);
                if !indexed.insert(base) {
                    report.problems.push(format!(
                        "mailbox {name:?}: UID {} shares its file {:?} with another UID",
                        m.uid, m.file
                    ));
                }
                if m.uid >= row.uidnext {
                    report.problems.push(format!(
                        "mailbox {name:?}: UID {} is not below UIDNEXT {}",
                        m.uid, row.uidnext
                    ));
                }
                if m.modseq > row.highestmodseq {
                    report.problems.push(format!(
                        "mailbox {name:?}: UID {} has MODSEQ {} above HIGHESTMODSEQ {}",
                        m.uid, m.modseq, row.highestmodseq
                    ));
                }
                match by_base.get(base) {
                    None if unwritten.contains(&m.file) => {}
                    None => report.problems.push(format!(
                        "mailbox {name:?}: UID {} has no file (expected cur/{})",
                        m.uid, m.file
                    )),
                    Some(e) => {
                        if e.name != m.file {
                            report.problems.push(format!(
                                "mailbox {name:?}: UID {}: index says file {:?}, the file is named {:?}",
                                m.uid, m.file, e.name
                            ));
                        }
                        let served = crate::crlf::counted_size(&dir.join("cur").join(&e.name))?;
                        if let Some(w) = crate::crlf::size_in_name(&e.name)
                            && w != served
                        {
                            report.problems.push(format!(
                                "mailbox {name:?}: UID {}: file name says W={w} but the file has {served} bytes with CRLF line ends",
                                m.uid
                            ));
                        }
                        if served != m.size {
                            report.problems.push(format!(
                                "mailbox {name:?}: UID {}: index size {} but the file has {served} bytes with CRLF line ends",
                                m.uid, m.size
                            ));
                        }
                        if let Some(s) = size_in_name(&e.name)
                            && s != e.size
                        {
                            report.problems.push(format!(
                                "mailbox {name:?}: UID {}: file name says S={s} but the file has {} bytes",
                                m.uid, e.size
                            ));
                        }
                    }
                }
            }
            for e in &cur {
                if !indexed.contains(base_name(&e.name)) {
                    report.problems.push(format!(
                        "mailbox {name:?}: file cur/{} is not in the index",
                        e.name
                    ));
                }
            }
        }
        drop(conn);
        // Make sure the index itself is sound.
        let conn = self.conn()?;
        let integrity: String = conn
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .ctx("checking index integrity")?;
        if integrity != "ok" {
            report
                .problems
                .push(format!("the index database is damaged: {integrity}"));
        }
        Ok(report)
    }
}
