//! TCP+TLS between hosts (issue 4 item 8, DESIGN §3): a user homed on
//! server B logs in at server A and reads and writes mail that lives on B,
//! through B's storage gateway; a server C with a different cluster key is
//! refused by B's gateway.
//!
//! The harness puts IMAP on 127.0.0.1 (one port per server); the gateways
//! listen on 127.0.0.2 (A) and 127.0.0.3 (B), bound here before the servers
//! start (passed as the listener named "gateway"), with certificates for
//! those IP addresses signed by a test CA made here with rcgen.

use std::fs;
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use mailkeep_testkit::{BlockingClient, Listeners, Status};
use mailkeep_ticket::TicketKey;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};

use crate::harness::{Options, Server, TestDir, make_message, require_root};

const USER: &str = "dora";
const PASSWORD: &str = "dora-secret-1";

/// The test cluster's CA.
fn make_ca() -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "mailkeep test cluster CA");
    CertifiedIssuer::self_signed(params, KeyPair::generate().expect("CA key")).expect("CA cert")
}

/// Writes the CA and a certificate for `ip` (server and client use)
/// signed by it into `<dir>/tls/`; returns the `[gateway]` TLS lines.
fn write_tls(dir: &TestDir, ca: &CertifiedIssuer<'static, KeyPair>, ip: &str) -> String {
    let mut params = CertificateParams::new(vec![ip.to_owned()]).expect("host params");
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, ip);
    let key = KeyPair::generate().expect("host key");
    let cert = params.signed_by(&key, ca).expect("host cert");
    let tls = dir.path().join("tls");
    fs::create_dir_all(&tls).expect("tls dir");
    let ca_file = tls.join("ca.pem");
    let cert_file = tls.join("host.pem");
    let key_file = tls.join("host.key");
    fs::write(&ca_file, ca.pem()).expect("ca.pem");
    fs::write(&cert_file, cert.pem()).expect("host.pem");
    fs::write(&key_file, key.serialize_pem()).expect("host.key");
    fs::set_permissions(&key_file, fs::Permissions::from_mode(0o600)).expect("chmod key");
    format!(
        "cert_file = \"{}\"\nkey_file = \"{}\"\nca_file = \"{}\"\n",
        cert_file.display(),
        key_file.display(),
        ca_file.display()
    )
}

/// Writes `key` as the server's cluster key before its first start (mode
/// 0600, in a 0700 directory, as the master makes it).
fn write_cluster_key(dir: &TestDir, key: &TicketKey) {
    let path = dir.key_file();
    let parent = path.parent().expect("keys dir");
    fs::create_dir_all(parent).expect("keys dir");
    fs::set_permissions(parent, fs::Permissions::from_mode(0o700)).expect("chmod keys dir");
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, key.to_file_contents().as_bytes()))
        .expect("writing the cluster key");
}

/// The extra config: a gateway section (listening on `listen` if given)
/// and `[cluster.hosts]`. The harness inserts it in `[imap]`, so it starts
/// with an `[imap]` setting and then opens its own sections.
fn extra_config(listen: Option<&str>, tls_lines: &str, hosts: &[(&str, String)]) -> String {
    let mut text = String::from("processes = 1\n\n[gateway]\n");
    if let Some(l) = listen {
        text.push_str(&format!("listen = \"{l}\"\n"));
    }
    text.push_str(tls_lines);
    if !hosts.is_empty() {
        text.push_str("\n[cluster.hosts]\n");
        for (name, address) in hosts {
            text.push_str(&format!("{name} = \"{address}\"\n"));
        }
    }
    text
}

/// Adds the userdb extra field `host=<host>` to `user`'s line.
fn set_home_host(users_file: &Path, user: &str, host: &str) {
    let text = fs::read_to_string(users_file).expect("reading the users file");
    let mut found = false;
    let lines: Vec<String> = text
        .lines()
        .map(|line| {
            if !line.starts_with(&format!("{user}:")) {
                return line.to_owned();
            }
            found = true;
            let mut fields: Vec<String> = line.split(':').map(str::to_owned).collect();
            while fields.len() < 8 {
                fields.push(String::new());
            }
            let extra = fields[7].trim().to_owned();
            fields[7] = if extra.is_empty() {
                format!("host={host}")
            } else {
                format!("{extra} host={host}")
            };
            fields.join(":")
        })
        .collect();
    assert!(found, "{user} is not in {}", users_file.display());
    fs::write(users_file, lines.join("\n") + "\n").expect("writing the users file");
}

/// Every file under `<maildir>/{new,cur}` whose contents include `marker`.
fn files_with(maildir: &Path, marker: &str) -> Vec<PathBuf> {
    let mut hits = Vec::new();
    for sub in ["new", "cur"] {
        let Ok(entries) = fs::read_dir(maildir.join(sub)) else {
            continue;
        };
        for e in entries.flatten() {
            let bytes = fs::read(e.path()).unwrap_or_default();
            if String::from_utf8_lossy(&bytes).contains(marker) {
                hits.push(e.path());
            }
        }
    }
    hits
}

