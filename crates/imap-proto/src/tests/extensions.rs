//! NOTIFY (RFC 5465) and METADATA (RFC 5464).

use super::{bad, body};
use crate::{
    CommandBody as B, FetchAttribute, GetMetadata, MetadataDepth, Notify, NotifyEvent as E,
    NotifyGroup, NotifyMailboxes as M, NotifySet, SetMetadata,
};

fn notify(input: &str) -> Notify {
    match body(input) {
        B::Notify(n) => n,
        other => panic!("{other:?}"),
    }
}

#[test]
fn notify_set_and_none() {
    assert_eq!(notify("a NOTIFY NONE\r\n"), Notify { set: None });
    // RFC 5465 §5.9's example, with the events in the parentheses its
    // grammar requires (the RFC's text leaves them out).
    assert_eq!(
        notify(
            "A02 NOTIFY SET STATUS (selected (MessageNew (uid body.peek[header.fields (from to subject)]) MessageExpunge)) (subtree Lists (MessageNew MessageExpunge))\r\n"
        ),
        Notify {
            set: Some(NotifySet {
                status: true,
                groups: vec![
                    NotifyGroup {
                        mailboxes: M::Selected,
                        events: Some(vec![
                            E::MessageNew(vec![
                                FetchAttribute::Uid,
                                FetchAttribute::BodySection {
                                    peek: true,
                                    section: crate::Section {
                                        part: vec![],
                                        text: Some(crate::SectionText::HeaderFields(vec![
                                            "FROM".into(),
                                            "TO".into(),
                                            "SUBJECT".into()
                                        ]))
                                    },
                                    partial: None
                                }
                            ]),
                            E::MessageExpunge
                        ])
                    },
                    NotifyGroup {
                        mailboxes: M::Subtree(vec!["Lists".into()]),
                        events: Some(vec![E::MessageNew(vec![]), E::MessageExpunge])
                    },
                ]
            })
        }
    );
    let n = notify(
        "a NOTIFY SET (mailboxes (INBOX \"a b\") (MessageExpunge FlagChange AnnotationChange MessageNew)) (personal (MailboxName SubscriptionChange MailboxMetadataChange ServerMetadataChange XFoo)) (inboxes NONE) (subscribed (MessageNew MessageExpunge)) (SELECTED-DELAYED (MessageExpunge MessageNew))\r\n",
    );
    let groups = n.set.expect("SET").groups;
    assert_eq!(
        groups[0].mailboxes,
        M::Mailboxes(vec!["INBOX".into(), "a b".into()])
    );
    assert_eq!(
        groups[1].events.as_deref(),
        Some(
            &[
                E::MailboxName,
                E::SubscriptionChange,
                E::MailboxMetadataChange,
                E::ServerMetadataChange,
                E::Other("XFOO".into())
            ][..]
        )
    );
    assert_eq!(groups[2].mailboxes, M::Inboxes);
    assert_eq!(groups[2].events, None);
    assert_eq!(groups[4].mailboxes, M::SelectedDelayed);
}

#[test]
fn notify_errors() {
    for (input, expect) in [
        ("a NOTIFY\r\n", "Missing NONE or SET"),
        ("a NOTIFY SET\r\n", "Missing event group"),
        (
            "a NOTIFY SET (everything (MessageNew))\r\n",
            "Unknown mailbox specifier",
        ),
        (
            "a NOTIFY SET (selected (MailboxName))\r\n",
            "message events only",
        ),
        (
            "a NOTIFY SET (selected (MessageNew MessageExpunge)) (selected-delayed (MessageNew MessageExpunge))\r\n",
            "Only one of SELECTED",
        ),
        ("a NOTIFY SET (personal (MessageNew))\r\n", "together"),
        ("a NOTIFY SET (personal (MessageExpunge))\r\n", "together"),
        (
            "a NOTIFY SET (personal (FlagChange))\r\n",
            "FlagChange and AnnotationChange need",
        ),
        ("a NOTIFY SET (personal MessageNew)\r\n", "'('"),
        ("a NOTIFY SET (subtree (MessageNew))\r\n", "mailbox"),
        ("a NOTIFY SET (inboxes ())\r\n", "event"),
        ("a NOTIFY GET\r\n", "Expected NONE or SET"),
    ] {
        let (_, msg) = bad(input);
        assert!(msg.contains(expect), "{input:?}: {msg}");
    }
}

