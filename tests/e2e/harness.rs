//! The test harness: a private data directory per test, the real `mailkeep`
//! binary started on a free port, discovery of its child processes through
//! `/proc`, account management through the CLI, and a tiny synchronous IMAP
//! client that speaks over a real TCP socket.
//!
//! Every wait is bounded (see [`DEADLINE`]), and every server is stopped by
//! a drop guard (SIGTERM, then SIGKILL after [`STOP_GRACE`]), so a failing
//! or hanging test never leaves processes behind.

#![allow(dead_code)]

use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_mailkeep");

/// The default bound on any wait for the server (start, a reply, a process
/// to appear or go away).
pub const DEADLINE: Duration = Duration::from_secs(20);

/// How long a stopping server gets after SIGTERM before it is killed.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// The uid and gid accounts made by `mailkeep user add` get (the default
/// `privileges.mail_uid/mail_gid`) when the server runs as root.
pub const MAIL_UID: u32 = 5000;
/// See [`MAIL_UID`].
pub const MAIL_GID: u32 = 5000;

/// `nobody`'s uid: what the imap process runs as.
pub const NOBODY_UID: u32 = 65534;

/// The workspace root (`tests/` lives there).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Whether the test may go on: true as root. Not root: fails when the
/// environment says `CI=true` (CI must run these), else prints a note and
/// the caller returns early.
pub fn require_root(test: &str) -> bool {
    if nix::unistd::Uid::effective().is_root() {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{test} must run as root in CI (it checks privilege separation)");
    }
    eprintln!("note: {test} needs root (privilege separation is only on as root); skipped");
    false
}

/// Polls `f` every 50 ms until it returns `Some`, or panics with `what`
/// after `timeout`.
pub fn wait_until<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("binding an ephemeral port");
    l.local_addr().expect("local address").port()
}

// ---------------------------------------------------------------------------
// The test's directory
// ---------------------------------------------------------------------------

/// A private temporary directory for one test, mode 0755 so that the
/// storage processes (uid 5000) can traverse it to their homes under
/// `data/home`. Removed when dropped.
pub struct TestDir {
    dir: tempfile::TempDir,
}

impl TestDir {
    /// Makes a fresh directory.
    pub fn new() -> TestDir {
        let dir = tempfile::Builder::new()
            .prefix("mailkeep-e2e-")
            .tempdir()
            .expect("creating a temporary directory");
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755))
            .expect("chmod 0755 of the temporary directory");
        // Every ancestor must be searchable by others too.
        for a in dir.path().ancestors().skip(1) {
            let mode = fs::metadata(a).map(|m| m.permissions().mode()).unwrap_or(0);
            assert!(
                mode & 0o001 != 0,
                "{} (an ancestor of the test directory) is not searchable by others; \
                 set TMPDIR to a directory that is",
                a.display()
            );
        }
        TestDir { dir }
    }

    /// The directory itself.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `<dir>/data`, the server's data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.path().join("data")
    }

    /// `<data_dir>/home/<user>`: where `user add` puts an account's home.
    pub fn home(&self, user: &str) -> PathBuf {
        self.data_dir().join("home").join(user)
    }

    /// `<home>/Maildir`.
    pub fn maildir(&self, user: &str) -> PathBuf {
        self.home(user).join("Maildir")
    }

    /// `<data_dir>/keys/cluster.key`.
    pub fn key_file(&self) -> PathBuf {
        self.data_dir().join("keys").join("cluster.key")
    }

    /// `<data_dir>/empty`, the chroot of protocol processes.
    pub fn chroot_dir(&self) -> PathBuf {
        self.data_dir().join("empty")
    }

    /// `<data_dir>/users`.
    pub fn users_file(&self) -> PathBuf {
        self.data_dir().join("users")
    }
}

// ---------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------

static START_COUNT: AtomicU32 = AtomicU32::new(0);

/// Where the master's stdout and stderr go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Output {
    /// Pipes copied into the log files by threads.
    Pipes,
    /// The log files themselves.
    Files,
}

