//! `dovecot-keywords`: which keyword each letter `a`–`z` in a Maildir file
//! name's `:2,` suffix stands for (`<index> <name>` lines; `a` is index 0).

use std::path::Path;

use crate::error::Result;

/// The keywords file's name inside a Maildir folder.
const KEYWORDS_FILE: &str = "dovecot-keywords";

/// Reads `<mailbox_dir>/dovecot-keywords` as (index, keyword) pairs; empty
/// when there is no such file. Lines that do not parse are skipped, as
/// Dovecot does.
pub fn read_keywords(mailbox_dir: &Path) -> Result<Vec<(u32, String)>> {
    let Some(text) = super::read_optional(&mailbox_dir.join(KEYWORDS_FILE))? else {
        return Ok(Vec::new());
    };
    Ok(text
        .lines()
        .filter_map(|line| {
            let (index, name) = line.split_once(' ')?;
            let index: u32 = index.trim().parse().ok()?;
            let name = name.trim();
            (index < 26 && !name.is_empty()).then(|| (index, name.to_owned()))
        })
        .collect())
}

/// The keywords named by the lower-case letters of a Maildir info suffix
/// (the part after `:2,`), given the pairs [`read_keywords`] returned.
/// Letters without a keyword are ignored.
pub fn keyword_letters(info: &str, keywords: &[(u32, String)]) -> Vec<String> {
    info.bytes()
        .filter(u8::is_ascii_lowercase)
        .filter_map(|b| {
            let index = u32::from(b - b'a');
            keywords
                .iter()
                .find(|(i, _)| *i == index)
                .map(|(_, name)| name.clone())
        })
        .collect()
}
