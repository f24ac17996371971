//! The ACL commands (RFC 4314 §3) and their responses, LIST's MYRIGHTS
//! return option (RFC 8440).

use super::{bad, body, outcomes_utf8};
use crate::{
    AclModification as M, CommandBody as B, DeleteAcl, Encoder, GetAcl, ListItem, ListRights,
    MyRights, Outcome, SetAcl, acl, command_names, known_command, list, list_rights, my_rights,
};

fn set_acl(input: &str) -> SetAcl {
    match body(input) {
        B::SetAcl(s) => s,
        other => panic!("{other:?}"),
    }
}

fn text(f: impl FnOnce(&mut Vec<u8>)) -> String {
    let mut out = Vec::new();
    f(&mut out);
    String::from_utf8(out).expect("UTF-8 in test output")
}

#[test]
fn setacl_reads_the_rights_prefix() {
    // RFC 4314 §3.1's examples.
    assert_eq!(
        set_acl("A035 SETACL INBOX/Drafts John lrQswicda\r\n"),
        SetAcl {
            mailbox: "INBOX/Drafts".into(),
            identifier: "John".into(),
            modification: M::Replace,
            rights: "lrQswicda".into(),
        }
    );
    let s = set_acl("A036 SETACL INBOX/Drafts anyone +l\r\n");
    assert_eq!((s.modification, s.rights.as_str()), (M::Add, "l"));
    let s = set_acl("A037 SETACL INBOX/Drafts -anyone -r\r\n");
    assert_eq!(s.identifier, "-anyone");
    assert_eq!((s.modification, s.rights.as_str()), (M::Remove, "r"));
    // An empty rights string is a replace with nothing.
    let s = set_acl("a SETACL x bob \"\"\r\n");
    assert_eq!((s.modification, s.rights.as_str()), (M::Replace, ""));
    // Quoted and literal identifiers; INBOX in any case.
    let s = set_acl("a SETACL inbox \"bob smith\" {3+}\r\n+lr\r\n");
    assert_eq!(s.mailbox, "INBOX");
    assert_eq!(s.identifier, "bob smith");
    assert_eq!((s.modification, s.rights.as_str()), (M::Add, "lr"));
}

#[test]
fn other_acl_commands_parse() {
    assert_eq!(
        body("A002 DELETEACL INBOX/Drafts Fred\r\n"),
        B::DeleteAcl(DeleteAcl {
            mailbox: "INBOX/Drafts".into(),
            identifier: "Fred".into(),
        })
    );
    assert_eq!(
        body("A003 GETACL INBOX\r\n"),
        B::GetAcl(GetAcl {
            mailbox: "INBOX".into()
        })
    );
    assert_eq!(
        body("a001 LISTRIGHTS ~/Mail/saved smith\r\n"),
        B::ListRights(ListRights {
            mailbox: "~/Mail/saved".into(),
            identifier: "smith".into(),
        })
    );
    assert_eq!(
        body("A003 MYRIGHTS shared.alice.&AOk-t&AOk-\r\n"),
        B::MyRights(MyRights {
            mailbox: "shared.alice.\u{e9}t\u{e9}".into()
        })
    );
    for (input, name) in [
        ("a setacl x y z\r\n", "SETACL"),
        ("a deleteacl x y\r\n", "DELETEACL"),
        ("a getacl x\r\n", "GETACL"),
        ("a listrights x y\r\n", "LISTRIGHTS"),
        ("a myrights x\r\n", "MYRIGHTS"),
    ] {
        assert_eq!(body(input).name(), name);
        assert!(known_command(name));
        assert!(command_names().any(|n| n == name));
    }
}

#[test]
fn acl_names_follow_the_connections_encoding() {
    let outs = outcomes_utf8("a GETACL \"caf\u{e9}\"\r\n".as_bytes());
    match outs.as_slice() {
        [Outcome::Command { command, .. }] => assert_eq!(
            command.body,
            B::GetAcl(GetAcl {
                mailbox: "caf\u{e9}".into()
            })
        ),
        other => panic!("{other:?}"),
    }
    let (_, message) = bad("a MYRIGHTS &Jjo\r\n");
    assert!(message.contains("mailbox name"), "{message}");
}