/// A running `mailkeep serve`. Stopped (SIGTERM, then SIGKILL) when dropped;
/// on a panic its logs are printed.
pub struct Server<'a> {
    /// The test's directory, holding the data dir, config and logs.
    pub dir: &'a TestDir,
    /// The IMAP port on 127.0.0.1.
    pub port: u16,
    /// The config file this server was started with.
    pub config: PathBuf,
    /// The master's stdout and stderr (children inherit them).
    pub stdout_log: PathBuf,
    /// See `stdout_log`.
    pub stderr_log: PathBuf,
    child: Option<Child>,
}

impl<'a> Server<'a> {
    /// Starts a server with data in `dir` on a fresh port and waits until
    /// it greets with `* OK`. Retries with another port if the chosen one
    /// was taken meanwhile.
    pub fn start(dir: &'a TestDir) -> Server<'a> {
        Self::start_with(dir, "")
    }

    /// Like [`Server::start`], with `extra_imap` (TOML `key = value` lines)
    /// added to the `[imap]` section of the config file; see [`config_text`].
    pub fn start_with(dir: &'a TestDir, extra_imap: &str) -> Server<'a> {
        Self::start_full(dir, extra_imap, Output::Pipes)
    }

    /// Like [`Server::start`], with the master's stdout and stderr going
    /// straight to the log files (regular files) instead of pipes.
    pub fn start_logging_to_files(dir: &'a TestDir) -> Server<'a> {
        Self::start_full(dir, "", Output::Files)
    }

    /// Like [`Server::start`], but the server runs as `uid` (its gid too),
    /// through `setpriv`, as an administrator without root would run it.
    pub fn start_as(dir: &'a TestDir, uid: u32) -> Server<'a> {
        Self::start_full_as(dir, "", Output::Pipes, Some(uid))
    }

    fn start_full(dir: &'a TestDir, extra_imap: &str, output: Output) -> Server<'a> {
        Self::start_full_as(dir, extra_imap, output, None)
    }

    fn start_full_as(
        dir: &'a TestDir,
        extra_imap: &str,
        output: Output,
        run_as: Option<u32>,
    ) -> Server<'a> {
        let mut last_error = String::new();
        for _attempt in 0..3 {
            match Self::try_start(dir, extra_imap, output, run_as) {
                Ok(server) => return server,
                Err(e) => last_error = e,
            }
        }
        panic!("the server did not start:\n{last_error}");
    }

    fn try_start(
        dir: &'a TestDir,
        extra_imap: &str,
        output: Output,
        run_as: Option<u32>,
    ) -> Result<Server<'a>, String> {
        let n = START_COUNT.fetch_add(1, Ordering::Relaxed);
        let port = free_port();
        let config = dir.path().join(format!("mailkeep-{n}.toml"));
        fs::write(&config, config_text(&dir.data_dir(), port, extra_imap))
            .expect("writing the config file");
        let stdout_log = dir.path().join(format!("stdout-{n}.log"));
        let stderr_log = dir.path().join(format!("stderr-{n}.log"));
        let mut cmd = match run_as {
            None => Command::new(BIN),
            Some(uid) => {
                let mut c = Command::new("setpriv");
                c.arg(format!("--reuid={uid}"))
                    .arg(format!("--regid={uid}"))
                    .arg("--clear-groups")
                    .arg(BIN);
                c
            }
        };
        cmd.arg("serve")
            .arg("--config")
            .arg(&config)
            .current_dir(dir.path())
            .stdin(Stdio::null());
        // By default pipes, which threads copy into the log files, as under
        // a service manager; `serve_with_output_to_files` covers files.
        match output {
            Output::Pipes => {
                cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
            }
            Output::Files => {
                cmd.stdout(fs::File::create(&stdout_log).expect("creating the stdout log"))
                    .stderr(fs::File::create(&stderr_log).expect("creating the stderr log"));
            }
        }
        let mut child = cmd.spawn().map_err(|e| format!("spawning {BIN}: {e}"))?;
        if output == Output::Pipes {
            copy_to_file(child.stdout.take(), &stdout_log);
            copy_to_file(child.stderr.take(), &stderr_log);
        }
        let mut server = Server {
            dir,
            port,
            config,
            stdout_log,
            stderr_log,
            child: Some(child),
        };
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = server.child_mut().try_wait().expect("try_wait") {
                let logs = server.logs();
                server.child = None;
                return Err(format!("mailkeep serve exited early with {status}\n{logs}"));
            }
            if let Ok(mut conn) = Imap::connect_timeout(port, Duration::from_secs(2)) {
                conn.close();
                return Ok(server);
            }
            if Instant::now() >= deadline {
                let logs = server.logs();
                // Dropping stops it.
                drop(server);
                return Err(format!(
                    "no `* OK` greeting on port {port} within {DEADLINE:?}\n{logs}"
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts a server whose listeners are bound by the test first and
    /// passed as systemd socket activation does (descriptors from 3 on,
    /// `LISTEN_FDS`, `LISTEN_FDNAMES`, and `LISTEN_PID` set to the
    /// server's own pid by `sh -c 'LISTEN_PID=$$ exec ...'`), so there is
    /// no race for a port. `listeners` are `(name, kind)` pairs, each bound
    /// to 127.0.0.1:0; the first must be plain text (its port becomes
    /// `port`, and the server is up once it greets there). `extra` is TOML
    /// appended to the config file. Returns the server and each listener's
    /// port by name.
    pub fn start_prebound(
        dir: &'a TestDir,
        listeners: &[(&str, &str)],
        extra: &str,
    ) -> (Server<'a>, std::collections::HashMap<String, u16>) {
        use command_fds::{CommandFdExt, FdMapping};
        let n = START_COUNT.fetch_add(1, Ordering::Relaxed);
        let mut text = format!(
            "[server]\ndata_dir = \"{}\"\n\n[auth]\nfailure_delay_ms = 200\n\
             max_failure_delay_ms = 400\n\n[master]\nrestart_backoff_ms = 50\n\n",
            dir.data_dir().display()
        );
        let mut ports = std::collections::HashMap::new();
        let mut mappings = Vec::new();
        for (i, (name, kind)) in listeners.iter().enumerate() {
            let socket = TcpListener::bind("127.0.0.1:0").expect("binding a listener");
            let port = socket.local_addr().expect("local address").port();
            text.push_str(&format!(
                "[[imap.listener]]\nname = \"{name}\"\naddress = \"127.0.0.1:{port}\"\nkind = \"{kind}\"\n\n"
            ));
            ports.insert(name.to_string(), port);
            mappings.push(FdMapping {
                parent_fd: std::os::fd::OwnedFd::from(socket),
                child_fd: 3 + i as i32,
            });
        }
        text.push_str(extra);
        let config = dir.path().join(format!("mailkeep-{n}.toml"));
        fs::write(&config, text).expect("writing the config file");
        let stdout_log = dir.path().join(format!("stdout-{n}.log"));
        let stderr_log = dir.path().join(format!("stderr-{n}.log"));
        let names: Vec<&str> = listeners.iter().map(|(name, _)| *name).collect();
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg("LISTEN_PID=$$ exec \"$0\" \"$@\"")
            .arg(BIN)
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .env("LISTEN_FDS", listeners.len().to_string())
            .env("LISTEN_FDNAMES", names.join(":"))
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd.fd_mappings(mappings).expect("passing the listeners");
        let mut child = cmd.spawn().expect("spawning mailkeep serve");
        // Our copies of the sockets go: only the server listens now.
        drop(cmd);
        copy_to_file(child.stdout.take(), &stdout_log);
        copy_to_file(child.stderr.take(), &stderr_log);
        let port = listeners
            .first()
            .and_then(|(name, _)| ports.get(*name).copied())
            .expect("a first listener");
        let mut server = Server {
            dir,
            port,
            config,
            stdout_log,
            stderr_log,
            child: Some(child),
        };
        // The sockets listen already: the first connection waits in the
        // backlog until an imap process accepts it and greets.
        match Imap::connect(port) {
            Ok(mut c) => c.close(),
            Err(e) => {
                if let Ok(Some(status)) = server.child_mut().try_wait() {
                    panic!("mailkeep serve exited with {status}\n{}", server.logs());
                }
                panic!(
                    "no greeting on the pre-bound port {port}: {e}\n{}",
                    server.logs()
                );
            }
        }
        (server, ports)
    }

    fn child_mut(&mut self) -> &mut Child {
        self.child.as_mut().expect("the server is running")
    }

    /// The master's pid.
    pub fn pid(&self) -> i32 {
        self.child.as_ref().expect("the server is running").id() as i32
    }

    /// Everything the master printed on stdout so far.
    pub fn stdout(&self) -> String {
        fs::read_to_string(&self.stdout_log).unwrap_or_default()
    }

    /// Both logs, for failure messages.
    pub fn logs(&self) -> String {
        let err = fs::read_to_string(&self.stderr_log).unwrap_or_default();
        let tail: Vec<&str> = err.lines().rev().take(300).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        format!(
            "--- mailkeep stdout ---\n{}\n--- mailkeep stderr (last 300 lines) ---\n{}\n---",
            self.stdout(),
            tail.join("\n")
        )
    }

    /// Runs `mailkeep user add NAME --config FILE` with the password on stdin.
    pub fn add_user(&self, name: &str, password: &str) {
        run_user_cmd(&self.config, &["add", name], Some(password));
    }

    /// Opens a client connection (greeting checked).
    pub fn connect(&self) -> Imap {
        Imap::connect(self.port)
            .unwrap_or_else(|e| panic!("connecting to the server: {e}\n{}", self.logs()))
    }

    /// Opens a client connection and logs in, asserting OK.
    pub fn login(&self, user: &str, password: &str) -> Imap {
        let mut c = self.connect();
        let r = c.login(user, password).expect("LOGIN");
        assert!(
            r.is_ok(),
            "LOGIN {user} failed: {}\n{}",
            r.tagged,
            self.logs()
        );
        c
    }

    /// The master's live (non-zombie) children.
    pub fn children(&self) -> Vec<ProcInfo> {
        children_of(self.pid())
    }

    /// Live children running `role ROLE` (and, if given, `--owner OWNER`).
    pub fn role_procs(&self, role: &str, owner: Option<&str>) -> Vec<ProcInfo> {
        self.children()
            .into_iter()
            .filter(|p| p.role() == Some(role))
            .filter(|p| owner.is_none() || p.flag("--owner") == owner)
            .collect()
    }

    /// Waits for exactly one live `role` child (with `owner`, if given)
    /// other than `not_pid`, and returns it.
    pub fn wait_role(&self, role: &str, owner: Option<&str>, not_pid: Option<i32>) -> ProcInfo {
        self.wait_role_within(role, owner, not_pid, DEADLINE)
    }

    /// [`Server::wait_role`] with a bound of `timeout`.
    pub fn wait_role_within(
        &self,
        role: &str,
        owner: Option<&str>,
        not_pid: Option<i32>,
        timeout: Duration,
    ) -> ProcInfo {
        let what = format!("a `role {role}` child process (owner {owner:?}, not pid {not_pid:?})");
        let deadline = Instant::now() + timeout;
        loop {
            let found: Vec<ProcInfo> = self
                .role_procs(role, owner)
                .into_iter()
                .filter(|p| Some(p.pid) != not_pid)
                .collect();
            if found.len() == 1 {
                return found.into_iter().next().unwrap_or_else(|| unreachable!());
            }
            if Instant::now() >= deadline {
                panic!(
                    "timed out waiting for {what}; found {found:?}; all children: {:?}\n{}",
                    self.children(),
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends SIGTERM and waits for the master to exit (SIGKILL after
    /// [`STOP_GRACE`], which fails the test). Returns the exit status.
    pub fn stop(&mut self) -> ExitStatus {
        let pid = self.pid();
        signal(pid, Signal::SIGTERM);
        let deadline = Instant::now() + STOP_GRACE;
        loop {
            if let Some(status) = self.child_mut().try_wait().expect("try_wait") {
                self.child = None;
                return status;
            }
            if Instant::now() >= deadline {
                let logs = self.logs();
                signal(pid, Signal::SIGKILL);
                let _ = self.child_mut().wait();
                self.child = None;
                panic!("mailkeep serve did not exit within {STOP_GRACE:?} of SIGTERM\n{logs}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.logs());
        }
        let Some(child) = self.child.as_mut() else {
            return;
        };
        if let Ok(Some(_)) = child.try_wait() {
            self.child = None;
            return;
        }
        let pid = child.id() as i32;
        let kids = children_of(pid);
        signal(pid, Signal::SIGTERM);
        let deadline = Instant::now() + STOP_GRACE;
        loop {
            match child.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) if Instant::now() >= deadline => {
                    signal(pid, Signal::SIGKILL);
                    let _ = child.wait();
                    break;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        // Children the master failed to stop: only those still running our
        // binary in a role (the pid may have been reused otherwise).
        for k in kids {
            if proc_info(k.pid).is_some_and(|p| p.role().is_some() && !p.is_zombie()) {
                signal(k.pid, Signal::SIGKILL);
            }
        }
        self.child = None;
    }
}

/// Copies everything from `pipe` into a new file at `path`, on a thread,
/// until every writer has closed the pipe.
fn copy_to_file(pipe: Option<impl Read + Send + 'static>, path: &Path) {
    let mut file = fs::File::create(path).expect("creating a log file");
    if let Some(mut pipe) = pipe {
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            loop {
                match pipe.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        if file.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
        });
    }
}

/// The config file text the harness uses: data in `data_dir`, IMAP on
/// 127.0.0.1:`port` (plain text, the only listener), short login-failure delays and restart backoff.
/// `extra_imap` is added to the `[imap]` section.
pub fn config_text(data_dir: &Path, port: u16, extra_imap: &str) -> String {
    format!(
        "[server]\n\
         data_dir = \"{}\"\n\
         \n\
         [imap]\n\
         {extra_imap}\n\
         \n\
         [[imap.listener]]\n\
         name = \"imap\"\n\
         address = \"127.0.0.1:{port}\"\n\
         kind = \"plain\"\n\
         \n\
         [auth]\n\
         failure_delay_ms = 200\n\
         max_failure_delay_ms = 400\n\
         \n\
         [master]\n\
         restart_backoff_ms = 50\n",
        data_dir.display()
    )
}

/// Runs `mailkeep user ARGS... --config CONFIG`, with `stdin_line` on stdin
/// if given, and asserts it succeeds. Returns its stdout.
pub fn run_user_cmd(config: &Path, args: &[&str], stdin_line: Option<&str>) -> String {
    let mut child = Command::new(BIN)
        .arg("user")
        .args(args)
        .arg("--config")
        .arg(config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning mailkeep user");
    {
        let mut stdin = child.stdin.take().expect("stdin");
        if let Some(line) = stdin_line {
            stdin
                .write_all(format!("{line}\n").as_bytes())
                .expect("writing the password");
        }
    }
    let out = wait_output(child, DEADLINE);
    assert!(
        out.status.success(),
        "mailkeep user {args:?} failed with {}:\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Waits for `child` (with piped stdout/stderr) to finish within `timeout`;
/// kills it and panics otherwise.
pub fn wait_output(mut child: Child, timeout: Duration) -> std::process::Output {
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let out_thread = std::thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(s) = stdout.as_mut() {
            let _ = s.read_to_end(&mut v);
        }
        v
    });
    let err_thread = std::thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(s) = stderr.as_mut() {
            let _ = s.read_to_end(&mut v);
        }
        v
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            let out = out_thread.join().unwrap_or_default();
            let err = err_thread.join().unwrap_or_default();
            panic!(
                "child process did not finish within {timeout:?}\nstdout: {}\nstderr: {}",
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(&err)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    std::process::Output {
        status,
        stdout: out_thread.join().unwrap_or_default(),
        stderr: err_thread.join().unwrap_or_default(),
    }
}

/// Sends `sig` to `pid`, ignoring errors (the process may be gone).
pub fn signal(pid: i32, sig: Signal) {
    let _ = kill(Pid::from_raw(pid), sig);
}

// ---------------------------------------------------------------------------
// Processes, through /proc
// ---------------------------------------------------------------------------

/// What `/proc` says about a process.
#[derive(Debug, Clone)]
pub struct ProcInfo {
    /// Its pid.
    pub pid: i32,
    /// Its parent's pid.
    pub ppid: i32,
    /// The state letter from `/proc/PID/stat` (`Z` for a zombie).
    pub state: char,
    /// Its argv (empty for zombies and kernel threads).
    pub argv: Vec<String>,
}

impl ProcInfo {
    /// The role name if this is `mailkeep role NAME ...`.
    pub fn role(&self) -> Option<&str> {
        let i = self.argv.iter().position(|a| a == "role")?;
        self.argv.get(i + 1).map(String::as_str)
    }

    /// The value after `flag` in argv (`--owner alice` → `alice`).
    pub fn flag(&self, flag: &str) -> Option<&str> {
        let i = self.argv.iter().position(|a| a == flag)?;
        self.argv.get(i + 1).map(String::as_str)
    }

    /// Whether it has exited but not been reaped.
    pub fn is_zombie(&self) -> bool {
        self.state == 'Z' || self.state == 'X'
    }

    /// `/proc/PID/status`.
    pub fn status(&self) -> String {
        fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap_or_default()
    }

    /// The numbers of a `/proc/PID/status` line such as `Uid:` (real,
    /// effective, saved, filesystem) or `Groups:`.
    pub fn status_numbers(&self, field: &str) -> Vec<u32> {
        status_numbers(&self.status(), field)
    }
}

/// The numbers on the line starting with `field` (e.g. "Uid:") of a
/// `/proc/PID/status` text.
pub fn status_numbers(status: &str, field: &str) -> Vec<u32> {
    status
        .lines()
        .find(|l| l.starts_with(field))
        .map(|l| {
            l[field.len()..]
                .split_whitespace()
                .filter_map(|n| n.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Reads `/proc/PID/stat` and `/proc/PID/cmdline`; `None` if it is gone.
pub fn proc_info(pid: i32) -> Option<ProcInfo> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    let after = &stat[stat.rfind(')')? + 1..];
    let mut fields = after.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let argv = cmdline
        .split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect();
    Some(ProcInfo {
        pid,
        ppid,
        state,
        argv,
    })
}

/// The live (non-zombie) children of `ppid`.
pub fn children_of(ppid: i32) -> Vec<ProcInfo> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(proc_info)
        .filter(|p| p.ppid == ppid && !p.is_zombie())
        .collect()
}

/// Whether `pid` still runs (exists and is not a zombie).
pub fn alive(pid: i32) -> bool {
    proc_info(pid).is_some_and(|p| !p.is_zombie())
}

// ---------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------

/// A test message of about `size` bytes, CRLF line endings, with the unique
/// `Message-ID: <ID@mailkeep.test>` and lines that differ from each other
/// (so that a misplaced chunk shows).
pub fn make_message(id: &str, size: usize) -> Vec<u8> {
    let mut m = format!(
        "From: Test Sender <sender@mailkeep.test>\r\n\
         To: Alice <alice@mailkeep.test>\r\n\
         Subject: test message {id}\r\n\
         Date: Sat, 28 Nov 2026 14:00:00 +0000\r\n\
         Message-ID: <{id}@mailkeep.test>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=us-ascii\r\n\
         \r\n"
    )
    .into_bytes();
    let mut line = 0u64;
    while m.len() < size {
        line += 1;
        // Lines of varying length and content.
        let width = 20 + (line * 7919 % 57) as usize;
        let fill: String = (0..width)
            .map(|i| char::from(b'a' + ((line as usize * 31 + i * 7) % 26) as u8))
            .collect();
        m.extend_from_slice(format!("{id} line {line:06} {fill}\r\n").as_bytes());
    }
    m
}

/// Standard base64 (with padding), for SASL.
pub fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// IMAP quoted string.
pub fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

// ---------------------------------------------------------------------------
// A tiny IMAP client
// ---------------------------------------------------------------------------

/// One server response: its text, with each literal's contents taken out
/// (the `{N}` stays in the text) and kept in `literals`, in order.
#[derive(Debug, Clone)]
pub struct Response {
    /// The response, lossily decoded, CRLFs removed.
    pub text: String,
    /// The literals' bytes.
    pub literals: Vec<Vec<u8>>,
}

/// The answer to one command: the untagged (and continuation) responses
/// that came before the tagged one, and the tagged line.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Responses before the tagged one.
    pub untagged: Vec<Response>,
    /// The tagged response line, e.g. `t3 OK [APPENDUID 7 5] APPEND completed`.
    pub tagged: String,
}

impl Reply {
    /// The status word of the tagged line: OK, NO or BAD.
    pub fn status(&self) -> &str {
        self.tagged.split_whitespace().nth(1).unwrap_or("")
    }

    /// Whether the command succeeded.
    pub fn is_ok(&self) -> bool {
        self.status().eq_ignore_ascii_case("OK")
    }

    /// Whether an untagged response's text equals `text` (case-insensitive).
    pub fn has_untagged(&self, text: &str) -> bool {
        self.untagged
            .iter()
            .any(|r| r.text.eq_ignore_ascii_case(text))
    }

    /// `(uidvalidity, uid)` from `[APPENDUID v uid]` in the tagged line.
    pub fn appenduid(&self) -> Option<(u32, u32)> {
        let upper = self.tagged.to_ascii_uppercase();
        let start = upper.find("[APPENDUID ")? + "[APPENDUID ".len();
        let end = start + upper[start..].find(']')?;
        let mut it = upper[start..end].split_whitespace();
        Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
    }

    /// The number in an untagged `* OK [CODE n]` (e.g. UIDVALIDITY).
    pub fn code_number(&self, code: &str) -> Option<u64> {
        let needle = format!("[{} ", code.to_ascii_uppercase());
        self.untagged.iter().find_map(|r| {
            let upper = r.text.to_ascii_uppercase();
            let start = upper.find(&needle)? + needle.len();
            upper[start..]
                .split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        })
    }

    /// The untagged FETCH responses.
    pub fn fetches(&self) -> Vec<&Response> {
        self.untagged
            .iter()
            .filter(|r| {
                let mut w = r.text.split_whitespace();
                w.next() == Some("*")
                    && w.next().is_some_and(|n| n.parse::<u32>().is_ok())
                    && w.next().is_some_and(|s| s.eq_ignore_ascii_case("FETCH"))
            })
            .collect()
    }
}

impl Response {
    /// The number after `item` in a FETCH response (`UID 7` → 7).
    pub fn item_number(&self, item: &str) -> Option<u64> {
        let words: Vec<&str> = self
            .text
            .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
            .filter(|w| !w.is_empty())
            .collect();
        let i = words.iter().position(|w| w.eq_ignore_ascii_case(item))?;
        words.get(i + 1)?.parse().ok()
    }
}

/// A synchronous IMAP client over one TCP connection, with read and write
/// timeouts of [`DEADLINE`] so that a silent server fails the test instead
/// of hanging it.
pub struct Imap {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    next_tag: u32,
    /// The greeting line.
    pub greeting: String,
}

impl Imap {
    /// Connects to 127.0.0.1:`port` and reads the greeting, which must be
    /// `* OK`.
    pub fn connect(port: u16) -> io::Result<Imap> {
        Self::connect_timeout(port, DEADLINE)
    }

    /// Like [`Imap::connect`], waiting at most `timeout` for the greeting.
    pub fn connect_timeout(port: u16, timeout: Duration) -> io::Result<Imap> {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let stream = TcpStream::connect_timeout(&addr, timeout)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(DEADLINE))?;
        stream.set_nodelay(true)?;
        let writer = stream.try_clone()?;
        let mut c = Imap {
            reader: BufReader::new(stream),
            writer,
            next_tag: 1,
            greeting: String::new(),
        };
        let greeting = c.read_response()?;
        if !greeting.text.starts_with("* OK") {
            return Err(io::Error::other(format!(
                "unexpected greeting: {}",
                greeting.text
            )));
        }
        c.greeting = greeting.text;
        c.reader.get_ref().set_read_timeout(Some(DEADLINE))?;
        Ok(c)
    }

    /// Sets the read timeout (default [`DEADLINE`]).
    pub fn set_read_timeout(&self, t: Duration) -> io::Result<()> {
        self.reader.get_ref().set_read_timeout(Some(t))
    }

    /// A fresh tag.
    pub fn tag(&mut self) -> String {
        let t = format!("t{}", self.next_tag);
        self.next_tag += 1;
        t
    }

    /// Sends raw bytes.
    pub fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.writer.write_all(bytes)?;
        self.writer.flush()
    }

    /// Reads one response line (with its literals).
    pub fn read_response(&mut self) -> io::Result<Response> {
        let mut text = Vec::new();
        let mut literals = Vec::new();
        loop {
            let mut line = Vec::new();
            let n = (&mut self.reader)
                .take(1 << 20)
                .read_until(b'\n', &mut line)?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "connection closed by the server (partial response: {:?})",
                        String::from_utf8_lossy(&text)
                    ),
                ));
            }
            if !line.ends_with(b"\n") {
                return Err(io::Error::other("response line over 1 MiB or cut off"));
            }
            while line.last().is_some_and(|&b| b == b'\n' || b == b'\r') {
                line.pop();
            }
            let size = literal_size(&line);
            text.extend_from_slice(&line);
            match size {
                Some(size) => {
                    let mut lit = vec![0u8; size];
                    self.reader.read_exact(&mut lit)?;
                    literals.push(lit);
                }
                None => break,
            }
        }
        Ok(Response {
            text: String::from_utf8_lossy(&text).into_owned(),
            literals,
        })
    }

    /// Reads responses until the one tagged `tag`.
    pub fn read_reply(&mut self, tag: &str) -> io::Result<Reply> {
        let prefix = format!("{tag} ");
        let mut untagged = Vec::new();
        loop {
            let r = self.read_response()?;
            if r.text.starts_with(&prefix) {
                return Ok(Reply {
                    untagged,
                    tagged: r.text,
                });
            }
            untagged.push(r);
        }
    }

    /// Runs one command (without literals) and reads its reply.
    pub fn run(&mut self, command: &str) -> io::Result<Reply> {
        let tag = self.tag();
        self.send_raw(format!("{tag} {command}\r\n").as_bytes())?;
        self.read_reply(&tag)
    }

    /// Runs `command` and asserts the reply is OK.
    pub fn ok(&mut self, command: &str) -> Reply {
        let r = self
            .run(command)
            .unwrap_or_else(|e| panic!("{command}: {e}"));
        assert!(r.is_ok(), "{command} failed: {r:?}");
        r
    }

    /// LOGIN with quoted strings.
    pub fn login(&mut self, user: &str, password: &str) -> io::Result<Reply> {
        self.run(&format!("LOGIN {} {}", quote(user), quote(password)))
    }

    /// APPEND with a synchronizing literal: waits for the `+` continuation
    /// before sending the message. If the server answers with the tagged
    /// reply instead (e.g. NO [TOOBIG]), returns it without sending it.
    pub fn append(&mut self, mailbox: &str, flags: &str, message: &[u8]) -> io::Result<Reply> {
        let tag = self.tag();
        let flags = if flags.is_empty() {
            String::new()
        } else {
            format!("({flags}) ")
        };
        self.send_raw(
            format!(
                "{tag} APPEND {} {flags}{{{}}}\r\n",
                quote(mailbox),
                message.len()
            )
            .as_bytes(),
        )?;
        let prefix = format!("{tag} ");
        let mut untagged = Vec::new();
        loop {
            let r = self.read_response()?;
            if r.text.starts_with('+') {
                break;
            }
            if r.text.starts_with(&prefix) {
                return Ok(Reply {
                    untagged,
                    tagged: r.text,
                });
            }
            untagged.push(r);
        }
        self.writer.write_all(message)?;
        self.writer.write_all(b"\r\n")?;
        self.writer.flush()?;
        let mut reply = self.read_reply(&tag)?;
        untagged.append(&mut reply.untagged);
        reply.untagged = untagged;
        Ok(reply)
    }

    /// Reads until the server closes the connection (EOF or reset) and
    /// returns what came, or fails if it is still open after `timeout`.
    pub fn read_until_closed(&mut self, timeout: Duration) -> io::Result<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        let mut got = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "the server kept the connection open for {timeout:?}; received: {:?}",
                        String::from_utf8_lossy(&got)
                    ),
                ));
            }
            self.reader.get_ref().set_read_timeout(Some(left))?;
            match self.reader.read(&mut buf) {
                Ok(0) => return Ok(got),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted
                    ) =>
                {
                    return Ok(got);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Closes the connection without LOGOUT.
    pub fn close(&mut self) {
        let _ = self.writer.shutdown(Shutdown::Both);
    }

    /// LOGOUT, checking the BYE and the tagged OK.
    pub fn logout(mut self) {
        let r = self.run("LOGOUT").expect("LOGOUT");
        assert!(r.is_ok(), "LOGOUT: {r:?}");
        assert!(
            r.untagged
                .iter()
                .any(|u| u.text.to_ascii_uppercase().starts_with("* BYE")),
            "LOGOUT without * BYE: {r:?}"
        );
    }
}

/// The size of the literal a response line ends with (`... {123}`).
fn literal_size(line: &[u8]) -> Option<usize> {
    let rest = line.strip_suffix(b"}")?;
    let open = rest.iter().rposition(|&b| b == b'{')?;
    let digits = &rest[open + 1..];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}
