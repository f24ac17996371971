//! TCP+TLS between hosts (issue 4 item 8, DESIGN §3): a user homed on
//! server B logs in at server A and reads and writes mail that lives on B,
//! through B's storage gateway; A's LOGOUT revokes the session at B too;
//! a server C whose certificate is good but which is not on B's
//! trusted-host list is refused by B's gateway.
//!
//! The cluster is set up as an administrator would: `mailkeep cluster
//! init`, then `mailkeep cluster add-host` for each host, which make the
//! CA, each host's gateway certificate and ticket key pair, and the
//! trusted-host list. The harness puts IMAP on 127.0.0.1 (one port per
//! server); the gateways listen on 127.0.0.2 (A) and 127.0.0.3 (B), bound
//! here before the servers start (passed as the listener named "gateway").

use std::fs;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use mailkeep_testkit::{BlockingClient, Listeners, Status};

use crate::harness::{BIN, Options, Server, TestDir, make_message, require_root};

pub(crate) const USER: &str = "dora";
pub(crate) const PASSWORD: &str = "dora-secret-1";

/// Runs `mailkeep cluster --dir <cluster> ARGS` and checks it succeeded.
pub(crate) fn cluster(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .arg("cluster")
        .arg("--dir")
        .arg(dir)
        .args(args)
        .output()
        .expect("running mailkeep cluster");
    assert!(
        out.status.success(),
        "mailkeep cluster {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The extra config of host `name` from the files `cluster add-host` made:
/// its gateway (listening on `listen` if given) and TLS (the gateway's and
/// the relay's certificates, each its own), its ticket key,
/// the trusted-host list `trusted` (each host has its own copy), and
/// `[cluster.hosts]`. The harness inserts it in `[imap]`, so it starts with
/// an `[imap]` setting and then opens its own sections.
pub(crate) fn extra_config(
    cluster_dir: &Path,
    name: &str,
    listen: Option<&str>,
    trusted: &Path,
    hosts: &[(&str, String)],
) -> String {
    let host = cluster_dir.join("hosts").join(name);
    let mut text = String::from("processes = 1\n\n[gateway]\n");
    if let Some(l) = listen {
        text.push_str(&format!("listen = \"{l}\"\n"));
    }
    text.push_str(&format!(
        "cert_file = \"{}\"\nkey_file = \"{}\"\n\
         relay_cert_file = \"{}\"\nrelay_key_file = \"{}\"\nca_file = \"{}\"\n\n\
         [cluster]\nkey_file = \"{}\"\ntrusted_hosts_file = \"{}\"\n",
        host.join("gateway.pem").display(),
        host.join("gateway.key").display(),
        host.join("relay.pem").display(),
        host.join("relay.key").display(),
        cluster_dir.join("ca.pem").display(),
        host.join("host.key").display(),
        trusted.display(),
    ));
    if !hosts.is_empty() {
        text.push_str("\n[cluster.hosts]\n");
        for (name, address) in hosts {
            text.push_str(&format!("{name} = \"{address}\"\n"));
        }
    }
    text
}

/// A copy of the cluster's trusted-host list as it is now, as an
/// administrator hands it to a host.
pub(crate) fn copy_trusted(cluster_dir: &Path, to: &TestDir) -> PathBuf {
    let copy = to.path().join("trusted-hosts");
    fs::copy(cluster_dir.join("trusted-hosts"), &copy).expect("copying trusted-hosts");
    copy
}

/// Adds the userdb extra field `host=<host>` to `user`'s line.
pub(crate) fn set_home_host(users_file: &Path, user: &str, host: &str) {
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
pub(crate) fn files_with(maildir: &Path, marker: &str) -> Vec<PathBuf> {
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
pub(crate) fn fetch_first(c: &mut BlockingClient) -> String {
    let r = c.ok("FETCH 1 BODY.PEEK[]");
    r.fetches()
        .iter()
        .filter_map(|f| f.bytes("BODY[]"))
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .collect()
}

/// A listener named "gateway" on `ip`, and its address as the config
/// writes it.
pub(crate) fn gateway_on(ip: [u8; 4]) -> (Listeners, String) {
    let mut listeners = Listeners::new();
    let addr = listeners
        .bind("gateway", IpAddr::V4(Ipv4Addr::from(ip)))
        .expect("binding a gateway listener");
    (listeners, addr.to_string())
}

/// Starts host `name` on `dir` with `extra` config and `listeners`.
pub(crate) fn start<'a>(
    dir: &'a TestDir,
    name: &str,
    extra: String,
    listeners: Listeners,
) -> Server<'a> {
    let options = Options {
        extra_imap: extra,
        extra_server: format!("hostname = \"{name}\""),
        ..Options::default()
    };
    Server::start_opts(dir, options, listeners)
}

/// Hosts A and B, set up in `cluster_dir` with `mailkeep cluster init` and
/// `add-host` (gateways on 127.0.0.2 and 127.0.0.3), each with its own
/// copy of the trusted-host list; the user is homed on B (where, with no
/// `[cluster.hosts]`, every user is local) and known to A's auth with her
/// home on b. Returns (A, B, B's gateway address).
pub(crate) fn two_hosts<'a>(
    dir_a: &'a TestDir,
    dir_b: &'a TestDir,
    cluster_dir: &Path,
) -> (Server<'a>, Server<'a>, String) {
    two_hosts_with(dir_a, dir_b, cluster_dir, &[])
}

/// [`two_hosts`], with A also given the listeners `at_a` names (`lmtp`,
/// `pop3`: the harness configures each by its name), bound on 127.0.0.1.
pub(crate) fn two_hosts_with<'a>(
    dir_a: &'a TestDir,
    dir_b: &'a TestDir,
    cluster_dir: &Path,
    at_a: &[&str],
) -> (Server<'a>, Server<'a>, String) {
    two_hosts_configured(dir_a, dir_b, cluster_dir, at_a, "")
}

