use proptest::prelude::*;

use super::*;

#[test]
fn postfix_handshake_and_auth_lines_parse() {
    assert_eq!(
        parse(b"VERSION\t1\t0\n"),
        Ok(ClientLine::Version { major: 1, minor: 0 })
    );
    assert_eq!(parse(b"CPID\t4242\n"), Ok(ClientLine::Cpid(4242)));
    // What Postfix's xsasl_dovecot_server.c sends for AUTH PLAIN with an
    // initial response over TLS.
    let line = b"AUTH\t7\tplain\tservice=smtp\tnologin\tlip=127.0.0.1\trip=192.0.2.5\tsecured\tresp=AGFsaWNlAHNlY3JldA==\n";
    assert_eq!(
        parse(line),
        Ok(ClientLine::Auth(AuthRequest {
            id: 7,
            mechanism: "PLAIN".into(),
            service: "smtp".into(),
            remote_ip: Some("192.0.2.5".into()),
            secured: true,
            initial: Some(b"\0alice\0secret".to_vec()),
        }))
    );
    // LOGIN without an initial response; `resp=` empty is an empty one.
    match parse(b"AUTH\t8\tLOGIN\tservice=smtp\n") {
        Ok(ClientLine::Auth(a)) => {
            assert_eq!(a.initial, None);
            assert!(!a.secured);
            assert_eq!(a.remote_ip, None);
        }
        other => panic!("{other:?}"),
    }
    match parse(b"AUTH\t9\tPLAIN\tservice=smtp\tresp=\n") {
        Ok(ClientLine::Auth(a)) => assert_eq!(a.initial, Some(Vec::new())),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        parse(b"CONT\t8\tYWxpY2U=\r\n"),
        Ok(ClientLine::Cont {
            id: 8,
            data: b"alice".to_vec()
        })
    );
    assert_eq!(parse(b"CANCEL\t8"), Ok(ClientLine::Cancel(8)));
}

#[test]
fn bad_lines_are_refused_with_what_was_wrong() {
    assert_eq!(
        parse(b"HELO\tx\n"),
        Err(ParseError::UnknownCommand("HELO".into()))
    );
    assert_eq!(parse(b"\n"), Err(ParseError::UnknownCommand(String::new())));
    assert_eq!(
        parse(b"VERSION\tone\t2\n"),
        Err(ParseError::Malformed("VERSION"))
    );
    assert_eq!(
        parse(b"AUTH\tx\tPLAIN\n"),
        Err(ParseError::Malformed("AUTH"))
    );
    assert_eq!(parse(b"AUTH\t3\n"), Err(ParseError::Malformed("AUTH")));
    assert_eq!(parse(b"AUTH\t3\t\n"), Err(ParseError::Malformed("AUTH")));
    assert_eq!(parse(b"CONT\t3\n"), Err(ParseError::Malformed("CONT")));
    assert_eq!(parse(b"CPID\t-1\n"), Err(ParseError::Malformed("CPID")));
    assert_eq!(parse(b"AUTH\t\xff\n"), Err(ParseError::NotUtf8));
    // Bad base64 belongs to its request: answered with FAIL, not a hang-up.
    let bad = parse(b"AUTH\t4\tPLAIN\tresp=!!!\n").unwrap_err();
    assert_eq!(bad, ParseError::BadBase64(4));
    assert_eq!(bad.request(), Some(4));
    assert_eq!(parse(b"CONT\t5\t***\n").unwrap_err().request(), Some(5));
    assert_eq!(ParseError::Malformed("AUTH").request(), None);
}

#[test]
fn handshake_announces_version_mechanisms_and_ids() {
    assert_eq!(
        handshake(&["PLAIN", "LOGIN"], 77, 3),
        "VERSION\t1\t2\nMECH\tPLAIN\tplaintext\nMECH\tLOGIN\tplaintext\nSPID\t77\nCUID\t3\nDONE\n"
    );
}

#[test]
fn replies_encode_as_dovecot_writes_them() {
    assert_eq!(
        Reply::Cont {
            id: 2,
            challenge: b"Username:".to_vec()
        }
        .encode(),
        "CONT\t2\tVXNlcm5hbWU6\n"
    );
    assert_eq!(
        Reply::Ok {
            id: 2,
            user: "alice".into()
        }
        .encode(),
        "OK\t2\tuser=alice\n"
    );
    assert_eq!(
        Reply::Fail {
            id: 2,
            temporary: true,
            reason: "try\tlater".into()
        }
        .encode(),
        "FAIL\t2\ttemp\treason=try\x01tlater\n"
    );
    assert_eq!(
        Reply::Fail {
            id: 2,
            temporary: false,
            reason: "Authentication failed".into()
        }
        .encode(),
        "FAIL\t2\treason=Authentication failed\n"
    );
}

proptest! {
    /// Escaping is undone exactly, and an escaped value holds no tab or LF.
    #[test]
    fn escape_round_trips(value in "\\PC*|[\\x00-\\x20\\t\\r\\n]*") {
        let escaped = escape(&value);
        prop_assert!(!escaped.contains(['\t', '\n', '\r', '\0']));
        prop_assert_eq!(unescape(&escaped), value);
    }

    /// No line makes the parser panic.
    #[test]
    fn parse_never_panics(line in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse(&line);
    }
}
