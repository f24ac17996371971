use super::*;

fn p(line: &str) -> Result<Command, ParseError> {
    parse(line.as_bytes())
}

#[test]
fn parses_the_lmtp_commands() {
    assert_eq!(
        p("LHLO mx.example.org\r\n"),
        Ok(Command::Lhlo {
            host: "mx.example.org".into()
        })
    );
    assert_eq!(
        p("mail from:<a@b.example> SIZE=1234 BODY=8BITMIME SMTPUTF8\r\n"),
        Ok(Command::Mail {
            from: "a@b.example".into(),
            size: 1234,
            body: Body::EightBitMime,
            smtputf8: true,
        })
    );
    assert_eq!(
        p("MAIL FROM:<>\r\n"),
        Ok(Command::Mail {
            from: String::new(),
            size: 0,
            body: Body::SevenBit,
            smtputf8: false,
        })
    );
    assert_eq!(
        p("RCPT TO:<alice+lists@example.org>\r\n"),
        Ok(Command::Rcpt {
            to: "alice+lists@example.org".into()
        })
    );
    assert_eq!(
        p("RCPT TO:<bob+work>\r\n"),
        Ok(Command::Rcpt {
            to: "bob+work".into()
        })
    );
    // A bare local part takes the parameters an address with a domain
    // takes (DSN's, which the parser knows, are accepted and ignored).
    assert_eq!(
        p("RCPT TO:<bob> NOTIFY=NEVER\r\n"),
        Ok(Command::Rcpt { to: "bob".into() })
    );
    // An address literal is a domain (RFC 5321 §4.1.3); it was refused as
    // bad syntax (501) where Dovecot answers that no such user exists.
    for (line, to) in [
        ("RCPT TO:<bob@[192.0.2.1]>\r\n", "bob@[192.0.2.1]"),
        (
            "RCPT TO:<bob@[IPv6:2001:db8::1]> NOTIFY=NEVER\r\n",
            "bob@[IPv6:2001:db8::1]",
        ),
        ("RCPT TO:<bob@[ipv6:::1]>\r\n", "bob@[ipv6:::1]"),
    ] {
        assert_eq!(p(line), Ok(Command::Rcpt { to: to.into() }), "{line}");
    }
    // And so of a sender, with its parameters read as usual.
    assert_eq!(
        p("MAIL FROM:<amy@[192.0.2.7]> SIZE=100 BODY=8BITMIME\r\n"),
        Ok(Command::Mail {
            from: "amy@[192.0.2.7]".into(),
            size: 100,
            body: Body::EightBitMime,
            smtputf8: false,
        })
    );
    assert!(matches!(
        p("MAIL FROM:<amy@[192.0.2.777]>\r\n"),
        Err(ParseError::BadSender)
    ));
    assert!(matches!(
        p("MAIL FROM:<amy@[192.0.2.7]> FOO=1\r\n"),
        Err(ParseError::UnsupportedParameter(_))
    ));
    // `<Postmaster>` (RFC 5321 §4.5.1) is not the null path.
    assert_eq!(
        p("RCPT TO:<Postmaster>\r\n"),
        Ok(Command::Rcpt {
            to: "Postmaster".into()
        })
    );
    assert_eq!(
        p("MAIL FROM:<POSTMASTER>\r\n"),
        Ok(Command::Mail {
            from: "postmaster".into(),
            size: 0,
            body: Body::SevenBit,
            smtputf8: false,
        })
    );
    assert_eq!(p("DATA\r\n"), Ok(Command::Data));
    assert_eq!(
        p("BDAT 100 LAST\r\n"),
        Ok(Command::Bdat {
            size: 100,
            last: true
        })
    );
    assert_eq!(
        p("BDAT 7\r\n"),
        Ok(Command::Bdat {
            size: 7,
            last: false
        })
    );
    assert_eq!(p("RSET\r\n"), Ok(Command::Rset));
    assert_eq!(p("NOOP hello\r\n"), Ok(Command::Noop));
    assert_eq!(p("QUIT\r\n"), Ok(Command::Quit));
    assert_eq!(p("EHLO x\r\n"), Ok(Command::NotImplemented("EHLO")));
}

#[test]
fn refuses_bad_lines_with_a_typed_error() {
    assert_eq!(p("FOO\r\n"), Err(ParseError::Unknown));
    // A chunk size no u64 holds is refused, not read as a smaller number
    // (the session would wait for bytes that never come).
    assert_eq!(
        p("BDAT 99999999999999999999999999 LAST\r\n"),
        Err(ParseError::BadParameter("chunk size"))
    );
    assert_eq!(
        p("BDAT 12345678901234567890\r\n"),
        Ok(Command::Bdat {
            size: 12_345_678_901_234_567_890,
            last: false
        })
    );
    assert_eq!(p("DATA\n"), Err(ParseError::BadLineEnd));
    assert_eq!(p("NOOP a\nb\r\n"), Err(ParseError::BadLineEnd));
    let long = format!("NOOP {}\r\n", "x".repeat(MAX_COMMAND_LINE));
    assert_eq!(p(&long), Err(ParseError::TooLong));
    assert!(matches!(p("RCPT TO:<>\r\n"), Err(ParseError::BadRecipient)));
    assert!(matches!(
        p("RCPT TO:<a b>\r\n"),
        Err(ParseError::BadRecipient)
    ));
    assert!(matches!(
        p("RCPT TO:<a..b>\r\n"),
        Err(ParseError::BadRecipient)
    ));
    assert!(matches!(p("RCPT alice\r\n"), Err(ParseError::Syntax(_))));
    for bad_literal in ["<a@[1.2.3]>", "<a@[IPv6:zz]>", "<a@[x]>", "<a b@[1.2.3.4]>"] {
        let line = format!("RCPT TO:{bad_literal}\r\n");
        assert!(
            matches!(p(&line), Err(ParseError::BadRecipient)),
            "{line}: {:?}",
            p(&line)
        );
    }
    // An unknown parameter is the same refusal with or without a domain.
    for rcpt in [
        "RCPT TO:<bob> FOO=BAR\r\n",
        "RCPT TO:<bob@example.org> FOO=BAR\r\n",
    ] {
        assert!(
            matches!(p(rcpt), Err(ParseError::UnsupportedParameter(_))),
            "{rcpt}: {:?}",
            p(rcpt)
        );
    }
    assert!(matches!(
        p("RCPT TO:<a b> FOO=BAR\r\n"),
        Err(ParseError::BadRecipient)
    ));
    assert!(matches!(
        p("MAIL FROM:<a@b> BODY=BINARYMIME\r\n"),
        Err(ParseError::UnsupportedParameter(_))
    ));
    assert!(p("MAIL FROM:<a@b> SIZE=x\r\n").is_err());
    assert!(p("\r\n").is_err());
}

#[test]
fn never_panics_on_any_prefix_of_a_valid_session() {
    let session = b"LHLO x\r\nMAIL FROM:<\"q u\"@b> SIZE=9\r\nRCPT TO:<c@d>\r\nBDAT 3 LAST\r\n";
    for end in 0..=session.len() {
        let _ = parse(&session[..end]);
    }
}
