//! Known-answer vectors computed outside this crate: SHA-crypt and bcrypt by
//! glibc/libxcrypt (`perl -e 'print crypt(...)'`) and `openssl passwd`,
//! SHA512/SSHA512 by Python's hashlib, Argon2 from the reference
//! implementation's test vectors (password "password", salt "somesalt"),
//! SCRAM by Dovecot 2.3.19's `doveadm pw -s SCRAM-SHA-…` and, for the
//! RFC 5802/7677 example salts, by Python's hashlib (accepted by
//! `doveadm pw -t`).

use super::*;

fn ok(stored: &str, password: &str) -> bool {
    verify_password(stored, password.as_bytes()).unwrap()
}

fn check_pair(stored: &str, right: &str) {
    assert!(ok(stored, right), "right password refused for {stored}");
    assert!(!ok(stored, "wrong"), "wrong password accepted for {stored}");
    assert!(!ok(stored, ""), "empty password accepted for {stored}");
}

#[test]
fn plain_and_aliases() {
    for scheme in ["PLAIN", "CLEAR", "CLEARTEXT", "plain"] {
        check_pair(&format!("{{{scheme}}}s3cret"), "s3cret");
    }
    assert!(!ok("{PLAIN}s3cret", "s3cret "));
    assert!(!ok("{PLAIN}s3cret", "s3cre"));
}

#[test]
fn sha512_known_answer() {
    check_pair(
        "{SHA512}vSsar3708Jvp9Szi2NWZZ02Bqp1qRCFpbcTZPdBhnWgs5WtNZKnvCXdhztmeD2cmW192CF5bDufKRpayrW/isg==",
        "secret",
    );
    check_pair(
        "{SHA512.HEX}bd2b1aaf7ef4f09be9f52ce2d8d599674d81aa9d6a4421696dc4d93dd0619d682ce56b4d64a9ef097761ced99e0f67265b5f76085e5b0ee7ca4696b2ad6fe2b2",
        "secret",
    );
}

#[test]
fn ssha512_known_answer() {
    // salt = 01 02 "saltsalt"
    check_pair(
        "{SSHA512}0bgFwzAtySI37a6ACSobdoQz8dmMD+etKnLhHse87nL2tAUbbL88pAxo435kNL8lt4aRCrQ3r3Jo9TVKqKtcKQECc2FsdHNhbHQ=",
        "secret",
    );
}

#[test]
fn sha512_crypt_known_answers() {
    check_pair(
        "{SHA512-CRYPT}$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1",
        "Hello world!",
    );
    // Explicit rounds, and a salt longer than 16 characters (cut at 16).
    check_pair(
        "{SHA512-CRYPT}$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.",
        "Hello world!",
    );
    // Without {SCHEME}, and as {CRYPT}: recognised by the $6$ prefix.
    check_pair(
        "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1",
        "Hello world!",
    );
    check_pair(
        "{CRYPT}$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1",
        "Hello world!",
    );
}

#[test]
fn sha256_crypt_known_answers() {
    check_pair(
        "{SHA256-CRYPT}$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5",
        "Hello world!",
    );
    check_pair(
        "{SHA256-CRYPT}$5$saltstring$C3o4O1TC6aRHF4FI.QSZMXtHbaj2gSXr4sUc/3NcUi.",
        "secret",
    );
    check_pair(
        "{SHA256-CRYPT}$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA",
        "Hello world!",
    );
}

#[test]
fn blf_crypt_known_answers() {
    for prefix in ["$2y$", "$2b$", "$2a$"] {
        check_pair(
            &format!(
                "{{BLF-CRYPT}}{prefix}05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"
            ),
            "U*U",
        );
    }
}

#[test]
fn blf_crypt_round_trip() {
    let hash = bcrypt::hash("pässword", 4).unwrap();
    check_pair(&format!("{{BLF-CRYPT}}{hash}"), "pässword");
}

#[test]
fn argon2_known_answers() {
    check_pair(
        "{ARGON2ID}$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
        "password",
    );
    check_pair(
        "{ARGON2I}$argon2i$v=19$m=256,t=2,p=1$c29tZXNhbHQ$iekCn0Y3spW+sCcFanM2xBT63UP2sghkUoHLIUpWRS8",
        "password",
    );
}

#[test]
fn hash_password_round_trips_as_argon2id() {
    let stored = hash_password("correct horse").unwrap();
    assert!(
        stored.starts_with("{ARGON2ID}$argon2id$v=19$m="),
        "{stored}"
    );
    check_pair(&stored, "correct horse");
    // Fresh salt each time.
    assert_ne!(stored, hash_password("correct horse").unwrap());
}

