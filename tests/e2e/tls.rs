//! TLS end to end: the real server started on sockets the test bound first
//! (socket activation), a self-signed certificate made at first start
//! whose printed fingerprint is what clients get, and configured
//! certificate files replaced while the server runs.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;

use nix::sys::signal::Signal;
use rustls::pki_types::ServerName;

use crate::harness::tls::{
    client_config, fingerprint, printed_fingerprint, wait_printed_fingerprint,
};
use crate::harness::*;

/// A TLS connection to 127.0.0.1:`port` (SNI `localhost`) that has read
/// the greeting; returns it, the greeting and the certificate's SHA-256
/// fingerprint as `AB:CD:...`.
fn tls_greeting(
    port: u16,
) -> (
    rustls::StreamOwned<rustls::ClientConnection, TcpStream>,
    String,
    String,
) {
    let (config, recorder) = client_config();
    let name = ServerName::try_from("localhost").expect("name");
    let conn = rustls::ClientConnection::new(config, name).expect("client");
    let tcp = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    tcp.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let mut stream = rustls::StreamOwned::new(conn, tcp);
    let mut greeting = String::new();
    BufReader::new(&mut stream)
        .read_line(&mut greeting)
        .expect("a greeting over TLS");
    let der = recorder.seen().expect("a certificate");
    (stream, greeting, fingerprint(&der))
}

/// A certificate for localhost and its key, PEM.
fn make_pair() -> (String, String, String) {
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .expect("params")
        .self_signed(&key)
        .expect("certificate");
    (cert.pem(), key.serialize_pem(), fingerprint(cert.der()))
}

/// Replaces a file as certificate tools do: a new file renamed over it.
fn replace(path: &Path, text: &str) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, text).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

#[test]
fn implicit_tls_greets_with_the_self_signed_certificate_whose_fingerprint_was_printed() {
    let dir = TestDir::new();
    let (mut server, ports) =
        Server::start_prebound(&dir, &[("imap", "plain"), ("imaps", "tls")], "");
    let printed = wait_printed_fingerprint(&server);
    assert!(dir.data_dir().join("tls/self-signed.pem").is_file());

    let (_stream, greeting, presented) = tls_greeting(ports["imaps"]);
    assert!(greeting.starts_with("* OK"), "{greeting:?}");
    assert_eq!(presented, printed);

    // A second start reuses the certificate and prints nothing.
    server.stop();
    let (server, ports) = Server::start_prebound(&dir, &[("imap", "plain"), ("imaps", "tls")], "");
    assert_eq!(printed_fingerprint(&server.stdout()), None);
    let (_stream, _, presented) = tls_greeting(ports["imaps"]);
    assert_eq!(presented, printed);
}

#[test]
fn replaced_certificate_files_are_served_to_the_next_connection() {
    let dir = TestDir::new();
    let tls_dir = dir.path().join("tls");
    std::fs::create_dir_all(&tls_dir).expect("mkdir");
    let (cert_path, key_path) = (tls_dir.join("mail.pem"), tls_dir.join("mail.key"));
    let (first_cert, first_key, first_print) = make_pair();
    replace(&cert_path, &first_cert);
    replace(&key_path, &first_key);
    // Checks only on SIGHUP: the test says when.
    let extra = format!(
        "[tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\nreload_check_secs = 0\n",
        cert_path.display(),
        key_path.display()
    );
    let (server, ports) =
        Server::start_prebound(&dir, &[("imap", "plain"), ("imaps", "tls")], &extra);
    assert_eq!(
        printed_fingerprint(&server.stdout()),
        None,
        "a certificate is configured"
    );
    let (mut old, greeting, presented) = tls_greeting(ports["imaps"]);
    assert!(greeting.starts_with("* OK"), "{greeting:?}");
    assert_eq!(presented, first_print);

    let (second_cert, second_key, second_print) = make_pair();
    replace(&cert_path, &second_cert);
    replace(&key_path, &second_key);
    signal(server.pid(), Signal::SIGHUP);
    // The master reloads and pushes the certificate to the imap process;
    // each try is a new connection, and the first to see it ends the wait.
    wait_until(DEADLINE, "the new certificate on a new connection", || {
        let (_s, greeting, presented) = tls_greeting(ports["imaps"]);
        assert!(greeting.starts_with("* OK"), "{greeting:?}");
        (presented == second_print).then_some(())
    });

    // The connection made before the change still works.
    old.write_all(b"a LOGOUT\r\n").expect("send");
    let mut line = String::new();
    BufReader::new(&mut old)
        .read_line(&mut line)
        .expect("answer");
    assert!(line.starts_with("* BYE"), "{line:?}");
}
