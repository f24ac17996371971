//! The server side of SCRAM: RFC 5802's and RFC 7677's example exchanges
//! byte for byte (their nonces, salts and proofs), then channel binding,
//! downgrade protection and made-up credentials with a client written here.

use super::*;

fn rfc_keys(hash: ScramHash, salt_b64: &str) -> ScramCredentials {
    let salt = STANDARD.decode(salt_b64).unwrap();
    ScramCredentials::Keys(ScramKeys::derive(hash, b"pencil", &salt, 4096))
}

#[test]
fn rfc5802_example_exchange() {
    let mut server = ScramServer::new(ScramHash::Sha1, false, None);
    let user = server
        .client_first(b"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL")
        .unwrap();
    assert_eq!(user.username, "user");
    let server_first = server
        .server_first_with_nonce(
            rfc_keys(ScramHash::Sha1, "QSXCR+Q6sek8bf92"),
            "3rfcNHYJY1ZVvWVs7j",
        )
        .unwrap();
    assert_eq!(
        server_first,
        b"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096"
    );
    let verified = server
        .client_final(
            b"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
        )
        .unwrap();
    assert_eq!(verified.names.username, "user");
    assert_eq!(verified.server_final, b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=");
}

#[test]
fn rfc7677_example_exchange() {
    let mut server = ScramServer::new(ScramHash::Sha256, false, None);
    server
        .client_first(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO")
        .unwrap();
    let server_first = server
        .server_first_with_nonce(
            rfc_keys(ScramHash::Sha256, "W22ZaJ0SNY7soEsUEjb6gQ=="),
            "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
        )
        .unwrap();
    assert_eq!(
        server_first,
        b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
    );
    let verified = server
        .client_final(
            b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
              p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        )
        .unwrap();
    assert_eq!(
        verified.server_final,
        b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
    );
}

#[test]
fn a_wrong_proof_or_nonce_is_refused() {
    let start = || {
        let mut server = ScramServer::new(ScramHash::Sha1, false, None);
        server
            .client_first(b"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL")
            .unwrap();
        server
            .server_first_with_nonce(
                rfc_keys(ScramHash::Sha1, "QSXCR+Q6sek8bf92"),
                "3rfcNHYJY1ZVvWVs7j",
            )
            .unwrap();
        server
    };
    let wrong_proof =
        b"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v1X8v3Bz2T0CJGbJQyF0X+HI4Ts=";
    assert_eq!(
        start().client_final(wrong_proof),
        Err(SaslError::WrongProof)
    );
    let other_nonce =
        b"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7k,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=";
    assert!(matches!(
        start().client_final(other_nonce),
        Err(SaslError::Malformed { .. })
    ));
    let short_proof = b"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=AAAA";
    assert!(matches!(
        start().client_final(short_proof),
        Err(SaslError::Malformed { .. })
    ));
    // The header in c= must be the one client-first had.
    let other_header =
        b"c=eSws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=";
    assert!(matches!(
        start().client_final(other_header),
        Err(SaslError::ChannelBinding(_))
    ));
}

/// A SCRAM client: the client-final message for `password` and the
/// server's server-first, binding `cbind_data` after the gs2 header.
fn client_final(
    hash: ScramHash,
    password: &[u8],
    first_bare: &str,
    gs2_header: &str,
    cbind_data: &[u8],
    server_first: &[u8],
) -> Vec<u8> {
    let server_first = std::str::from_utf8(server_first).unwrap();
    let mut nonce = "";
    let mut salt = Vec::new();
    let mut iterations = 0;
    for attribute in server_first.split(',') {
        match attribute.split_at(2) {
            ("r=", value) => nonce = value,
            ("s=", value) => salt = STANDARD.decode(value).unwrap(),
            ("i=", value) => iterations = value.parse().unwrap(),
            _ => panic!("unexpected {attribute}"),
        }
    }
    let keys = ScramKeys::derive(hash, password, &salt, iterations);
    let mut binding = gs2_header.as_bytes().to_vec();
    binding.extend_from_slice(cbind_data);
    let without_proof = format!("c={},r={nonce}", STANDARD.encode(binding));
    let auth_message = format!("{first_bare},{server_first},{without_proof}");
    let signature = hash.hmac(&keys.stored_key, &[auth_message.as_bytes()]);
    // ClientKey is HMAC(SaltedPassword, "Client Key"); recompute it here.
    let salted = hash.salted_password(password, &salt, iterations);
    let client_key = hash.hmac(&salted, &[b"Client Key"]);
    let proof: Vec<u8> = client_key
        .iter()
        .zip(&signature)
        .map(|(k, s)| k ^ s)
        .collect();
    format!("{without_proof},p={}", STANDARD.encode(proof)).into_bytes()
}

const EXPORTER: &[u8] = &[7u8; 32];

/// Runs an exchange for user "bob" with password "pw" whose gs2 header is
/// `gs2`, the client binding `client_cbind`; the server's result.
fn exchange(
    hash: ScramHash,
    plus: bool,
    server_binding: Option<&[u8]>,
    gs2: &str,
    client_cbind: &[u8],
) -> Result<Verified, SaslError> {
    let mut server = ScramServer::new(hash, plus, server_binding.map(<[u8]>::to_vec));
    let bare = "n=bob,r=clientnonce";
    server.client_first(format!("{gs2}{bare}").as_bytes())?;
    let keys = ScramKeys::generate(hash, b"pw");
    let server_first = server.server_first(ScramCredentials::Keys(keys))?;
    let last = client_final(hash, b"pw", bare, gs2, client_cbind, &server_first);
    server.client_final(&last)
}

#[test]
fn plus_binds_to_the_connections_tls_exporter_data() {
    let ok = exchange(
        ScramHash::Sha256,
        true,
        Some(EXPORTER),
        "p=tls-exporter,,",
        EXPORTER,
    )
    .unwrap();
    assert_eq!(ok.names.username, "bob");
    assert!(ok.server_final.starts_with(b"v="));

    // A client on another TLS connection (a man in the middle) has other data.
    let other = exchange(
        ScramHash::Sha256,
        true,
        Some(EXPORTER),
        "p=tls-exporter,,",
        &[8u8; 32],
    );
    assert!(
        matches!(other, Err(SaslError::ChannelBinding(_))),
        "{other:?}"
    );
}

#[test]
fn plus_needs_tls_exporter_binding_from_the_client() {
    for gs2 in ["n,,", "y,,", "p=tls-unique,,", "p=tls-server-end-point,,"] {
        let result = exchange(ScramHash::Sha256, true, Some(EXPORTER), gs2, b"");
        assert!(
            matches!(result, Err(SaslError::ChannelBinding(_))),
            "{gs2}: {result:?}"
        );
    }
    // And the connection must have data to bind to.
    let result = exchange(ScramHash::Sha256, true, None, "p=tls-exporter,,", b"");
    assert!(
        matches!(result, Err(SaslError::ChannelBinding(_))),
        "{result:?}"
    );
}

#[test]
fn flag_y_is_a_downgrade_where_sha256_plus_was_offered() {
    let downgraded = exchange(ScramHash::Sha256, false, Some(EXPORTER), "y,,", b"");
    assert!(
        matches!(downgraded, Err(SaslError::ChannelBinding(_))),
        "{downgraded:?}"
    );
    // Without TLS no -PLUS was offered: `y` is honest.
    exchange(ScramHash::Sha256, false, None, "y,,", b"").unwrap();
    // There is no SCRAM-SHA-1-PLUS, so `y` with SHA-1 is honest on TLS too.
    exchange(ScramHash::Sha1, false, Some(EXPORTER), "y,,", b"").unwrap();
    // A client that cannot bind may use the plain mechanism on TLS.
    exchange(ScramHash::Sha256, false, Some(EXPORTER), "n,,", b"").unwrap();
    // p= belongs to -PLUS mechanisms only.
    let result = exchange(
        ScramHash::Sha256,
        false,
        Some(EXPORTER),
        "p=tls-exporter,,",
        EXPORTER,
    );
    assert!(
        matches!(result, Err(SaslError::ChannelBinding(_))),
        "{result:?}"
    );
}

#[test]
fn an_authzid_other_than_the_user_is_passed_on_for_the_caller_to_judge() {
    let own = exchange(ScramHash::Sha256, false, None, "n,a=bob,", b"").unwrap();
    assert_eq!(own.names.authzid, None, "an authzid naming the user itself");
    let other = exchange(ScramHash::Sha256, false, None, "n,a=root,", b"").unwrap();
    assert_eq!(other.names.username, "bob");
    assert_eq!(other.names.authzid.as_deref(), Some("root"));
}

#[test]
fn made_up_credentials_run_the_exchange_and_then_fail() {
    let mut server = ScramServer::new(ScramHash::Sha256, false, None);
    server.client_first(b"n,,n=nobody,r=abc").unwrap();
    let server_first = server
        .server_first(ScramCredentials::Fake {
            salt_b64: "c2FsdHNhbHRzYWx0c2FsdA==".to_owned(),
            iterations: 4096,
            reason: "unknown user",
        })
        .unwrap();
    let text = String::from_utf8(server_first.clone()).unwrap();
    assert!(
        text.ends_with(",s=c2FsdHNhbHRzYWx0c2FsdA==,i=4096"),
        "{text}"
    );
    let last = client_final(
        ScramHash::Sha256,
        b"guess",
        "n=nobody,r=abc",
        "n,,",
        b"",
        &server_first,
    );
    assert_eq!(
        server.client_final(&last),
        Err(SaslError::NoCredentials("unknown user"))
    );
}

#[test]
fn steps_out_of_order_fail() {
    let mut server = ScramServer::new(ScramHash::Sha256, false, None);
    assert_eq!(
        server.client_final(b"c=biws,r=abc,p=AAAA"),
        Err(SaslError::Finished)
    );
    let mut server = ScramServer::new(ScramHash::Sha256, false, None);
    server.client_first(b"n,,n=bob,r=abc").unwrap();
    assert_eq!(
        server.client_first(b"n,,n=bob,r=abc"),
        Err(SaslError::Finished)
    );
}
