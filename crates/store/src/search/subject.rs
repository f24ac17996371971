//! RFC 5256 §2.1 base subject extraction, for SORT SUBJECT and THREAD.
//! The input is already RFC 2047-decoded (mail-parser does that).

/// Collapses runs of whitespace to one space and trims.
fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Removes a leading `[blob]` followed by whitespace; `None` if absent.
fn strip_blob(s: &str) -> Option<&str> {
    let rest = s.strip_prefix('[')?;
    let end = rest.find([']', '['])?;
    if rest.as_bytes().get(end) != Some(&b']') {
        return None;
    }
    Some(rest[end + 1..].trim_start())
}

/// Removes one `subj-refwd` (`re`, `fw`, `fwd`, then `[blob]`s, then `:`)
/// possibly preceded by blobs; `None` if absent.
fn strip_refwd(s: &str) -> Option<&str> {
    let mut rest = s;
    while let Some(r) = strip_blob(rest) {
        rest = r;
    }
    let lower = rest.to_ascii_lowercase();
    let len = if lower.starts_with("re") {
        2
    } else if lower.starts_with("fwd") {
        3
    } else if lower.starts_with("fw") {
        2
    } else {
        return None;
    };
    let mut after = rest[len..].trim_start_matches([' ', '\t']);
    while let Some(r) = strip_blob(after) {
        after = r;
    }
    after.strip_prefix(':')
}

/// The base subject and whether the subject was a reply or forward (a
/// leader, trailer or `[fwd: ]` wrapper was removed).
pub fn base_subject(subject: &str) -> (String, bool) {
    let mut s = collapse(subject);
    let mut is_reply = false;
    loop {
        // (2) trailers: "(fwd)" and whitespace.
        loop {
            let t = s.trim_end();
            let cut = t.len().saturating_sub(5);
            if t.len() >= 5
                && t.get(cut..)
                    .is_some_and(|e| e.eq_ignore_ascii_case("(fwd)"))
            {
                s = t[..cut].to_string();
                is_reply = true;
            } else {
                s = t.to_string();
                break;
            }
        }
        // (3)-(5) leaders and blobs, until nothing changes.
        loop {
            let before = s.clone();
            let t = s.trim_start();
            if let Some(r) = strip_refwd(t) {
                s = r.trim_start().to_string();
                is_reply = true;
            } else {
                s = t.to_string();
            }
            if let Some(r) = strip_blob(&s)
                && !r.is_empty()
            {
                s = r.to_string();
            }
            if s == before {
                break;
            }
        }
        // (6) "[fwd: ... ]" wrapper.
        if s.len() > 6
            && s.get(..5).is_some_and(|h| h.eq_ignore_ascii_case("[fwd:"))
            && s.ends_with(']')
        {
            s = s[5..s.len() - 1].to_string();
            is_reply = true;
            continue;
        }
        break;
    }
    (s, is_reply)
}

#[cfg(test)]
mod tests {
    use super::base_subject;

    #[test]
    fn rfc5256_examples() {
        assert_eq!(base_subject("Re: hello").0, "hello");
        assert_eq!(
            base_subject("RE: [list] Re[2]: Fwd: hello (fwd)"),
            ("hello".into(), true)
        );
        assert_eq!(base_subject("[fwd: Re: hi there]").0, "hi there");
        assert_eq!(base_subject("  plain   subject ").0, "plain subject");
        assert_eq!(base_subject("[list]").0, "[list]");
        assert!(!base_subject("hello").1);
    }
}
