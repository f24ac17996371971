//! The SCRAM message grammar: RFC 5802's examples parse, everything else
//! is an error (never a panic), including every prefix of a valid message.

use super::*;

const RFC_FIRST: &str = "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL";
const RFC_FINAL: &str = "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,\
    p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=";

#[test]
fn rfc_client_first_parses() {
    let first = parse_client_first(RFC_FIRST.as_bytes()).unwrap();
    assert_eq!(
        first,
        ClientFirst {
            gs2_header: "n,,".to_owned(),
            cbind: CbindFlag::NotSupported,
            authzid: None,
            username: "user".to_owned(),
            nonce: "fyko+d2lbbFgONRv9qkxdawL".to_owned(),
            bare: "n=user,r=fyko+d2lbbFgONRv9qkxdawL".to_owned(),
        }
    );
}

#[test]
fn escaped_names_binding_flags_and_extensions() {
    let first = parse_client_first(b"y,a=al=2Cice=3D,n=al=2Cice=3D,r=abc,x=ignored").unwrap();
    assert_eq!(first.gs2_header, "y,a=al=2Cice=3D,");
    assert_eq!(first.cbind, CbindFlag::ClientOnly);
    assert_eq!(first.authzid.as_deref(), Some("al,ice="));
    assert_eq!(first.username, "al,ice=");
    assert_eq!(first.bare, "n=al=2Cice=3D,r=abc,x=ignored");

    let first = parse_client_first(b"p=tls-exporter,,n=bob,r=xyz").unwrap();
    assert_eq!(first.cbind, CbindFlag::Used("tls-exporter".to_owned()));
    assert_eq!(first.gs2_header, "p=tls-exporter,,");
}

#[test]
fn malformed_client_first_messages_are_errors() {
    let cases: &[&[u8]] = &[
        b"",
        b"n",
        b"n,",
        b"n,,",
        b"n,,n",
        b"n,,n=",
        b"n,,n=user",
        b"n,,n=user,r=",
        b"n,,n=user,x=abc",
        b"n,,r=abc,n=user",
        b"n,,m=ext,n=user,r=abc",
        b"q,,n=user,r=abc",
        b"p=,,n=user,r=abc",
        b"p=tls_unique,,n=user,r=abc",
        b"n,b=x,n=user,r=abc",
        b"n,a,n=user,r=abc",
        b"n,a=,n=user,r=abc",
        b"n,,n=us=2Der,r=abc",
        b"n,,n=user=2,r=abc",
        b"n,,n=user=,r=abc",
        b"n,,n=user,r=a b",
        b"n,,n=a\0b,r=abc",
        b"n,,n=\xff,r=abc",
    ];
    for case in cases {
        assert!(
            parse_client_first(case).is_err(),
            "{:?} parsed",
            String::from_utf8_lossy(case)
        );
    }
}

#[test]
fn rfc_client_final_parses() {
    let last = parse_client_final(RFC_FINAL.as_bytes()).unwrap();
    assert_eq!(last.channel_binding, b"n,,");
    assert_eq!(last.nonce, "fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j");
    assert_eq!(
        last.without_proof,
        "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j"
    );
    assert_eq!(last.proof.len(), 20);

    // An extension stays in the part the proof covers.
    let last = parse_client_final(b"c=biws,r=abc,x=1,p=AAAA").unwrap();
    assert_eq!(last.without_proof, "c=biws,r=abc,x=1");
    assert_eq!(last.proof, [0, 0, 0]);
}

#[test]
fn malformed_client_final_messages_are_errors() {
    let cases: &[&[u8]] = &[
        b"",
        b"c=biws",
        b"c=biws,r=abc",
        b"c=biws,r=abc,p=",
        b"c=biws,r=abc,p=!!",
        b"c=biws,p=AAAA,r=abc",
        b"r=abc,c=biws,p=AAAA",
        b"c=bi*s,r=abc,p=AAAA",
        b"c=biws,r=,p=AAAA",
        b"c=biws,r=abc\xff,p=AAAA",
    ];
    for case in cases {
        assert!(
            parse_client_final(case).is_err(),
            "{:?} parsed",
            String::from_utf8_lossy(case)
        );
    }
}

#[test]
fn every_prefix_of_a_valid_message_is_handled_without_panic() {
    let first = "p=tls-exporter,a=us=2Cer,n=us=2Cer,r=fyko+d2lbbFgONRv9qkxdawL,x=1";
    for end in 0..first.len() {
        let _ = parse_client_first(&first.as_bytes()[..end]);
    }
    for end in 0..RFC_FINAL.len() {
        let _ = parse_client_final(&RFC_FINAL.as_bytes()[..end]);
    }
    assert!(parse_client_first(first.as_bytes()).is_ok());
}