#[test]
fn sha_crypt_round_trip_with_crate() {
    let params = sha_crypt::Sha512Params::new(5000).unwrap();
    let hash = sha_crypt::sha512_simple("pw", &params).unwrap();
    check_pair(&format!("{{SHA512-CRYPT}}{hash}"), "pw");
}

#[test]
fn unknown_schemes_fail_closed() {
    for stored in [
        "{MD5}abc",
        "{NOSUCH}x",
        "plaintext",
        "{PLAIN",
        "{SHA512.ROT13}x",
        "$1$salt$hash",
        "",
    ] {
        let result = verify_password(stored, b"plaintext");
        assert!(
            matches!(result, Err(SchemeError::Unknown(_))),
            "{stored:?} gave {result:?}"
        );
    }
}

#[test]
fn malformed_hashes_are_errors_not_matches() {
    for stored in [
        "{SHA512}!!notbase64",
        "{SHA512}c2hvcnQ=",
        "{SSHA512}vSsar3708Jvp9Szi2NWZZ02Bqp1qRCFpbcTZPdBhnWgs5WtNZKnvCXdhztmeD2cmW192CF5bDufKRpayrW/isg==",
        "{SHA512-CRYPT}$6$onlysalt",
        "{SHA512-CRYPT}$6$rounds=x$salt$hash",
        "{BLF-CRYPT}$2y$05$short",
        "{ARGON2ID}$argon2id$garbage",
        "{ARGON2ID}$pbkdf2-sha256$i=1000$c2FsdA$aGFzaA",
    ] {
        let result = verify_password(stored, b"x");
        assert!(
            matches!(result, Err(SchemeError::Malformed { .. })),
            "{stored:?} gave {result:?}"
        );
    }
}

/// `doveadm pw -s SCRAM-SHA-256 -p pencil`.
const DOVEADM_SCRAM_SHA256: &str = "{SCRAM-SHA-256}4096,YLsIdtr6heZ489wv6yybFQ==,\
    2JNoVKQ+OQRgVEcQwbbseDiP8oPdvb7/2Xii9c78+jQ=,hRHj4GzBj3/vqH/4gHNZiBl3yLfFGGmUFbfPhY2dvvs=";

/// `doveadm pw -s SCRAM-SHA-1 -p pencil`.
const DOVEADM_SCRAM_SHA1: &str = "{SCRAM-SHA-1}4096,tXKUBrODeIcQwbztzM7+AQ==,\
    NG930YZxARY0ACPqrgErPPR6SR4=,K28v8JM1sjt8L6+/kgLoLmuu6lA=";

#[test]
fn scram_records_check_plaintext_passwords() {
    check_pair(DOVEADM_SCRAM_SHA256, "pencil");
    check_pair(DOVEADM_SCRAM_SHA1, "pencil");
    // `doveadm pw -s SCRAM-SHA-256 -p 'Tr0ub4dor&3'`, scheme in lower case.
    check_pair(
        "{scram-sha-256}4096,7LjXtC8CJqCbLjAe/R9mZw==,\
         F/bDVNM6tD4bdFwJq0u5TIRdb4490lIps3Y/bETgM/g=,0Sj2FnB3tTCWrfrm9ugsanYr+JIz6tCy9j3YHFfeo1k=",
        "Tr0ub4dor&3",
    );
    // RFC 7677's example salt, keys for "pencil".
    check_pair(
        "{SCRAM-SHA-256}4096,W22ZaJ0SNY7soEsUEjb6gQ==,\
         WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
        "pencil",
    );
}

#[test]
fn malformed_scram_records_are_errors_not_matches() {
    let sha1_keys = DOVEADM_SCRAM_SHA1.strip_prefix("{SCRAM-SHA-1}").unwrap();
    for stored in [
        "{SCRAM-SHA-256}4096,c2FsdA==".to_owned(),
        "{SCRAM-SHA-256}1000,c2FsdA==,x,y".to_owned(),
        // SHA-1 keys are too short for SHA-256.
        format!("{{SCRAM-SHA-256}}{sha1_keys}"),
        format!("{{SCRAM-SHA-1.HEX}}{sha1_keys}"),
    ] {
        let result = verify_password(&stored, b"pencil");
        assert!(
            matches!(result, Err(SchemeError::Malformed { .. })),
            "{stored:?} gave {result:?}"
        );
    }
}

