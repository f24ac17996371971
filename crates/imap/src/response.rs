//! Small response builders the encoder does not have (untagged FETCH
//! pieces), kept here so the session never writes syntax ad hoc.

use mailkeep_imap_proto::{exists, expunge, flag_list};

use crate::view::Update;

/// Appends the untagged responses for view updates.
pub(crate) fn updates(out: &mut Vec<u8>, updates: &[Update]) {
    for update in updates {
        match update {
            Update::Expunge(seq) => expunge(out, *seq),
            Update::Exists(n) => exists(out, *n),
            Update::Flags { seq, uid, flags } => fetch_flags(out, *seq, Some(*uid), flags),
        }
    }
}

/// Appends `* n FETCH (UID u FLAGS (...))` (UID when given).
pub(crate) fn fetch_flags(out: &mut Vec<u8>, seq: u32, uid: Option<u32>, flags: &[String]) {
    out.extend_from_slice(format!("* {seq} FETCH (").as_bytes());
    if let Some(uid) = uid {
        out.extend_from_slice(format!("UID {uid} ").as_bytes());
    }
    out.extend_from_slice(b"FLAGS ");
    flag_list(out, flags);
    out.extend_from_slice(b")\r\n");
}

/// Formats a set of numbers as an IMAP sequence set (`1:3,7`), for
/// response codes such as MODIFIED.
pub(crate) fn sequence_set(numbers: &[u32]) -> String {
    let mut sorted = numbers.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    crate::view::uid_ranges(&sorted)
        .iter()
        .map(|&(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}:{b}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_are_encoded() {
        let mut out = Vec::new();
        updates(
            &mut out,
            &[
                Update::Expunge(3),
                Update::Exists(9),
                Update::Flags {
                    seq: 2,
                    uid: 7,
                    flags: vec!["\\Seen".into()],
                },
            ],
        );
        assert_eq!(
            String::from_utf8_lossy(&out),
            "* 3 EXPUNGE\r\n* 9 EXISTS\r\n* 2 FETCH (UID 7 FLAGS (\\Seen))\r\n"
        );
    }

    #[test]
    fn sequence_sets_are_compact() {
        assert_eq!(sequence_set(&[7, 1, 2, 3, 9]), "1:3,7,9");
        assert_eq!(sequence_set(&[]), "");
    }
}
