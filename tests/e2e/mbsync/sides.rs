//! The two sides of a sync as the test reads them: the server's mailboxes
//! through IMAP (the test kit's client), the local Maildir through its
//! files. Both become a [`Side`]: mailbox name → Message-ID → flags and
//! bytes, so that the test states what each side must hold and compares.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use mailkeep_testkit::{BlockingClient, quote};

/// One message as a side holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// Its flags as IMAP names, sorted, without `\Recent`.
    pub flags: Vec<String>,
    /// Its bytes as stored (local: bare LF lines; server: as served).
    pub bytes: Vec<u8>,
}

/// Mailbox name (the server's, `.` between levels) → Message-ID → message.
pub type Side = BTreeMap<String, BTreeMap<String, Held>>;

/// What a side holds without the bytes: mailbox → Message-ID → flags.
pub type Flags = BTreeMap<String, BTreeMap<String, Vec<String>>>;

/// The flags of every message of `side`.
pub fn flags_of(side: &Side) -> Flags {
    side.iter()
        .map(|(mailbox, msgs)| {
            let msgs = msgs
                .iter()
                .map(|(id, held)| (id.clone(), held.flags.clone()))
                .collect();
            (mailbox.clone(), msgs)
        })
        .collect()
}

/// The Message-ID (without angle brackets) in the header of `message`.
pub fn message_id(message: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(message);
    let header = text.split("\n\n").next().unwrap_or("");
    let header = header.split("\r\n\r\n").next().unwrap_or("");
    header.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("Message-ID")
            .then(|| value.trim().trim_matches(['<', '>']).to_owned())
    })
}

/// `message` with every CRLF turned into a bare LF (how mbsync stores mail
/// in a Maildir).
pub fn to_lf(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len());
    let mut i = 0;
    while i < message.len() {
        if message[i] == b'\r' && message.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        out.push(message[i]);
        i += 1;
    }
    out
}

/// `message` with every line ending a CRLF (how IMAP sends mail).
pub fn to_crlf(message: &[u8]) -> Vec<u8> {
    let lf = to_lf(message);
    let mut out = Vec::with_capacity(lf.len() + lf.len() / 40);
    for &b in &lf {
        if b == b'\n' {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

/// `message` without the `X-TUID:` header line mbsync adds to every
/// message it copies (its own tracking id, written on both sides).
pub fn without_tuid(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len());
    let mut in_header = true;
    for line in message.split_inclusive(|&b| b == b'\n') {
        if in_header && (line == b"\n" || line == b"\r\n") {
            in_header = false;
        }
        if in_header && line.starts_with(b"X-TUID: ") {
            continue;
        }
        out.extend_from_slice(line);
    }
    out
}

/// The Maildir info letters (after `:2,`) as IMAP flags, sorted.
pub fn flags_from_letters(letters: &str) -> Vec<String> {
    let mut flags: Vec<String> = letters
        .chars()
        .filter_map(|c| match c {
            'D' => Some("\\Draft"),
            'F' => Some("\\Flagged"),
            'R' => Some("\\Answered"),
            'S' => Some("\\Seen"),
            'T' => Some("\\Deleted"),
            _ => None,
        })
        .map(str::to_owned)
        .collect();
    flags.sort();
    flags
}

/// The local Maildir tree under `root` as mbsync keeps it (`SubFolders
/// Verbatim`, the inbox at `root/INBOX`): every directory with a `cur/`
/// is a mailbox, named by its path below `root` with `.` between levels.
pub fn read_local(root: &Path) -> Side {
    let mut side = Side::new();
    read_local_dir(root, root, &mut side);
    side
}

fn read_local_dir(root: &Path, dir: &Path, side: &mut Side) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("listing {}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.is_dir())
        .collect();
    entries.sort();
    if dir.join("cur").is_dir() {
        let name = dir
            .strip_prefix(root)
            .expect("below the root")
            .iter()
            .map(|c| c.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(".");
        let mut msgs = BTreeMap::new();
        for sub in ["cur", "new"] {
            for (file, bytes) in files_in(&dir.join(sub)) {
                let letters = file.split_once(":2,").map_or("", |(_, l)| l);
                let id = message_id(&bytes)
                    .unwrap_or_else(|| panic!("{name}/{sub}/{file} has no Message-ID"));
                let held = Held {
                    flags: flags_from_letters(letters),
                    bytes,
                };
                assert!(
                    msgs.insert(id.clone(), held).is_none(),
                    "two local copies of <{id}> in {name}"
                );
            }
        }
        side.insert(name, msgs);
    }
    for sub in entries {
        let last = sub.file_name().map(|n| n.to_string_lossy().into_owned());
        if matches!(last.as_deref(), Some("cur" | "new" | "tmp")) {
            continue;
        }
        read_local_dir(root, &sub, side);
    }
}

/// The files of one Maildir subdirectory (dot files left out), by name.
pub fn files_in(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("listing {}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry"))
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| {
            let bytes = fs::read(e.path()).expect("reading a message file");
            (e.file_name().to_string_lossy().into_owned(), bytes)
        })
        .collect()
}

/// Every file below `root` (mbsync's state files included) with its
/// bytes: what must not change when a sync has nothing to do.
pub fn local_files(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).expect("listing a local directory") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(root).expect("below the root");
                out.insert(
                    rel.display().to_string(),
                    fs::read(&path).expect("reading a local file"),
                );
            }
        }
    }
    out
}

