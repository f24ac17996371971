//! The dispatch table, response codes and the quoter.

use super::{body, drive, outcomes};
use crate::{
    Code, CommandBody, Encoder, Limits, MetadataCode, Outcome, Search, SearchKey, SequenceSet,
    StatusKind, command_names, known_command, literal_header, literal8_header, status_response,
};

#[test]
fn uid_search_with_a_literal_is_a_command_not_an_unknown_one() {
    // Before the table, check_head knew only FETCH, STORE and EXPUNGE
    // after UID and refused this at the literal.
    let stream = b"a UID SEARCH CHARSET UTF-8 TEXT {5}\r\nhello\r\n";
    for step in [1, 7, stream.len()] {
        let run = drive(Limits::default(), stream, step);
        assert_eq!(run.outcomes[0], Outcome::SendContinuation, "step {step}");
        match &run.outcomes[1] {
            Outcome::Command { command, consumed } => {
                assert_eq!(*consumed, stream.len());
                assert_eq!(
                    command.body,
                    CommandBody::Search(Search {
                        uid: true,
                        returns: None,
                        charset: Some("UTF-8".into()),
                        key: SearchKey::Text("hello".into()),
                    })
                );
            }
            other => panic!("step {step}: {other:?}"),
        }
    }
    for sub in [
        "SORT (DATE) UTF-8 TEXT",
        "THREAD REFS UTF-8 TEXT",
        "COPY 1",
        "MOVE 1",
    ] {
        let stream = format!("a UID {sub} {{5}}\r\nhello\r\n");
        let outs = outcomes(stream.as_bytes());
        assert_eq!(outs[0], Outcome::SendContinuation, "{sub}");
        assert!(
            matches!(&outs[1], Outcome::Command { .. }),
            "{sub}: {outs:?}"
        );
    }
}

