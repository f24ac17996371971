//! A throwaway Postfix (Debian's package) for one test: its own `main.cf`
//! and `master.cf`, queue and log under the test's directory, listening on
//! a loopback address of its own (127.0.88.N) and relaying every recipient
//! in `example.org` to mailkeep over LMTP. Its `master` runs in the foreground as the test's
//! child (`master -c DIR`, no `postfix start`), so dropping the guard stops
//! it and its daemons. Mail goes in with swaks over SMTP.

use std::fs;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use super::{DEADLINE, STOP_GRACE, TestDir, free_port, wait_output, wait_until};

/// Where Debian puts Postfix's daemons (`master`, `smtpd`, `lmtp`, …).
const DAEMON_DIRECTORY: &str = "/usr/lib/postfix/sbin";

/// The domain the instance hands to mailkeep (the harness's
/// `auth.local_domains`).
pub const DOMAIN: &str = "example.org";

/// A running Postfix master and its daemons; stopped when dropped.
pub struct Postfix {
    master: Option<Child>,
    /// Its configuration directory (`main.cf`, `master.cf`, `queue/`).
    pub config_dir: PathBuf,
    /// The SMTP (port 25 style) listener: relays for 127.0.0.0/8.
    pub smtp: SocketAddr,
    /// The submission listener with SMTP AUTH, when a SASL socket was given.
    pub submission: Option<SocketAddr>,
    log: PathBuf,
}

/// Whether the test can run Postfix: as root (Postfix's daemons switch to
/// its `postfix` user) with `postfix` and `swaks` installed. Fails in CI
/// (`CI=true`), which installs them (`.ci/run`); else the test is skipped.
pub fn available(test: &str) -> bool {
    super::require_root(test)
        && super::require_program("postfix", test)
        && super::require_program("swaks", test)
}

impl Postfix {
    /// Writes the instance's configuration under `dir`, lets `postfix check`
    /// make its queue, starts `master` and waits until smtpd answers. Mail
    /// for `example.org` goes to mailkeep's LMTP listener `lmtp`; with
    /// `sasl_socket` (mailkeep's Dovecot-protocol auth socket) a second
    /// smtpd, the submission port, offers SMTP AUTH through it.
    pub fn start(dir: &TestDir, lmtp: SocketAddr, sasl_socket: Option<&Path>) -> Postfix {
        Self::start_with_transport(dir, &format!("lmtp:inet:{lmtp}"), sasl_socket)
    }