/// Reads message 1 of INBOX with FETCH BODY[] and returns it lossily.
fn fetch_first(c: &mut BlockingClient) -> String {
    let r = c.ok("FETCH 1 BODY.PEEK[]");
    r.fetches()
        .iter()
        .filter_map(|f| f.bytes("BODY[]"))
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .collect()
}

/// A listener named "gateway" on `ip`, and its address as the config
/// writes it.
fn gateway_on(ip: [u8; 4]) -> (Listeners, String) {
    let mut listeners = Listeners::new();
    let addr = listeners
        .bind("gateway", IpAddr::V4(Ipv4Addr::from(ip)))
        .expect("binding a gateway listener");
    (listeners, addr.to_string())
}

/// Starts a server on `dir` with `extra` config and `listeners`.
fn start<'a>(dir: &'a TestDir, extra: String, listeners: Listeners) -> Server<'a> {
    let options = Options {
        extra_imap: extra,
        ..Options::default()
    };
    Server::start_opts(dir, options, listeners)
}

/// A user homed on B (userdb `host=b`) logs in at A: APPEND, SELECT and
/// FETCH at A work on B's Maildir (the file is on B's disk, not A's), and a
/// login at B sees the message. A server C with a different cluster key
/// logs the user in (its own auth) but B's gateway refuses C's ticket: the
/// client gets a NO, not a hang.
#[test]
fn user_homed_on_another_host_is_served_over_the_gateway() {
    if !require_root("user_homed_on_another_host_is_served_over_the_gateway") {
        return;
    }
    let ca = make_ca();
    let key = TicketKey::generate();
    let (dir_a, dir_b, dir_c) = (TestDir::new(), TestDir::new(), TestDir::new());
    write_cluster_key(&dir_a, &key);
    write_cluster_key(&dir_b, &key);
    let tls_a = write_tls(&dir_a, &ca, "127.0.0.2");
    let tls_b = write_tls(&dir_b, &ca, "127.0.0.3");
    // C's certificate is good: only its cluster key is wrong.
    let tls_c = write_tls(&dir_c, &ca, "127.0.0.4");
    let (listen_a, gateway_a) = gateway_on([127, 0, 0, 2]);
    let (listen_b, gateway_b) = gateway_on([127, 0, 0, 3]);

    // B: dora is at home here (no [cluster.hosts]: every user is local).
    let server_b = start(
        &dir_b,
        extra_config(Some(&gateway_b), &tls_b, &[]),
        listen_b,
    );
    server_b.add_user(USER, PASSWORD);
    set_home_host(&dir_b.users_file(), USER, "b");
    // A: dora exists for auth, with her home on b.
    let hosts = [("b", gateway_b.clone())];
    let server_a = start(
        &dir_a,
        extra_config(Some(&gateway_a), &tls_a, &hosts),
        listen_a,
    );
    server_a.add_user(USER, PASSWORD);
    set_home_host(&dir_a.users_file(), USER, "b");

    let marker = format!("cluster-{}", std::process::id());
    let message = make_message(&marker, 2000);
    let mut at_a = server_a.login(USER, PASSWORD);
    let appended = at_a.append("INBOX", &[], &message).expect("APPEND at A");
    assert!(
        appended.is_ok(),
        "APPEND at A: {appended:?}\nA: {}\nB: {}",
        server_a.logs(),
        server_b.logs()
    );
    let selected = at_a.ok("SELECT INBOX");
    assert_eq!(selected.exists(), Some(1), "SELECT at A: {selected:?}");
    assert!(fetch_first(&mut at_a).contains(&marker), "FETCH at A");
    at_a.logout();

    // A's session went through B's gateway.
    server_b.wait_for_output(
        "B's gateway forwarding A's session",
        Duration::from_secs(10),
        |out| {
            out.contains("gateway: forwarding to local storage")
                .then_some(())
        },
    );
    let on_b = files_with(&dir_b.maildir(USER), &marker);
    assert_eq!(on_b.len(), 1, "the message is in B's Maildir: {on_b:?}");
    assert!(
        files_with(&dir_a.maildir(USER), &marker).is_empty(),
        "nothing was stored on A"
    );

    let mut at_b = server_b.login(USER, PASSWORD);
    let selected = at_b.ok("SELECT INBOX");
    assert_eq!(selected.exists(), Some(1), "SELECT at B: {selected:?}");
    assert!(fetch_first(&mut at_b).contains(&marker), "FETCH at B");
    at_b.logout();

    // C: its own (different) cluster key, made at first start.
    let server_c = start(&dir_c, extra_config(None, &tls_c, &hosts), Listeners::new());
    server_c.add_user(USER, PASSWORD);
    set_home_host(&dir_c.users_file(), USER, "b");
    let mut at_c = server_c.login(USER, PASSWORD);
    at_c.set_timeout(Duration::from_secs(30));
    let refused = at_c.run("SELECT INBOX").expect("an answer to SELECT at C");
    assert_eq!(
        refused.status(),
        Status::No,
        "SELECT at C must be refused: {refused:?}\nC: {}",
        server_c.logs()
    );
    server_b.wait_for_output(
        "B's gateway logging the refusal",
        Duration::from_secs(10),
        |out| {
            out.to_ascii_lowercase()
                .contains("gateway refused: unauthenticated")
                .then_some(())
        },
    );
    at_c.logout();
}
