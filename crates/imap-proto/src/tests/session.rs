//! Commands about the session rather than mail: STARTTLS, UNAUTHENTICATE,
//! ID, ENABLE, IDLE and its DONE, COMPRESS, NAMESPACE, and the other
//! commands without arguments.

use super::{bad, body};
use crate::{
    Capability, Check, Close, CommandBody as B, Compress, Enable, Id, IdleEnd, Limits, Logout,
    Namespace, Noop, Parser, StartTls, Unauthenticate, Unselect, cmd::Idle,
};

#[test]
fn commands_without_arguments() {
    for (input, expected) in [
        ("a STARTTLS\r\n", B::StartTls(StartTls)),
        ("a unauthenticate\r\n", B::Unauthenticate(Unauthenticate)),
        ("a NAMESPACE\r\n", B::Namespace(Namespace)),
        ("a IDLE\r\n", B::Idle(Idle)),
        ("a CAPABILITY\r\n", B::Capability(Capability)),
        ("a NOOP\r\n", B::Noop(Noop)),
        ("a LOGOUT\r\n", B::Logout(Logout)),
        ("a CHECK\r\n", B::Check(Check)),
        ("a CLOSE\r\n", B::Close(Close)),
        ("a UNSELECT\r\n", B::Unselect(Unselect)),
    ] {
        assert_eq!(body(input), expected, "{input}");
        let with_arg = input.replace("\r\n", " x\r\n");
        let (tag, msg) = bad(&with_arg);
        assert_eq!(tag.as_deref(), Some("a"));
        assert!(msg.contains("with no arguments"), "{with_arg}: {msg}");
    }
}

/// Found by the imap_command fuzz target (corpus: crash-id-lossy-value):
/// the limit counted the bytes sent while the value kept had each invalid
/// byte replaced by three, so a kept value could not be sent back. The
/// limit now counts what is kept.
#[test]
fn id_limits_count_the_text_kept_after_invalid_utf8_is_replaced() {
    let mut input = b"a ID (\"x\" {400}\r\n".to_vec();
    input.extend_from_slice(&[0xff; 400]);
    input.extend_from_slice(b")\r\n");
    let (tag, msg) = bad(&input);
    assert_eq!(tag.as_deref(), Some("a"));
    assert!(msg.contains("at most 1024 bytes"), "{msg}");
    let mut input = b"a ID (\"x\" {300}\r\n".to_vec();
    input.extend_from_slice(&[0xff; 300]);
    input.extend_from_slice(b")\r\n");
    let B::Id(Id {
        params: Some(params),
    }) = body(&input)
    else {
        panic!("ID with a 300-byte value");
    };
    assert_eq!(params[0].1.as_deref().map(str::len), Some(900));
}

#[test]
fn id_with_parameters_nil_or_an_empty_list() {
    assert_eq!(
        body("a ID (\"name\" \"sodr\" \"version\" \"19.34\" \"vendor\" NIL)\r\n"),
        B::Id(Id {
            params: Some(vec![
                ("name".into(), Some("sodr".into())),
                ("version".into(), Some("19.34".into())),
                ("vendor".into(), None),
            ])
        })
    );
    assert_eq!(body("a ID NIL\r\n"), B::Id(Id { params: None }));
    assert_eq!(
        body("a id ()\r\n"),
        B::Id(Id {
            params: Some(vec![])
        })
    );
    assert_eq!(
        body("a ID ({4}\r\nname {3}\r\nx y)\r\n"),
        B::Id(Id {
            params: Some(vec![("name".into(), Some("x y".into()))])
        })
    );
}

#[test]
fn id_errors() {
    for (input, expect) in [
        ("a ID\r\n", "Missing ID parameters"),
        ("a ID (\"name\")\r\n", "ID field value"),
        ("a ID (\"name\" \"x\"\r\n", "')'"),
        ("a ID name\r\n", "'(' or NIL"),
        ("a ID (name \"x\")\r\n", "string"),
    ] {
        let (_, msg) = bad(input);
        assert!(msg.contains(expect), "{input:?}: {msg}");
    }
    let long_field = format!("a ID (\"{}\" \"x\")\r\n", "f".repeat(31));
    assert!(bad(long_field).1.contains("at most 30 bytes"));
    let long_value = format!("a ID (\"f\" \"{}\")\r\n", "v".repeat(1025));
    assert!(bad(long_value).1.contains("at most 1024 bytes"));
    let many: String = (0..31).map(|i| format!("\"f{i}\" \"v\" ")).collect();
    let many = format!("a ID ({})\r\n", many.trim_end());
    assert!(bad(many).1.contains("At most 30"));
}

#[test]
fn enable_lists_capabilities_upper_cased() {
    assert_eq!(
        body("a ENABLE condstore QRESYNC UTF8=ACCEPT imap4rev2\r\n"),
        B::Enable(Enable {
            capabilities: vec![
                "CONDSTORE".into(),
                "QRESYNC".into(),
                "UTF8=ACCEPT".into(),
                "IMAP4REV2".into()
            ]
        })
    );
    assert!(bad("a ENABLE\r\n").1.contains("Missing capability"));
    assert!(bad("a ENABLE (X)\r\n").1.contains("capability"));
}

#[test]
fn compress_takes_one_algorithm() {
    assert_eq!(
        body("a COMPRESS deflate\r\n"),
        B::Compress(Compress {
            algorithm: "DEFLATE".into()
        })
    );
    assert!(
        bad("a COMPRESS\r\n")
            .1
            .contains("Missing compression algorithm")
    );
    assert!(bad("a COMPRESS DEFLATE X\r\n").1.contains("extra"));
}

#[test]
fn idle_ends_with_done_in_any_case() {
    let p = Parser::new(Limits::default());
    assert_eq!(p.idle_end(b""), IdleEnd::Incomplete);
    assert_eq!(p.idle_end(b"DON"), IdleEnd::Incomplete);
    assert_eq!(p.idle_end(b"DONE\r\n"), IdleEnd::Done { consumed: 6 });
    assert_eq!(
        p.idle_end(b"done\nb NOOP\r\n"),
        IdleEnd::Done { consumed: 5 }
    );
    assert_eq!(p.idle_end(b"a NOOP\r\n"), IdleEnd::Other { consumed: 8 });
    assert_eq!(p.idle_end(b"DONE now\r\n"), IdleEnd::Other { consumed: 10 });
    let small = Parser::new(Limits {
        max_line: 10,
        ..Limits::default()
    });
    assert_eq!(small.idle_end(&[b'x'; 11]), IdleEnd::TooLong);
    assert_eq!(small.idle_end(&[b'x'; 10]), IdleEnd::Incomplete);
}
