//! Stored SCRAM keys against records computed outside this crate: the
//! RFC 5802 / RFC 7677 example salts with password "pencil" (keys computed
//! with Python's hashlib and hmac, and accepted by `doveadm pw -t`), and
//! records made by Dovecot 2.3.19's `doveadm pw -s SCRAM-SHA-…`.

use super::*;

/// RFC 5802 §5's salt and iteration count, keys for "pencil".
const RFC5802_RECORD: &str = "{SCRAM-SHA-1}4096,QSXCR+Q6sek8bf92,\
    6dlGYMOdZcOPutkcNY8U2g7vK9Y=,D+CSWLOshSulAsxiupA+qs2/fTE=";

/// RFC 7677 §3's salt and iteration count, keys for "pencil".
const RFC7677_RECORD: &str = "{SCRAM-SHA-256}4096,W22ZaJ0SNY7soEsUEjb6gQ==,\
    WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=";

/// `doveadm pw -s SCRAM-SHA-256 -p pencil`.
const DOVEADM_SHA256: &str = "4096,YLsIdtr6heZ489wv6yybFQ==,\
    2JNoVKQ+OQRgVEcQwbbseDiP8oPdvb7/2Xii9c78+jQ=,hRHj4GzBj3/vqH/4gHNZiBl3yLfFGGmUFbfPhY2dvvs=";

/// `doveadm pw -s SCRAM-SHA-1 -p pencil`.
const DOVEADM_SHA1: &str =
    "4096,tXKUBrODeIcQwbztzM7+AQ==,NG930YZxARY0ACPqrgErPPR6SR4=,K28v8JM1sjt8L6+/kgLoLmuu6lA=";

#[test]
fn derived_keys_match_the_rfc_example_records() {
    let salt = STANDARD.decode("QSXCR+Q6sek8bf92").unwrap();
    let keys = ScramKeys::derive(ScramHash::Sha1, b"pencil", &salt, 4096);
    assert_eq!(keys.to_record(), RFC5802_RECORD);

    let salt = STANDARD.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
    let keys = ScramKeys::derive(ScramHash::Sha256, b"pencil", &salt, 4096);
    assert_eq!(keys.to_record(), RFC7677_RECORD);
}

#[test]
fn doveadm_records_check_their_password() {
    for (hash, text) in [
        (ScramHash::Sha256, DOVEADM_SHA256),
        (ScramHash::Sha1, DOVEADM_SHA1),
    ] {
        let keys = ScramKeys::parse(hash, text).unwrap();
        assert_eq!(keys.iterations, 4096);
        assert!(keys.matches_password(b"pencil"), "{hash:?}");
        assert!(!keys.matches_password(b"pencil "), "{hash:?}");
        assert!(!keys.matches_password(b""), "{hash:?}");
        // Written back exactly as read.
        assert_eq!(keys.to_record(), format!("{{{}}}{text}", hash.name()));
    }
}

#[test]
fn generated_records_have_a_fresh_salt_and_check_their_password() {
    let a = ScramKeys::generate(ScramHash::Sha256, "pâss wörd".as_bytes());
    let b = ScramKeys::generate(ScramHash::Sha256, "pâss wörd".as_bytes());
    assert_ne!(a.salt_b64, b.salt_b64);
    assert_eq!(STANDARD.decode(&a.salt_b64).unwrap().len(), SALT_LEN);
    assert_eq!(a.iterations, DEFAULT_ITERATIONS);
    let record = a.to_record();
    let text = record.strip_prefix("{SCRAM-SHA-256}").unwrap();
    let parsed = ScramKeys::parse(ScramHash::Sha256, text).unwrap();
    assert_eq!(parsed, a);
    assert!(parsed.matches_password("pâss wörd".as_bytes()));
    assert!(!parsed.matches_password(b"pass word"));
}

#[test]
fn malformed_records_are_refused_with_a_reason() {
    let sha256_key = "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=";
    let sha1_key = "6dlGYMOdZcOPutkcNY8U2g7vK9Y=";
    let cases = [
        ("4096,c2FsdA==", "found 2 fields"),
        (
            &format!("4096,c2FsdA==,{sha256_key},{sha256_key},x"),
            "found 5 fields",
        ),
        (
            &format!("4095,c2FsdA==,{sha256_key},{sha256_key}"),
            "iteration count",
        ),
        (
            &format!("many,c2FsdA==,{sha256_key},{sha256_key}"),
            "iteration count",
        ),
        (
            &format!("4096,not*base64,{sha256_key},{sha256_key}"),
            "salt is not base64",
        ),
        (
            &format!("4096,c2FsdA==,{sha1_key},{sha256_key}"),
            "StoredKey has 20 bytes, SCRAM-SHA-256 needs 32",
        ),
        (
            &format!("4096,c2FsdA==,{sha256_key},###"),
            "ServerKey is not base64",
        ),
    ];
    for (text, want) in cases {
        let error = ScramKeys::parse(ScramHash::Sha256, text).unwrap_err();
        assert!(error.contains(want), "{text}: {error}");
    }
}

#[test]
fn debug_output_never_shows_keys_or_salt() {
    let keys = ScramKeys::parse(ScramHash::Sha256, DOVEADM_SHA256).unwrap();
    let shown = format!("{keys:?}");
    assert!(!shown.contains("YLsIdtr6"), "{shown}");
    assert!(!shown.contains("2JNoVKQ"), "{shown}");
    assert!(shown.contains("4096"), "{shown}");
}
