use super::*;

fn creds(user: &str, password: &[u8]) -> SaslStep {
    SaslStep::Verify(Credentials {
        authzid: None,
        authcid: user.to_owned(),
        password: password.to_vec(),
    })
}

fn is_malformed(step: &SaslStep) -> bool {
    matches!(step, SaslStep::Fail(SaslError::Malformed { .. }))
}

#[test]
fn mechanism_names() {
    assert_eq!(Mechanism::from_name("plain"), Some(Mechanism::Plain));
    assert_eq!(Mechanism::from_name("LOGIN"), Some(Mechanism::Login));
    assert_eq!(
        Mechanism::from_name("scram-sha-256"),
        Some(Mechanism::ScramSha256)
    );
    assert_eq!(
        Mechanism::from_name("SCRAM-SHA-256-PLUS"),
        Some(Mechanism::ScramSha256Plus)
    );
    assert_eq!(Mechanism::from_name("SCRAM-SHA-1-PLUS"), None);
    assert_eq!(Mechanism::from_name("CRAM-MD5"), None);
    assert_eq!(Mechanism::from_name(""), None);
    for m in Mechanism::ALL {
        assert_eq!(Mechanism::from_name(m.name()), Some(m));
    }
}

#[test]
fn plain_with_initial_response() {
    let mut ex = Exchange::new(Mechanism::Plain, ChannelBinding::None);
    assert_eq!(ex.step(Some(b"\0alice\0secret")), creds("alice", b"secret"));
    // Over: another step fails.
    assert_eq!(
        ex.step(Some(b"\0alice\0secret")),
        SaslStep::Fail(SaslError::Finished)
    );
}

#[test]
fn plain_without_initial_response_sends_empty_challenge() {
    let mut ex = Exchange::new(Mechanism::Plain, ChannelBinding::None);
    assert_eq!(ex.step(None), SaslStep::Challenge(Vec::new()));
    assert_eq!(ex.step(Some(b"\0alice\0secret")), creds("alice", b"secret"));
}

/// An authzid equal to the authcid is no request at all; another one is
/// passed on for the passdb to allow (master users) or refuse.
#[test]
fn plain_passes_a_different_authzid_on() {
    let mut ex = Exchange::new(Mechanism::Plain, ChannelBinding::None);
    assert_eq!(ex.step(Some(b"alice\0alice\0pw")), creds("alice", b"pw"));
    let mut ex = Exchange::new(Mechanism::Plain, ChannelBinding::None);
    assert_eq!(
        ex.step(Some(b"alice\0admin\0pw")),
        SaslStep::Verify(Credentials {
            authzid: Some("alice".to_owned()),
            authcid: "admin".to_owned(),
            password: b"pw".to_vec(),
        })
    );
}

#[test]
fn plain_keeps_password_bytes_unnormalised() {
    let mut ex = Exchange::new(Mechanism::Plain, ChannelBinding::None);
    // Not UTF-8, and with spaces: passed through as is.
    assert_eq!(
        ex.step(Some(b"\0alice\0 p\xffw ")),
        creds("alice", b" p\xffw ")
    );
}

#[test]
fn plain_malformed() {
    for bad in [
        &b""[..],
        b"alice",
        b"\0alice",
        b"\0alice\0",
        b"\0\0pw",
        b"\0alice\0pw\0extra",
        b"\0al\xffice\0pw",
    ] {
        let mut ex = Exchange::new(Mechanism::Plain, ChannelBinding::None);
        let step = ex.step(Some(bad));
        assert!(is_malformed(&step), "{bad:?} gave {step:?}");
    }
    // An empty answer to the empty challenge is malformed too.
    let mut ex = Exchange::new(Mechanism::Plain, ChannelBinding::None);
    ex.step(None);
    assert!(is_malformed(&ex.step(None)));
}

#[test]
fn login_two_steps() {
    let mut ex = Exchange::new(Mechanism::Login, ChannelBinding::None);
    assert_eq!(ex.step(None), SaslStep::Challenge(b"Username:".to_vec()));
    assert_eq!(
        ex.step(Some(b"alice")),
        SaslStep::Challenge(b"Password:".to_vec())
    );
    assert_eq!(ex.step(Some(b"secret")), creds("alice", b"secret"));
    assert_eq!(ex.step(Some(b"x")), SaslStep::Fail(SaslError::Finished));
}

