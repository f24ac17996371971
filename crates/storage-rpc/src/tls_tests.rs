//! Loopback tests of the TLS configurations and the gateway handshake.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use tokio::net::TcpListener;

use super::*;

fn ca() -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

fn host(ca: &CertifiedIssuer<'static, KeyPair>, ip: &str) -> TlsMaterial {
    let mut params = CertificateParams::new(vec![ip.to_owned()]).unwrap();
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, ca).unwrap();
    TlsMaterial {
        ca_pem: ca.pem().into_bytes(),
        cert_pem: cert.pem().into_bytes(),
        key_pem: key.serialize_pem().into_bytes(),
    }
}

/// A gateway on 127.0.0.1 that answers every hello with a refusal naming
/// the ticket it got; returns its address.
async fn refusing_gateway(material: TlsMaterial) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let acceptor = acceptor(&material, true).unwrap();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let hello: GatewayHello = read_frame(&mut tls).await.unwrap();
                let reply = GatewayReply {
                    code: crate::broker::RefusalCode::Unauthenticated as i32,
                    error: format!("ticket {}", hello.ticket),
                    ..GatewayReply::default()
                };
                write_frame(&mut tls, &reply).await.unwrap();
            });
        }
    });
    address
}

#[test]
fn material_round_trips() {
    let m = TlsMaterial {
        ca_pem: b"ca".to_vec(),
        cert_pem: Vec::new(),
        key_pem: b"key".to_vec(),
    };
    let back = TlsMaterial::decode(&m.encode()).unwrap();
    assert_eq!(back.ca_pem, b"ca");
    assert!(back.cert_pem.is_empty());
    assert_eq!(back.key_pem, b"key");
    assert!(TlsMaterial::decode(&m.encode()[..5]).is_err());
    assert!(
        !format!("{m:?}").contains("key\""),
        "the key is never printed"
    );
}

#[test]
fn bad_pem_is_refused() {
    let m = TlsMaterial {
        ca_pem: b"not a certificate".to_vec(),
        cert_pem: Vec::new(),
        key_pem: Vec::new(),
    };
    assert!(matches!(m.client_config(), Err(TlsError::Material { .. })));
}

/// A hello naming `ticket` and `owner`.
fn hello(ticket: &str, owner: &str) -> GatewayHello {
    GatewayHello {
        ticket: ticket.to_owned(),
        owner: owner.to_owned(),
        ..GatewayHello::default()
    }
}

#[tokio::test]
async fn the_hello_reaches_the_gateway_and_its_refusal_comes_back() {
    let ca = ca();
    let address = refusing_gateway(host(&ca, "127.0.0.1")).await;
    let client = Arc::new(host(&ca, "127.0.0.2").client_config().unwrap());
    let err = open_gateway(client, &address, "127.0.0.1", &hello("T1", "dora"))
        .await
        .unwrap_err();
    match err {
        TlsError::Refused { code, message } => {
            assert_eq!(code, crate::broker::RefusalCode::Unauthenticated);
            assert_eq!(message, "ticket T1");
        }
        other => panic!("expected a refusal, got {other}"),
    }
}

#[tokio::test]
async fn a_client_without_a_certificate_or_from_another_ca_is_refused_by_tls() {
    let ca = ca();
    let address = refusing_gateway(host(&ca, "127.0.0.1")).await;
    let no_cert = TlsMaterial {
        ca_pem: ca.pem().into_bytes(),
        cert_pem: Vec::new(),
        key_pem: Vec::new(),
    };
    let err = open_gateway(
        Arc::new(no_cert.client_config().unwrap()),
        &address,
        "127.0.0.1",
        &hello("T", "dora"),
    )
    .await
    .unwrap_err();
    assert!(!matches!(err, TlsError::Refused { .. }), "{err}");
    let other_ca = host(&self::ca(), "127.0.0.2");
    let err = open_gateway(
        Arc::new(other_ca.client_config().unwrap()),
        &address,
        "127.0.0.1",
        &hello("T", "dora"),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, TlsError::Io { .. }), "{err}");
}

#[tokio::test]
async fn an_accepted_hello_gives_the_stream_that_carries_the_rest() {
    let ca = ca();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let acceptor = acceptor(&host(&ca, "127.0.0.1"), true).unwrap();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut tls = acceptor.accept(tcp).await.unwrap();
        let got: GatewayHello = read_frame(&mut tls).await.unwrap();
        write_frame(&mut tls, &GatewayReply::default())
            .await
            .unwrap();
        // Echo the owner back on the stream, as payload.
        tls.write_all(got.owner.as_bytes()).await.unwrap();
        tls.shutdown().await.unwrap();
    });
    let client = Arc::new(host(&ca, "127.0.0.2").client_config().unwrap());
    let mut stream = open_gateway(client, &address, "127.0.0.1", &hello("T", "dora"))
        .await
        .unwrap();
    let mut rest = String::new();
    stream.read_to_string(&mut rest).await.unwrap();
    assert_eq!(rest, "dora");
}
