//! Mailbox names: modified UTF-7 without UTF8=ACCEPT, UTF-8 with it, and
//! the rules for new names.

use super::{bad, body, outcomes_utf8};
use crate::{
    CommandBody, MAX_MAILBOX_NAME_LEN, MailboxNameError, Mutf7Error, Outcome, Select,
    check_new_mailbox_name, decode_mutf7, encode_mutf7,
};

/// The mailbox of a SELECT.
fn selected(body: CommandBody) -> String {
    match body {
        CommandBody::Select(Select { mailbox, .. }) => mailbox,
        other => panic!("{other:?}"),
    }
}

#[test]
fn modified_utf7_round_trips() {
    for (utf8, wire) in [
        ("INBOX", "INBOX"),
        ("&", "&-"),
        ("a&b&&", "a&-b&-&-"),
        (
            "~peter/mail/\u{53f0}\u{5317}/\u{65e5}\u{672c}\u{8a9e}",
            "~peter/mail/&U,BTFw-/&ZeVnLIqe-",
        ),
        ("Entw\u{fc}rfe", "Entw&APw-rfe"),
        ("\u{10348}", "&2ADfSA-"),
        ("\u{e9}\u{e9}\u{e9}", "&AOkA6QDp-"),
        ("", ""),
    ] {
        assert_eq!(encode_mutf7(utf8), wire, "{utf8}");
        assert_eq!(
            decode_mutf7(wire.as_bytes()),
            Ok(utf8.to_string()),
            "{wire}"
        );
    }
}

#[test]
fn invalid_or_non_canonical_modified_utf7_is_refused() {
    for (wire, err) in [
        (&b"caf\xc3\xa9"[..], Mutf7Error::RawByte),
        (b"tab\there", Mutf7Error::RawByte),
        (b"&AOk", Mutf7Error::Malformed),
        (b"&AO!-", Mutf7Error::Malformed),
        (b"&AOl-", Mutf7Error::Malformed),
        (b"&2AA-", Mutf7Error::Malformed),
        (b"&AGE-", Mutf7Error::NotCanonical),
        (b"&AOk-&AOk-", Mutf7Error::NotCanonical),
        (b"&AOk=-", Mutf7Error::Malformed),
    ] {
        assert_eq!(decode_mutf7(wire), Err(err), "{wire:?}");
    }
}

#[test]
fn names_arrive_in_modified_utf7_without_utf8_accept() {
    assert_eq!(selected(body("a SELECT Entw&APw-rfe\r\n")), "Entw\u{fc}rfe");
    assert_eq!(selected(body("a SELECT \"a&-b\"\r\n")), "a&b");
    let (tag, msg) = bad("a CREATE \"caf\u{e9}\"\r\n");
    assert_eq!(tag.as_deref(), Some("a"));
    assert!(
        msg.contains("8-bit") && msg.contains("UTF8=ACCEPT"),
        "{msg}"
    );
    let (_, msg) = bad("a CREATE &AOk\r\n");
    assert!(msg.contains("modified UTF-7"), "{msg}");
    let (_, msg) = bad("a RENAME x &AGE-\r\n");
    assert!(msg.contains("canonical"), "{msg}");
    // LIST patterns too.
    match body("a LIST \"\" &APw-*\r\n") {
        CommandBody::List(list) => assert_eq!(list.patterns, ["\u{fc}*"]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn names_are_utf8_as_sent_with_utf8_accept() {
    let mut stream = "a SELECT \"caf\u{e9}\"\r\nb SELECT &AOk-\r\nc SELECT {2}\r\n"
        .as_bytes()
        .to_vec();
    stream.extend_from_slice(b"\xff\xfe\r\n");
    let outs = outcomes_utf8(&stream);
    let names: Vec<_> = outs
        .iter()
        .map(|o| match o {
            Outcome::Command { command, .. } => Ok(selected(command.body.clone())),
            Outcome::Error { message, .. } => Err(message.clone()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(names[0], Ok("caf\u{e9}".to_string()));
    assert_eq!(names[1], Ok("&AOk-".to_string()));
    assert!(
        names[2].as_ref().is_err_and(|m| m.contains("UTF-8")),
        "{names:?}"
    );
}

#[test]
fn new_mailbox_names_are_checked_with_a_reason() {
    assert_eq!(check_new_mailbox_name("Work.Projects", '.'), Ok(()));
    assert_eq!(check_new_mailbox_name("Entw\u{fc}rfe", '.'), Ok(()));
    assert_eq!(
        check_new_mailbox_name("", '.'),
        Err(MailboxNameError::Empty)
    );
    assert_eq!(
        check_new_mailbox_name("a*b", '.'),
        Err(MailboxNameError::Wildcard('*'))
    );
    assert_eq!(
        check_new_mailbox_name("a%", '.'),
        Err(MailboxNameError::Wildcard('%'))
    );
    for name in [".a", "a.", "a..b"] {
        assert_eq!(
            check_new_mailbox_name(name, '.'),
            Err(MailboxNameError::EmptyLevel('.')),
            "{name}"
        );
    }
    assert_eq!(
        check_new_mailbox_name("a\u{7}b", '.'),
        Err(MailboxNameError::Control)
    );
    // The 255-byte name: refused here with a reason, not by the
    // file system as SERVERBUG.
    let too_long = Err(MailboxNameError::TooLong {
        max: MAX_MAILBOX_NAME_LEN,
    });
    assert_eq!(check_new_mailbox_name(&"x".repeat(255), '.'), too_long);
    assert_eq!(check_new_mailbox_name(&"x".repeat(254), '.'), Ok(()));
    // 100 characters that take 200 bytes in UTF-8 but more in modified UTF-7.
    let wide = "\u{e9}".repeat(100);
    assert!(wide.len() <= MAX_MAILBOX_NAME_LEN);
    assert_eq!(check_new_mailbox_name(&wide, '.'), too_long);
    let reason = check_new_mailbox_name("a*", '.').unwrap_err().to_string();
    assert!(reason.contains("wildcard"), "{reason}");
}