#[test]
fn acl_syntax_errors_say_the_usage() {
    for (input, usage) in [
        ("a SETACL INBOX bob\r\n", "SETACL <mailbox> <identifier>"),
        ("a SETACL INBOX\r\n", "SETACL <mailbox>"),
        ("a SETACL INBOX bob lr extra\r\n", "SETACL <mailbox>"),
        ("a DELETEACL INBOX\r\n", "DELETEACL <mailbox> <identifier>"),
        ("a GETACL\r\n", "GETACL <mailbox>"),
        ("a GETACL INBOX x\r\n", "GETACL <mailbox>"),
        (
            "a LISTRIGHTS INBOX\r\n",
            "LISTRIGHTS <mailbox> <identifier>",
        ),
        ("a MYRIGHTS\r\n", "MYRIGHTS <mailbox>"),
        ("a MYRIGHTS (x)\r\n", "MYRIGHTS <mailbox>"),
    ] {
        let (tag, message) = bad(input);
        assert_eq!(tag.as_deref(), Some("a"), "{input}");
        assert!(message.contains(usage), "{input}: {message}");
    }
}

#[test]
fn acl_responses_render_as_rfc_4314_writes_them() {
    // RFC 4314 §3.6.
    assert_eq!(
        text(|o| acl(
            o,
            Encoder::ASCII,
            "INBOX",
            &[
                ("Fred".into(), "rwipslxetad".into()),
                ("Chris".into(), "lrswi".into())
            ]
        )),
        "* ACL INBOX Fred rwipslxetad Chris lrswi\r\n"
    );
    // No entries, and identifiers that need quoting.
    assert_eq!(
        text(|o| acl(o, Encoder::ASCII, "a b", &[])),
        "* ACL \"a b\"\r\n"
    );
    assert_eq!(
        text(|o| acl(
            o,
            Encoder::ASCII,
            "x",
            &[("bob smith".into(), String::new())]
        )),
        "* ACL x \"bob smith\" \"\"\r\n"
    );
    // RFC 4314 §3.7.
    assert_eq!(
        text(|o| list_rights(
            o,
            Encoder::ASCII,
            "~/Mail/saved",
            "smith",
            "la",
            &["r".into(), "swicdkxte".into()]
        )),
        "* LISTRIGHTS ~/Mail/saved smith la r swicdkxte\r\n"
    );
    assert_eq!(
        text(|o| list_rights(o, Encoder::ASCII, "INBOX", "bob", "", &["l".into()])),
        "* LISTRIGHTS INBOX bob \"\" l\r\n"
    );
    // The virtual c and d of RFC 4314 §2.1.1 come with their members:
    // grantable alone when the members are, shown where a member is held.
    assert_eq!(
        text(|o| list_rights(
            o,
            Encoder::ASCII,
            "x",
            "bob",
            "",
            &["l".into(), "k".into(), "x".into(), "t".into()]
        )),
        "* LISTRIGHTS x bob \"\" l k x t c d\r\n"
    );
    assert_eq!(
        text(|o| list_rights(o, Encoder::ASCII, "x", "me", "lrkxte", &[])),
        "* LISTRIGHTS x me lrkxtecd\r\n"
    );
    assert_eq!(
        text(|o| my_rights(o, Encoder::ASCII, "x", "lrk")),
        "* MYRIGHTS x lrkc\r\n"
    );
    assert_eq!(
        text(|o| my_rights(o, Encoder::ASCII, "x", "lre")),
        "* MYRIGHTS x lred\r\n"
    );
    assert_eq!(
        text(|o| acl(o, Encoder::ASCII, "x", &[("-bob".into(), "w".into())])),
        "* ACL x -bob w\r\n"
    );
    // RFC 4314 §3.8, and a name in modified UTF-7.
    assert_eq!(
        text(|o| my_rights(o, Encoder::ASCII, "INBOX", "rwiptsldaex")),
        "* MYRIGHTS INBOX rwiptsldaex\r\n"
    );
    assert_eq!(
        text(|o| my_rights(o, Encoder::ASCII, "\u{e9}t\u{e9}", "")),
        "* MYRIGHTS &AOk-t&AOk- \"\"\r\n"
    );
}

#[test]
fn list_carries_myrights_as_extended_data() {
    // RFC 8440 §3.
    let mut item = ListItem::new("INBOX", Some('.'));
    item.my_rights = Some("lrswipkxte".into());
    assert_eq!(
        text(|o| list(o, Encoder::ASCII, &item)),
        "* LIST () \".\" INBOX (\"MYRIGHTS\" \"lrswipkxtecd\")\r\n"
    );
    item.child_info_subscribed = true;
    item.my_rights = Some(String::new());
    assert_eq!(
        text(|o| list(o, Encoder::ASCII, &item)),
        "* LIST () \".\" INBOX (\"CHILDINFO\" (\"SUBSCRIBED\") \"MYRIGHTS\" \"\")\r\n"
    );
}