#[test]
fn getmetadata_options_and_entries() {
    // RFC 5464 §4.2's examples, options before or after the mailbox.
    assert_eq!(
        body("a GETMETADATA \"\" /shared/comment\r\n"),
        B::GetMetadata(GetMetadata {
            mailbox: "".into(),
            max_size: None,
            depth: MetadataDepth::Zero,
            entries: vec!["/shared/comment".into()]
        })
    );
    assert_eq!(
        body("a GETMETADATA INBOX (/shared/comment /private/comment)\r\n"),
        B::GetMetadata(GetMetadata {
            mailbox: "INBOX".into(),
            max_size: None,
            depth: MetadataDepth::Zero,
            entries: vec!["/shared/comment".into(), "/private/comment".into()]
        })
    );
    assert_eq!(
        body("a GETMETADATA (MAXSIZE 1024 DEPTH infinity) INBOX /private/filters/values\r\n"),
        B::GetMetadata(GetMetadata {
            mailbox: "INBOX".into(),
            max_size: Some(1024),
            depth: MetadataDepth::Infinity,
            entries: vec!["/private/filters/values".into()]
        })
    );
    assert_eq!(
        body("a GETMETADATA INBOX (DEPTH 1) (/private/filters/values /shared/filters/values)\r\n"),
        B::GetMetadata(GetMetadata {
            mailbox: "INBOX".into(),
            max_size: None,
            depth: MetadataDepth::One,
            entries: vec![
                "/private/filters/values".into(),
                "/shared/filters/values".into()
            ]
        })
    );
    for (input, expect) in [
        ("a GETMETADATA INBOX /comment\r\n", "Invalid entry name"),
        ("a GETMETADATA INBOX /shared/a//b\r\n", "Invalid entry name"),
        ("a GETMETADATA INBOX /shared/a/\r\n", "Invalid entry name"),
        ("a GETMETADATA INBOX /shared/*\r\n", "Invalid entry name"),
        (
            "a GETMETADATA (DEPTH 2) INBOX /shared\r\n",
            "DEPTH is 0, 1 or infinity",
        ),
        ("a GETMETADATA (MAXSIZE x) INBOX /shared\r\n", "MAXSIZE"),
        ("a GETMETADATA INBOX\r\n", "Missing entry names"),
    ] {
        let (_, msg) = bad(input);
        assert!(msg.contains(expect), "{input:?}: {msg}");
    }
}

#[test]
fn setmetadata_values_strings_literals_and_nil() {
    // RFC 5464 §4.3's examples.
    assert_eq!(
        body("a SETMETADATA INBOX (/private/comment \"My new comment\")\r\n"),
        B::SetMetadata(SetMetadata {
            mailbox: "INBOX".into(),
            entries: vec![("/private/comment".into(), Some(b"My new comment".to_vec()))]
        })
    );
    assert_eq!(
        body("a SETMETADATA INBOX (/private/comment NIL)\r\n"),
        B::SetMetadata(SetMetadata {
            mailbox: "INBOX".into(),
            entries: vec![("/private/comment".into(), None)]
        })
    );
    assert_eq!(
        body(b"a SETMETADATA \"\" (/shared/x {3}\r\na\nb /shared/y ~{2}\r\n\0\x01)\r\n"),
        B::SetMetadata(SetMetadata {
            mailbox: "".into(),
            entries: vec![
                ("/shared/x".into(), Some(b"a\nb".to_vec())),
                ("/shared/y".into(), Some(b"\0\x01".to_vec()))
            ]
        })
    );
    for (input, expect) in [
        ("a SETMETADATA INBOX /private/comment \"x\"\r\n", "'('"),
        ("a SETMETADATA INBOX (/private/comment)\r\n", "entry value"),
        ("a SETMETADATA INBOX ()\r\n", "entry name"),
    ] {
        let (_, msg) = bad(input);
        assert!(msg.contains(expect), "{input:?}: {msg}");
    }
}