/// The names of the selectable mailboxes the server lists, as sent.
pub fn server_mailboxes(c: &mut BlockingClient) -> Vec<String> {
    let r = c.ok("LIST \"\" \"*\"");
    let mut names: Vec<String> = r
        .list("LIST")
        .into_iter()
        .filter(|l| {
            !l.attributes.iter().any(|a| {
                a.eq_ignore_ascii_case("\\Noselect") || a.eq_ignore_ascii_case("\\NonExistent")
            })
        })
        .map(|l| l.name)
        .collect();
    names.sort();
    names
}

/// Every selectable mailbox of the server with its messages' flags and
/// bytes (read with EXAMINE, which changes nothing).
pub fn read_server(c: &mut BlockingClient) -> Side {
    let mut side = Side::new();
    for mailbox in server_mailboxes(c) {
        c.ok(&format!("EXAMINE {}", quote(&mailbox)));
        let r = c.ok("UID FETCH 1:* (UID FLAGS BODY.PEEK[])");
        let mut msgs = BTreeMap::new();
        for f in r.fetches() {
            let bytes = f
                .bytes("BODY[]")
                .unwrap_or_else(|| panic!("no BODY[] in {mailbox}: {r:?}"))
                .to_vec();
            let mut flags: Vec<String> = f
                .flags()
                .unwrap_or_else(|| panic!("no FLAGS in {mailbox}: {r:?}"))
                .into_iter()
                .filter(|fl| !fl.eq_ignore_ascii_case("\\Recent"))
                .collect();
            flags.sort();
            let id = message_id(&bytes)
                .unwrap_or_else(|| panic!("a message without Message-ID in {mailbox}"));
            assert!(
                msgs.insert(id.clone(), Held { flags, bytes }).is_none(),
                "two server copies of <{id}> in {mailbox}"
            );
        }
        side.insert(mailbox, msgs);
    }
    c.ok("UNSELECT");
    side
}

/// What must not change on the server when a sync has nothing to do:
/// per mailbox its STATUS (MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ) and
/// every message's UID, FLAGS and MODSEQ, as sent.
pub fn server_state(c: &mut BlockingClient) -> BTreeMap<String, (String, Vec<String>)> {
    let mut out = BTreeMap::new();
    for mailbox in server_mailboxes(c) {
        let name = quote(&mailbox);
        let status = c.ok(&format!(
            "STATUS {name} (MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ)"
        ));
        let status = status
            .untagged("STATUS")
            .next()
            .map(|d| format!("{:?}", d.values))
            .unwrap_or_default();
        c.ok(&format!("EXAMINE {name}"));
        let r = c.ok("UID FETCH 1:* (UID FLAGS MODSEQ)");
        let fetched = r.fetches().iter().map(|f| format!("{f:?}")).collect();
        out.insert(mailbox, (status, fetched));
    }
    c.ok("UNSELECT");
    out
}