    /// [`Postfix::start`] delivering `example.org` through `transport`
    /// (`lmtp:inet:HOST:PORT` or `lmtp:unix:/path/to/lmtp.sock`).
    pub fn start_with_transport(
        dir: &TestDir,
        transport: &str,
        sasl_socket: Option<&Path>,
    ) -> Postfix {
        let config_dir = dir.path().join("postfix");
        let queue = config_dir.join("queue");
        let data = config_dir.join("data");
        fs::create_dir_all(&queue).expect("creating the Postfix queue directory");
        fs::create_dir_all(&data).expect("creating the Postfix data directory");
        for d in [&config_dir, &queue] {
            fs::set_permissions(d, fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        let postfix = nix::unistd::User::from_name("postfix")
            .expect("looking up the postfix user")
            .expect("the postfix user (made by Debian's postfix package)");
        nix::unistd::chown(&data, Some(postfix.uid), None).expect("chown of the data directory");
        // Master binds its ports itself, so they cannot be bound first and
        // passed: on an address of this instance's own, no other test's
        // listener can take one between the choice and master's bind (one
        // did on 127.0.0.1, and swaks met an imap greeting).
        let address = own_address();
        let smtp = SocketAddr::from((address, port_free_on(address)));
        let submission = sasl_socket.map(|_| SocketAddr::from((address, port_free_on(address))));
        let log = config_dir.join("maillog");
        fs::write(
            config_dir.join("main.cf"),
            main_cf(&config_dir, &log, transport),
        )
        .expect("writing main.cf");
        fs::write(
            config_dir.join("master.cf"),
            master_cf(smtp, submission.zip(sasl_socket)),
        )
        .expect("writing master.cf");
        // `postfix check` makes the queue's subdirectories with Postfix's
        // owners and modes.
        let check = Command::new("postfix")
            .arg("-c")
            .arg(&config_dir)
            .arg("check")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("running postfix check");
        let out = wait_output(check, DEADLINE);
        assert!(
            out.status.success(),
            "postfix check failed with {}: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            fs::read_to_string(&log).unwrap_or_default()
        );
        let master = Command::new(Path::new(DAEMON_DIRECTORY).join("master"))
            .arg("-c")
            .arg(&config_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting Postfix's master");
        let mut postfix = Postfix {
            master: Some(master),
            config_dir,
            smtp,
            submission,
            log,
        };
        postfix.await_listening();
        postfix
    }

    /// Waits until every smtpd listener takes connections; fails with the
    /// log when master exits first.
    fn await_listening(&mut self) {
        let addrs: Vec<SocketAddr> = std::iter::once(self.smtp).chain(self.submission).collect();
        let log = self.log.clone();
        let master = self.master.as_mut().expect("master");
        wait_until(DEADLINE, "Postfix's smtpd to listen", || {
            if let Ok(Some(status)) = master.try_wait() {
                panic!(
                    "Postfix's master exited with {status}:\n{}",
                    fs::read_to_string(&log).unwrap_or_default()
                );
            }
            addrs
                .iter()
                .all(|a| TcpStream::connect(a).is_ok())
                .then_some(())
        });
    }

    /// Postfix's log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until a line of the log satisfies `f`; returns it.
    pub fn wait_log(&self, what: &str, f: impl Fn(&str) -> bool) -> String {
        wait_until(DEADLINE, what, || {
            self.log().lines().find(|l| f(l)).map(str::to_owned)
        })
    }

    /// Sends `message` (CRLF line ends, no line starting with a dot) from
    /// `from` to `to` over SMTP with swaks, exactly as given: swaks's own
    /// data fix-ups are off, so the bytes after DATA are the message and
    /// the final dot. Returns swaks's output (its exit status unchecked).
    pub fn swaks(
        &self,
        addr: SocketAddr,
        from: &str,
        to: &str,
        message: &[u8],
        extra: &[&str],
    ) -> Output {
        let file = self.config_dir.join(format!("message-{}.eml", free_port()));
        let mut data = message.to_vec();
        data.push(b'.');
        fs::write(&file, data).expect("writing the message file");
        let child = Command::new("swaks")
            .args(["--server", &addr.ip().to_string()])
            .args(["--port", &addr.port().to_string()])
            .args(["--helo", "client.example.org", "--from", from, "--to", to])
            .arg("--no-data-fixup")
            .arg("--data")
            .arg(&file)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("running swaks");
        wait_output(child, DEADLINE)
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let Some(mut master) = self.master.take() else {
            return;
        };
        // SIGTERM: master stops its daemons and exits.
        super::signal(master.id() as i32, nix::sys::signal::Signal::SIGTERM);
        let stopped = wait_until_exit(&mut master, STOP_GRACE);
        if !stopped {
            let _ = master.kill();
            let _ = master.wait();
        }
        if std::thread::panicking() {
            eprintln!("--- Postfix log ---\n{}", self.log());
        }
    }
}

/// Waits up to `timeout` for `child` to exit.
fn wait_until_exit(child: &mut Child, timeout: Duration) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `main.cf`: loopback only, no local delivery, `example.org` virtual and
/// delivered over LMTP (`transport`) to mailkeep, `+` as the recipient delimiter, the log
/// in a file of its own.
fn main_cf(config_dir: &Path, log: &Path, transport: &str) -> String {
    let dir = config_dir.display();
    format!(
        "compatibility_level = 3.6\n\
         queue_directory = {dir}/queue\n\
         data_directory = {dir}/data\n\
         daemon_directory = {DAEMON_DIRECTORY}\n\
         mail_owner = postfix\n\
         setgid_group = postdrop\n\
         myhostname = mx.{DOMAIN}\n\
         mydomain = {DOMAIN}\n\
         myorigin = {DOMAIN}\n\
         mydestination =\n\
         inet_interfaces = 127.0.0.1\n\
         inet_protocols = ipv4\n\
         mynetworks = 127.0.0.0/8\n\
         relay_domains =\n\
         alias_maps =\n\
         alias_database =\n\
         local_recipient_maps =\n\
         virtual_mailbox_domains = {DOMAIN}\n\
         virtual_transport = {transport}\n\
         recipient_delimiter = +\n\
         smtputf8_enable = no\n\
         biff = no\n\
         maillog_file_prefixes = {dir}\n\
         maillog_file = {log}\n",
        log = log.display(),
    )
}

/// A loopback address for one Postfix instance, 127.0.88.N: no other
/// listener of the test run uses these.
fn own_address() -> Ipv4Addr {
    static NEXT: AtomicU8 = AtomicU8::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    Ipv4Addr::new(127, 0, 88, n.clamp(1, 254))
}

/// A port free on `address` a moment ago.
fn port_free_on(address: Ipv4Addr) -> u16 {
    let listener = TcpListener::bind((address, 0)).expect("binding an ephemeral port");
    listener.local_addr().expect("local address").port()
}

/// `master.cf`: the daemons a relay needs, none chrooted; smtpd on `smtp`,
/// and with `submission` (its address and the SASL socket) a second smtpd
/// that offers AUTH through Dovecot's protocol and takes mail only from
/// clients that used it.
fn master_cf(smtp: SocketAddr, submission: Option<(SocketAddr, &Path)>) -> String {
    let mut text = format!("{smtp} inet n - n - - smtpd\n");
    if let Some((addr, socket)) = submission {
        text.push_str(&format!(
            "{addr} inet n - n - - smtpd\n  \
             -o smtpd_sasl_auth_enable=yes\n  \
             -o smtpd_sasl_type=dovecot\n  \
             -o smtpd_sasl_path={}\n  \
             -o smtpd_tls_security_level=none\n  \
             -o smtpd_client_restrictions=permit_sasl_authenticated,reject\n  \
             -o smtpd_relay_restrictions=permit_sasl_authenticated,reject\n",
            socket.display()
        ));
    }
    text.push_str(
        "pickup unix n - n 60 1 pickup\n\
         cleanup unix n - n - 0 cleanup\n\
         qmgr unix n - n 300 1 qmgr\n\
         rewrite unix - - n - - trivial-rewrite\n\
         bounce unix - - n - 0 bounce\n\
         defer unix - - n - 0 bounce\n\
         trace unix - - n - 0 bounce\n\
         verify unix - - n - 1 verify\n\
         flush unix n - n 1000? 0 flush\n\
         proxymap unix - - n - - proxymap\n\
         smtp unix - - n - - smtp\n\
         relay unix - - n - - smtp\n\
         showq unix n - n - - showq\n\
         error unix - - n - - error\n\
         retry unix - - n - - error\n\
         discard unix - - n - - discard\n\
         lmtp unix - - n - - lmtp\n\
         anvil unix - - n - 1 anvil\n\
         scache unix - - n - 1 scache\n\
         postlog unix-dgram n - n - 1 postlogd\n",
    );
    text
}