#[test]
fn unknown_uid_command_with_a_literal_is_refused_before_the_literal() {
    let outs = outcomes(b"a UID LOGIN {5}\r\n");
    match outs.as_slice() {
        [Outcome::Error { message, .. }] => assert_eq!(message, "Unknown command UID LOGIN"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn every_table_name_is_known_and_parses_to_its_variant() {
    let names: Vec<_> = command_names().collect();
    for name in [
        "CAPABILITY",
        "STARTTLS",
        "UNAUTHENTICATE",
        "ID",
        "ENABLE",
        "IDLE",
        "NAMESPACE",
        "UID EXPUNGE",
        "UID SEARCH",
        "UID SORT",
        "UID THREAD",
        "UID FETCH",
        "UID STORE",
        "UID COPY",
        "UID MOVE",
        "UID REPLACE",
        "COMPRESS",
        "NOTIFY",
        "GETMETADATA",
        "SETMETADATA",
        "CANCELUPDATE",
    ] {
        assert!(names.contains(&name), "{name}");
    }
    for name in &names {
        assert!(known_command(name), "{name}");
        assert!(known_command(&name.to_ascii_lowercase()), "{name}");
    }
    assert!(known_command("UID"));
    assert!(!known_command("UID LOGIN"));
    assert!(!known_command("FROB"));
    // A sample of commands report the name they were parsed from.
    for (input, name) in [
        ("a noop\r\n", "NOOP"),
        ("a EXAMINE x\r\n", "EXAMINE"),
        ("a uid fetch 1 FLAGS\r\n", "UID FETCH"),
        ("a FETCH 1 FLAGS\r\n", "FETCH"),
        ("a UID EXPUNGE 1\r\n", "UID EXPUNGE"),
        ("a EXPUNGE\r\n", "EXPUNGE"),
        ("a UID MOVE 1 x\r\n", "UID MOVE"),
        ("a COPY 1 x\r\n", "COPY"),
        ("a UID SORT (DATE) UTF-8 ALL\r\n", "UID SORT"),
    ] {
        assert_eq!(body(input).name(), name, "{input}");
    }
}

/// Renders a code in a tagged NO.
fn code(c: &Code) -> String {
    let mut out = Vec::new();
    status_response(&mut out, Some("a"), StatusKind::No, Some(c), "x");
    String::from_utf8(out).unwrap()
}

#[test]
fn response_codes_render_as_the_rfcs_write_them() {
    let set = |n: &[u32]| SequenceSet::from_numbers(n.iter().copied());
    for (c, text) in [
        (Code::Alert, "ALERT"),
        (Code::AlreadyExists, "ALREADYEXISTS"),
        (
            Code::AppendUid {
                uidvalidity: 38505,
                uids: set(&[3955]),
            },
            "APPENDUID 38505 3955",
        ),
        (
            Code::AppendUid {
                uidvalidity: 1,
                uids: set(&[7, 8, 9, 11]),
            },
            "APPENDUID 1 7:9,11",
        ),
        (Code::AuthenticationFailed, "AUTHENTICATIONFAILED"),
        (Code::AuthorizationFailed, "AUTHORIZATIONFAILED"),
        (Code::BadCharset(vec![]), "BADCHARSET"),
        (
            Code::BadCharset(vec!["UTF-8".into(), "US-ASCII".into()]),
            "BADCHARSET (UTF-8 US-ASCII)",
        ),
        (
            Code::BadEvent(vec!["MessageNew".into(), "FlagChange".into()]),
            "BADEVENT (MessageNew FlagChange)",
        ),
        (
            Code::BadUrl("/INBOX;UIDVALIDITY=785799047/;UID=113330".into()),
            "BADURL /INBOX;UIDVALIDITY=785799047/;UID=113330",
        ),
        (Code::Cannot, "CANNOT"),
        (
            Code::Capability(vec!["IMAP4rev2".into(), "AUTH=PLAIN".into()]),
            "CAPABILITY IMAP4rev2 AUTH=PLAIN",
        ),
        // What would end an atom is dropped, the rest kept in order.
        (
            Code::Capability(vec!["X-(A]B\"C{D%E)".into(), " é\r\nF ".into()]),
            "CAPABILITY X-ABCDE F",
        ),
        (Code::ClientBug, "CLIENTBUG"),
        (Code::Closed, "CLOSED"),
        (Code::CompressionActive, "COMPRESSIONACTIVE"),
        (Code::ContactAdmin, "CONTACTADMIN"),
        (
            Code::CopyUid {
                uidvalidity: 38505,
                source: set(&[304, 319, 320]),
                destination: set(&[3956, 3957, 3958]),
            },
            "COPYUID 38505 304,319:320 3956:3958",
        ),
        (Code::Corruption, "CORRUPTION"),
        (Code::Expired, "EXPIRED"),
        (Code::ExpungeIssued, "EXPUNGEISSUED"),
        (Code::HasChildren, "HASCHILDREN"),
        (
            Code::HighestModSeq(715_194_045_007),
            "HIGHESTMODSEQ 715194045007",
        ),
        (Code::InUse, "INUSE"),
        (Code::Limit, "LIMIT"),
        (
            Code::MailboxId("F2212ea87-6097-4256-9d51-71338625".into()),
            "MAILBOXID (F2212ea87-6097-4256-9d51-71338625)",
        ),
        (
            Code::Metadata(MetadataCode::LongEntries(2199)),
            "METADATA LONGENTRIES 2199",
        ),
        (
            Code::Metadata(MetadataCode::MaxSize(1024)),
            "METADATA MAXSIZE 1024",
        ),
        (Code::Metadata(MetadataCode::TooMany), "METADATA TOOMANY"),
        (
            Code::Metadata(MetadataCode::NoPrivate),
            "METADATA NOPRIVATE",
        ),
        (Code::Modified(set(&[7, 9])), "MODIFIED 7,9"),
        (Code::NoModSeq, "NOMODSEQ"),
        (Code::NonExistent, "NONEXISTENT"),
        (Code::NoPerm, "NOPERM"),
        (Code::NotificationOverflow, "NOTIFICATIONOVERFLOW"),
        (Code::NotSaved, "NOTSAVED"),
        (Code::NoUpdate("B02".into()), "NOUPDATE \"B02\""),
        (Code::OverQuota, "OVERQUOTA"),
        (Code::Parse, "PARSE"),
        (
            Code::PermanentFlags(vec!["\\Deleted".into(), "\\Seen".into(), "\\*".into()]),
            "PERMANENTFLAGS (\\Deleted \\Seen \\*)",
        ),
        (Code::PermanentFlags(vec![]), "PERMANENTFLAGS ()"),
        (Code::PrivacyRequired, "PRIVACYREQUIRED"),
        (Code::ReadOnly, "READ-ONLY"),
        (Code::ReadWrite, "READ-WRITE"),
        (Code::ServerBug, "SERVERBUG"),
        (Code::TooBig, "TOOBIG"),
        (Code::TryCreate, "TRYCREATE"),
        (Code::UidNext(4392), "UIDNEXT 4392"),
        (Code::UidNotSticky, "UIDNOTSTICKY"),
        (Code::UidRequired, "UIDREQUIRED"),
        (Code::UidValidity(3_857_529_045), "UIDVALIDITY 3857529045"),
        (Code::Unavailable, "UNAVAILABLE"),
        (Code::UnknownCte, "UNKNOWN-CTE"),
        (Code::Unseen(12), "UNSEEN 12"),
        (Code::UseAttr, "USEATTR"),
        (
            Code::Other {
                name: "QUOTA-X".into(),
                text: Some("a]b\r\n".into()),
            },
            "QUOTA-X ab",
        ),
    ] {
        assert_eq!(code(&c), format!("a NO [{text}] x\r\n"));
        assert_eq!(c.to_string(), text);
    }
}

/// Runs an encoder into a fresh buffer.
fn enc(f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut out = Vec::new();
    f(&mut out);
    out
}

#[test]
fn quoter_sends_utf8_quoted_only_when_enabled() {
    let cafe = "caf\u{e9}".as_bytes();
    assert_eq!(
        enc(|o| Encoder::ASCII.string(o, cafe)),
        b"{5}\r\ncaf\xc3\xa9"
    );
    assert_eq!(enc(|o| Encoder::UTF8.string(o, cafe)), b"\"caf\xc3\xa9\"");
    // Invalid UTF-8 and line ends stay literals either way.
    assert_eq!(enc(|o| Encoder::UTF8.string(o, b"\xff")), b"{1}\r\n\xff");
    assert_eq!(enc(|o| Encoder::UTF8.string(o, b"a\nb")), b"{3}\r\na\nb");
    assert_eq!(enc(|o| Encoder::UTF8.astring(o, b"NIL")), b"\"NIL\"");
    assert_eq!(enc(|o| Encoder::UTF8.nstring(o, None)), b"NIL");
    // Mailbox names: modified UTF-7 without UTF-8, as they are with it.
    let name = "Entw\u{fc}rfe & \u{65e5}\u{672c}";
    assert_eq!(
        enc(|o| Encoder::ASCII.mailbox(o, name)),
        b"\"Entw&APw-rfe &- &ZeVnLA-\""
    );
    assert_eq!(
        enc(|o| Encoder::UTF8.mailbox(o, name)),
        format!("\"{name}\"").as_bytes()
    );
    assert_eq!(enc(|o| literal_header(o, 12)), b"{12}\r\n");
    assert_eq!(enc(|o| literal8_header(o, 0)), b"~{0}\r\n");
}

#[test]
fn a_sorted_result_keeps_its_order() {
    let set = SequenceSet::in_order([4, 5, 6, 2, 9, 10, 1]);
    assert_eq!(set.to_string(), "4:6,2,9:10,1");
    assert_eq!(SequenceSet::from_numbers([4, 5, 6, 2]).to_string(), "2,4:6");
}
