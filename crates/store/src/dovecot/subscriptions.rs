//! Dovecot's `subscriptions` file at the Maildir root.
//!
//! Dovecot 2.x writes a header line `V\t2` and an empty line (verified on
//! Debian's 2.3.19.1), then one mailbox name per line
//! with the hierarchy separator written as a TAB; older versions wrote one
//! name per line with the namespace's own separator (`.` for Maildir++).

use std::path::Path;

use crate::error::Result;

/// The subscriptions file's name at the Maildir root.
const SUBSCRIPTIONS_FILE: &str = "subscriptions";

/// Reads `<maildir_root>/subscriptions` as mailbox names with `.` as the
/// hierarchy separator; empty when there is no such file.
pub fn read_subscriptions(maildir_root: &Path) -> Result<Vec<String>> {
    let Some(text) = super::read_optional(&maildir_root.join(SUBSCRIPTIONS_FILE))? else {
        return Ok(Vec::new());
    };
    Ok(parse(&text))
}

/// Parses the text of a subscriptions file (either version).
pub(crate) fn parse(text: &str) -> Vec<String> {
    let mut lines = text.lines().peekable();
    let v2 = lines.peek().is_some_and(|l| l.starts_with("V\t"));
    if v2 {
        lines.next();
    }
    let mut names: Vec<String> = Vec::new();
    for line in lines {
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            continue;
        }
        let name = if v2 {
            line.replace('\t', ".")
        } else {
            line.to_owned()
        };
        let name = if name.eq_ignore_ascii_case("INBOX") {
            "INBOX".to_owned()
        } else {
            name
        };
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}