#[test]
fn scram_source_tells_which_records_serve_which_hash() {
    use crate::scram::ScramHash::{Sha1, Sha256};
    let kind = |stored: &str, hash| match scram_source(stored, hash) {
        ScramSource::Keys(keys) => format!("keys {}", keys.hash.name()),
        ScramSource::Plaintext(p) => format!("plaintext {}", String::from_utf8(p).unwrap()),
        ScramSource::Unusable => "unusable".to_owned(),
        ScramSource::Invalid(_) => "invalid".to_owned(),
    };
    assert_eq!(kind(DOVEADM_SCRAM_SHA256, Sha256), "keys SCRAM-SHA-256");
    assert_eq!(kind(DOVEADM_SCRAM_SHA256, Sha1), "unusable");
    assert_eq!(kind(DOVEADM_SCRAM_SHA1, Sha1), "keys SCRAM-SHA-1");
    assert_eq!(kind(DOVEADM_SCRAM_SHA1, Sha256), "unusable");
    assert_eq!(kind("{PLAIN}s3cret", Sha1), "plaintext s3cret");
    assert_eq!(kind("{CLEARTEXT}s3cret", Sha256), "plaintext s3cret");
    let argon = "{ARGON2ID}$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4";
    assert_eq!(kind(argon, Sha256), "unusable");
    assert_eq!(kind("$6$salt$hash", Sha256), "unusable");
    assert_eq!(kind("{NOSUCH}x", Sha256), "invalid");
    assert_eq!(kind("", Sha256), "invalid");
    assert_eq!(kind("{SCRAM-SHA-256}4096,c2FsdA==", Sha256), "invalid");
}

#[test]
fn every_password_scheme_stores_a_record_that_checks() {
    for scheme in PasswordScheme::ALL {
        let stored = scheme.hash("correct horse 7").unwrap();
        assert!(
            stored.starts_with(&format!("{{{}}}", scheme.name())),
            "{stored}"
        );
        assert!(ok(&stored, "correct horse 7"), "{stored}");
        assert!(!ok(&stored, "correct horse 8"), "{stored}");
        match scheme {
            // Dovecot writes bcrypt as $2y$, at cost 12 here.
            PasswordScheme::BlfCrypt => assert!(stored.starts_with("{BLF-CRYPT}$2y$12$")),
            PasswordScheme::ScramSha256 => {
                assert!(stored.starts_with("{SCRAM-SHA-256}4096,"))
            }
            PasswordScheme::Plain => assert_eq!(stored, "{PLAIN}correct horse 7"),
            // A fresh salt each time (bcrypt and argon2 are checked by
            // their crates; they are too slow to hash twice here).
            PasswordScheme::ScramSha1
            | PasswordScheme::Sha512Crypt
            | PasswordScheme::Sha256Crypt
            | PasswordScheme::Ssha512 => {
                assert_ne!(stored, scheme.hash("correct horse 7").unwrap())
            }
            PasswordScheme::Argon2id | PasswordScheme::Argon2i => {}
        }
    }
}

#[test]
fn plain_scheme_refuses_passwords_that_would_break_the_line() {
    for password in ["a:b", "a\nb", "tab\there"] {
        let result = PasswordScheme::Plain.hash(password);
        assert!(
            matches!(
                result,
                Err(AuthError::BadField {
                    field: "password",
                    ..
                })
            ),
            "{password:?} gave {result:?}"
        );
    }
}

#[test]
fn scheme_names_parse_in_any_case_and_unknown_ones_list_the_choices() {
    assert_eq!("scram-sha-256".parse(), Ok(PasswordScheme::ScramSha256));
    assert_eq!("SCRAM-SHA-1".parse(), Ok(PasswordScheme::ScramSha1));
    assert_eq!("Sha512-Crypt".parse(), Ok(PasswordScheme::Sha512Crypt));
    assert_eq!("CLEAR".parse(), Ok(PasswordScheme::Plain));
    assert_eq!(PasswordScheme::default(), PasswordScheme::Argon2id);
    for scheme in PasswordScheme::ALL {
        assert_eq!(scheme.name().parse(), Ok(scheme));
        assert!(CHOICES.contains(scheme.name()), "{CHOICES}");
    }
    // SHA512 can be read, but no one should store new unsalted hashes.
    for name in ["SHA512", "MD5", "nonsense", ""] {
        let error = name.parse::<PasswordScheme>().unwrap_err();
        assert_eq!(error, SchemeError::NotForNewPasswords(name.to_owned()));
        let text = error.to_string();
        assert!(
            text.contains("SCRAM-SHA-256") && text.contains("ARGON2ID"),
            "{text}"
        );
    }
}
