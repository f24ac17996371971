use super::*;

fn creds(user: &str, password: &[u8]) -> SaslStep {
    SaslStep::Verify(Credentials {
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
    assert_eq!(Mechanism::from_name("SCRAM-SHA-256"), None);
    assert_eq!(Mechanism::from_name(""), None);
    for m in Mechanism::ALL {
        assert_eq!(Mechanism::from_name(m.name()), Some(m));
    }
}

#[test]
fn plain_with_initial_response() {
    let mut ex = Exchange::new(Mechanism::Plain);
    assert_eq!(ex.step(Some(b"\0alice\0secret")), creds("alice", b"secret"));
    // Over: another step fails.
    assert_eq!(
        ex.step(Some(b"\0alice\0secret")),
        SaslStep::Fail(SaslError::Finished)
    );
}

#[test]
fn plain_without_initial_response_sends_empty_challenge() {
    let mut ex = Exchange::new(Mechanism::Plain);
    assert_eq!(ex.step(None), SaslStep::Challenge(Vec::new()));
    assert_eq!(ex.step(Some(b"\0alice\0secret")), creds("alice", b"secret"));
}

#[test]
fn plain_authzid_must_be_empty_or_equal() {
    let mut ex = Exchange::new(Mechanism::Plain);
    assert_eq!(ex.step(Some(b"alice\0alice\0pw")), creds("alice", b"pw"));
    let mut ex = Exchange::new(Mechanism::Plain);
    assert_eq!(
        ex.step(Some(b"admin\0alice\0pw")),
        SaslStep::Fail(SaslError::AuthzidMismatch)
    );
}

#[test]
fn plain_keeps_password_bytes_unnormalised() {
    let mut ex = Exchange::new(Mechanism::Plain);
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
        let mut ex = Exchange::new(Mechanism::Plain);
        let step = ex.step(Some(bad));
        assert!(is_malformed(&step), "{bad:?} gave {step:?}");
    }
    // An empty answer to the empty challenge is malformed too.
    let mut ex = Exchange::new(Mechanism::Plain);
    ex.step(None);
    assert!(is_malformed(&ex.step(None)));
}

#[test]
fn login_two_steps() {
    let mut ex = Exchange::new(Mechanism::Login);
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
    let mut ex = Exchange::new(Mechanism::Login);
    assert_eq!(
        ex.step(Some(b"alice")),
        SaslStep::Challenge(b"Password:".to_vec())
    );
    assert_eq!(ex.step(Some(b"secret")), creds("alice", b"secret"));
    // An empty initial response counts as none.
    let mut ex = Exchange::new(Mechanism::Login);
    assert_eq!(
        ex.step(Some(b"")),
        SaslStep::Challenge(b"Username:".to_vec())
    );
}

#[test]
fn login_malformed_user_names() {
    for bad in [&b""[..], b"a\0b", b"\xff"] {
        let mut ex = Exchange::new(Mechanism::Login);
        ex.step(None);
        let step = ex.step(Some(bad));
        assert!(is_malformed(&step), "{bad:?} gave {step:?}");
    }
}

#[test]
fn credentials_debug_hides_password() {
    let c = Credentials {
        authcid: "alice".to_owned(),
        password: b"hunter2".to_vec(),
    };
    assert!(!format!("{c:?}").contains("hunter2"));
}