#[test]
fn login_initial_response_is_the_user_name() {
    let mut ex = Exchange::new(Mechanism::Login, ChannelBinding::None);
    assert_eq!(
        ex.step(Some(b"alice")),
        SaslStep::Challenge(b"Password:".to_vec())
    );
    assert_eq!(ex.step(Some(b"secret")), creds("alice", b"secret"));
    // An empty initial response counts as none.
    let mut ex = Exchange::new(Mechanism::Login, ChannelBinding::None);
    assert_eq!(
        ex.step(Some(b"")),
        SaslStep::Challenge(b"Username:".to_vec())
    );
}

#[test]
fn login_malformed_user_names() {
    for bad in [&b""[..], b"a\0b", b"\xff"] {
        let mut ex = Exchange::new(Mechanism::Login, ChannelBinding::None);
        ex.step(None);
        let step = ex.step(Some(bad));
        assert!(is_malformed(&step), "{bad:?} gave {step:?}");
    }
}

#[test]
fn credentials_debug_hides_password() {
    let c = Credentials {
        authzid: None,
        authcid: "alice".to_owned(),
        password: b"hunter2".to_vec(),
    };
    assert!(!format!("{c:?}").contains("hunter2"));
}

#[test]
fn only_scram_sha256_plus_needs_channel_binding() {
    let needing: Vec<&str> = Mechanism::ALL
        .into_iter()
        .filter(|m| m.needs_channel_binding())
        .map(Mechanism::name)
        .collect();
    assert_eq!(needing, ["SCRAM-SHA-256-PLUS"]);
    assert_eq!(Mechanism::Plain.scram_hash(), None);
    assert_eq!(Mechanism::ScramSha1.scram_hash(), Some(ScramHash::Sha1));
    assert_eq!(
        Mechanism::ScramSha256Plus.scram_hash(),
        Some(ScramHash::Sha256)
    );
}

/// A SCRAM exchange through [`Exchange`]: without an initial response the
/// server asks with an empty challenge, asks the caller for the keys, and
/// ends with the user and the server-final message.
#[test]
fn scram_exchange_asks_for_keys_and_ends_authenticated() {
    use crate::scram::ScramKeys;
    use crate::scram::server::ScramCredentials;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    let mut ex = Exchange::new(Mechanism::ScramSha1, ChannelBinding::None);
    assert_eq!(ex.step(None), SaslStep::Challenge(Vec::new()));
    assert_eq!(
        ex.step(Some(b"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL")),
        SaslStep::NeedScramCredentials {
            user: "user".to_owned(),
            authzid: None,
            hash: ScramHash::Sha1
        }
    );
    assert_eq!(ex.user(), Some("user"));
    let salt = STANDARD.decode("QSXCR+Q6sek8bf92").unwrap();
    let keys = ScramKeys::derive(ScramHash::Sha1, b"pencil", &salt, 4096);
    let SaslStep::Challenge(server_first) = ex.scram_credentials(ScramCredentials::Keys(keys))
    else {
        panic!("no server-first challenge");
    };
    let server_first = String::from_utf8(server_first).unwrap();
    assert!(server_first.starts_with("r=fyko+d2lbbFgONRv9qkxdawL"));
    assert!(server_first.ends_with(",s=QSXCR+Q6sek8bf92,i=4096"));
    // The server nonce is random, so RFC 5802's proof no longer fits.
    let rfc_final =
        b"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=";
    assert!(matches!(
        ex.step(Some(rfc_final)),
        SaslStep::Fail(SaslError::Malformed { .. })
    ));
    assert_eq!(
        ex.step(Some(rfc_final)),
        SaslStep::Fail(SaslError::Finished)
    );
}

#[test]
fn scram_with_an_empty_or_malformed_first_message_fails() {
    for first in [&b""[..], b"garbage", b"n,,n=user"] {
        let mut ex = Exchange::new(Mechanism::ScramSha256, ChannelBinding::None);
        assert!(is_malformed(&ex.step(Some(first))), "{first:?}");
    }
    // Answering the empty challenge with nothing is an empty message.
    let mut ex = Exchange::new(Mechanism::ScramSha256, ChannelBinding::None);
    assert_eq!(ex.step(None), SaslStep::Challenge(Vec::new()));
    assert!(is_malformed(&ex.step(None)));
}