/// [`two_hosts_with`], with `more` config (whole sections, e.g.
/// `[plugins]`) on both hosts.
pub(crate) fn two_hosts_configured<'a>(
    dir_a: &'a TestDir,
    dir_b: &'a TestDir,
    cluster_dir: &Path,
    at_a: &[&str],
    more: &str,
) -> (Server<'a>, Server<'a>, String) {
    let (mut listen_a, gateway_a) = gateway_on([127, 0, 0, 2]);
    for name in at_a {
        listen_a
            .bind(name, IpAddr::V4(Ipv4Addr::LOCALHOST))
            .expect("binding a listener of A");
    }
    let (listen_b, gateway_b) = gateway_on([127, 0, 0, 3]);
    cluster(cluster_dir, &["init"]);
    cluster(cluster_dir, &["add-host", "a", "--address", &gateway_a]);
    cluster(cluster_dir, &["add-host", "b", "--address", &gateway_b]);
    let (trusted_a, trusted_b) = (
        copy_trusted(cluster_dir, dir_a),
        copy_trusted(cluster_dir, dir_b),
    );
    let server_b = start(
        dir_b,
        "b",
        extra_config(cluster_dir, "b", Some(&gateway_b), &trusted_b, &[]) + more,
        listen_b,
    );
    server_b.add_user(USER, PASSWORD);
    set_home_host(&dir_b.users_file(), USER, "b");
    let hosts = [("b", gateway_b.clone())];
    let server_a = start(
        dir_a,
        "a",
        extra_config(cluster_dir, "a", Some(&gateway_a), &trusted_a, &hosts) + more,
        listen_a,
    );
    server_a.add_user(USER, PASSWORD);
    set_home_host(&dir_a.users_file(), USER, "b");
    (server_a, server_b, gateway_b)
}

/// Logs the user in at A and, on her mail at B, APPENDs a message
/// holding `marker` to an empty INBOX, SELECTs it and FETCHes the message
/// back; returns the session.
pub(crate) fn append_and_read_at_a(a: &Server<'_>, b: &Server<'_>, marker: &str) -> BlockingClient {
    let mut at_a = a.login(USER, PASSWORD);
    let appended = at_a
        .append("INBOX", &[], &make_message(marker, 2000))
        .expect("APPEND at A");
    assert!(
        appended.is_ok(),
        "APPEND at A: {appended:?}\nA: {}\nB: {}",
        a.logs(),
        b.logs()
    );
    let selected = at_a.ok("SELECT INBOX");
    assert_eq!(selected.exists(), Some(1), "SELECT at A: {selected:?}");
    assert!(fetch_first(&mut at_a).contains(marker), "FETCH at A");
    at_a
}

/// A user homed on B (userdb `host=b`) logs in at A: APPEND, SELECT and
/// FETCH at A work on B's Maildir (the file is on B's disk, not A's), and a
/// login at B sees the message; A's LOGOUT ends the session at B's gateway
/// too. A server C with a good certificate but not on B's trusted-host
/// list logs the user in (its own auth) but B's gateway refuses C's
/// ticket: the client gets a NO, not a hang.
#[test]
fn user_homed_on_another_host_is_served_over_the_gateway() {
    if !require_root("user_homed_on_another_host_is_served_over_the_gateway") {
        return;
    }
    let (dir_a, dir_b, dir_c, admin) = (
        TestDir::new(),
        TestDir::new(),
        TestDir::new(),
        TestDir::new(),
    );
    let cluster_dir = admin.path().join("cluster");
    let (server_a, server_b, gateway_b) = two_hosts(&dir_a, &dir_b, &cluster_dir);
    // C joins later with a certificate of the same CA; A and B were not
    // given its key.
    cluster(&cluster_dir, &["add-host", "c", "--address", "127.0.0.4:1"]);
    let trusted_c = copy_trusted(&cluster_dir, &dir_c);
    let hosts = [("b", gateway_b)];

    let marker = format!("cluster-{}", std::process::id());
    let at_a = append_and_read_at_a(&server_a, &server_b, &marker);
    at_a.logout();

    // A's session went through B's gateway, and its end reached B.
    server_b.wait_for_output(
        "B's gateway forwarding A's session",
        Duration::from_secs(10),
        |out| {
            out.contains("gateway: forwarding to local storage")
                .then_some(())
        },
    );
    server_b.wait_for_output(
        "A's LOGOUT revoking the session at B",
        Duration::from_secs(10),
        |out| {
            out.contains("gateway: another host ended sessions")
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

    // C: a good certificate, but its ticket key is not on B's list.
    let server_c = start(
        &dir_c,
        "c",
        extra_config(&cluster_dir, "c", None, &trusted_c, &hosts),
        Listeners::new(),
    );
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
            let out = out.to_ascii_lowercase();
            (out.contains("gateway refused: unauthenticated") && out.contains("not a trusted host"))
                .then_some(())
        },
    );
    at_c.logout();
}
