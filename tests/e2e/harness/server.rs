//! A running `mailkeep serve` for one test: its config, its listeners
//! (bound here before it starts), its logs and its processes.

use std::fs;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use command_fds::CommandFdExt;
use mailkeep_testkit::{BlockingClient, ClientError, Listeners};
use nix::sys::signal::Signal;

use super::output::{Exit, OutputWatch};
use super::procs::{ProcInfo, children_of, proc_info};
use super::{BIN, DEADLINE, STOP_GRACE, TestDir, run_user_cmd, signal};

/// Whether the harness hands the server its listening sockets already
/// bound (systemd socket activation: `LISTEN_FDS`, `LISTEN_FDNAMES`,
/// `LISTEN_PID`), so that the ports are known before the server starts and
/// no parallel test can take them. Off until the master takes inherited
/// listeners; meanwhile the server binds the ports itself, which the
/// harness picks free a moment before (a race it retries).
pub const SOCKET_ACTIVATION: bool = true;

static START_COUNT: AtomicU32 = AtomicU32::new(0);

/// How to start a server.
#[derive(Debug, Default)]
pub struct Options {
    /// TOML lines added to the `[imap]` section (they may open further
    /// sections); see [`config_text`].
    pub extra_imap: String,
    /// TOML lines added to the `[server]` section (`hostname = ...`).
    pub extra_server: String,
    /// TOML lines added to the `[auth]` section (`master_users = ...`),
    /// which the harness opens itself, so a test cannot.
    pub extra_auth: String,
    /// The master's stdout and stderr go straight to the log files instead
    /// of pipes copied into them.
    pub output_to_files: bool,
    /// Run as this uid (and gid), through `setpriv`.
    pub run_as: Option<u32>,
    /// A file the master inherits open (at [`INHERITED_FD`]), as from a
    /// careless parent: none of its children may get it.
    pub inherited_file: Option<PathBuf>,
    /// `RUST_LOG` for the server's processes (the master hands it on),
    /// e.g. to read a trace line the test counts; the inherited one
    /// otherwise.
    pub log_filter: Option<String>,
}

/// The descriptor number of [`Options::inherited_file`] in the master.
pub const INHERITED_FD: i32 = 50;

/// A running `mailkeep serve`. Stopped (SIGTERM, then SIGKILL) when dropped;
/// on a panic its logs are printed.
pub struct Server<'a> {
    /// The test's directory, holding the data dir, config and logs.
    pub dir: &'a TestDir,
    /// The (first) IMAP address.
    pub addr: SocketAddr,
    /// Its port.
    pub port: u16,
    /// Every listener the server was given, by name (`imap`, `gateway`).
    pub listeners: Vec<(String, SocketAddr)>,
    /// The config file this server was started with.
    pub config: PathBuf,
    /// The master's stdout and stderr (children inherit them).
    pub stdout_log: PathBuf,
    /// See `stdout_log`.
    pub stderr_log: PathBuf,
    output: Arc<OutputWatch>,
    pipes: bool,
    exit: Option<Exit>,
}

impl<'a> Server<'a> {
    /// Starts a server with data in `dir` and waits until it greets with
    /// `* OK`.
    pub fn start(dir: &'a TestDir) -> Server<'a> {
        Self::start_opts(dir, Options::default(), Listeners::new())
    }

    /// Like [`Server::start`], with `extra_imap` (TOML `key = value` lines)
    /// added to the `[imap]` section of the config file; see [`config_text`].
    pub fn start_with(dir: &'a TestDir, extra_imap: &str) -> Server<'a> {
        let options = Options {
            extra_imap: extra_imap.to_owned(),
            ..Options::default()
        };
        Self::start_opts(dir, options, Listeners::new())
    }

    /// Like [`Server::start`], with the master's stdout and stderr going
    /// straight to the log files (regular files) instead of pipes.
    pub fn start_logging_to_files(dir: &'a TestDir) -> Server<'a> {
        let options = Options {
            output_to_files: true,
            ..Options::default()
        };
        Self::start_opts(dir, options, Listeners::new())
    }

    /// Like [`Server::start`], but the server runs as `uid` (its gid too),
    /// through `setpriv`, as an administrator without root would run it.
    pub fn start_as(dir: &'a TestDir, uid: u32) -> Server<'a> {
        let options = Options {
            run_as: Some(uid),
            ..Options::default()
        };
        Self::start_opts(dir, options, Listeners::new())
    }

    /// Starts a server on listeners the test names with their kinds
    /// (`("imap", "plain")`, `("imaps", "tls")`), each bound to 127.0.0.1
    /// first; `extra` is TOML added to the config (it may open sections).
    /// Returns the server and each listener's port by name.
    pub fn start_prebound(
        dir: &'a TestDir,
        names: &[(&str, &str)],
        extra: &str,
    ) -> (Server<'a>, std::collections::HashMap<String, u16>) {
        let mut listeners = Listeners::new();
        for (name, _kind) in names {
            listeners
                .bind(name, IpAddr::V4(Ipv4Addr::LOCALHOST))
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let options = Options {
            extra_imap: extra.to_owned(),
            ..Options::default()
        };
        let server = Server::start_opts(dir, options, listeners);
        let ports = server
            .listeners
            .iter()
            .map(|(name, addr)| (name.clone(), addr.port()))
            .collect();
        (server, ports)
    }

    /// Starts a server as `options` say, with `listeners` (bound by the
    /// test, whose addresses its config names) besides an `imap` one on
    /// 127.0.0.1 that the harness binds if `listeners` has none.
    pub fn start_opts(dir: &'a TestDir, options: Options, listeners: Listeners) -> Server<'a> {
        if SOCKET_ACTIVATION {
            return Self::try_start(dir, &options, listeners)
                .unwrap_or_else(|e| panic!("the server did not start:\n{e}"));
        }
        // Without activation the server binds the ports itself; one picked
        // free here may be taken meanwhile, so retry with another.
        let given = listeners.all();
        drop(listeners);
        let mut last_error = String::new();
        for _attempt in 0..3 {
            let mut again = Listeners::new();
            for (name, addr) in &given {
                // Rebinding the given (now closed) address: the test wrote it
                // into its config already.
                again
                    .bind_addr(name, *addr)
                    .unwrap_or_else(|e| panic!("{e}"));
            }
            match Self::try_start(dir, &options, again) {
                Ok(server) => return server,
                Err(e) => last_error = e,
            }
        }
        panic!("the server did not start:\n{last_error}");
    }

    fn try_start(
        dir: &'a TestDir,
        options: &Options,
        mut listeners: Listeners,
    ) -> Result<Server<'a>, String> {
        if listeners.addrs("imap").is_empty() {
            listeners
                .bind("imap", IpAddr::V4(Ipv4Addr::LOCALHOST))
                .map_err(|e| e.to_string())?;
        }
        let addr = listeners.addrs("imap")[0];
        let n = START_COUNT.fetch_add(1, Ordering::Relaxed);
        let config = dir.path().join(format!("mailkeep-{n}.toml"));
        fs::write(
            &config,
            config_text(
                &dir.data_dir(),
                &options.extra_server,
                &listeners.all(),
                &options.extra_imap,
            )
            .replacen("[auth]\n", &format!("[auth]\n{}\n", options.extra_auth), 1),
        )
        .expect("writing the config file");
        let stdout_log = dir.path().join(format!("stdout-{n}.log"));
        let stderr_log = dir.path().join(format!("stderr-{n}.log"));
        let mut argv: Vec<String> = Vec::new();
        if let Some(uid) = options.run_as {
            argv.extend([
                "setpriv".to_owned(),
                format!("--reuid={uid}"),
                format!("--regid={uid}"),
                "--clear-groups".to_owned(),
            ]);
        }
        argv.extend([BIN.to_owned(), "serve".to_owned(), "--config".to_owned()]);
        argv.push(config.display().to_string());
        let bound = listeners.all();
        let mut cmd = if SOCKET_ACTIVATION {
            listeners.command(&argv).map_err(|e| e.to_string())?
        } else {
            // The server binds them itself.
            drop(listeners);
            let mut c = Command::new(&argv[0]);
            c.args(&argv[1..]);
            c
        };
        cmd.current_dir(dir.path()).stdin(Stdio::null());
        if let Some(filter) = &options.log_filter {
            cmd.env("RUST_LOG", filter);
        }
        if let Some(path) = &options.inherited_file {
            let file = fs::File::open(path).expect("opening the file to inherit");
            // Above every number the listeners are mapped to, so the two
            // mappings cannot meet.
            let high = rustix::io::fcntl_dupfd_cloexec(&file, 100).expect("dup");
            cmd.fd_mappings(vec![command_fds::FdMapping {
                parent_fd: high,
                child_fd: INHERITED_FD,
            }])
            .map_err(|e| e.to_string())?;
        }
        // By default pipes, which threads copy into the log files, as under
        // a service manager; `serve_with_output_to_files` covers files.
        if options.output_to_files {
            cmd.stdout(fs::File::create(&stdout_log).expect("creating the stdout log"))
                .stderr(fs::File::create(&stderr_log).expect("creating the stderr log"));
        } else {
            cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        }
        let spawned = cmd.spawn();
        // The command holds the parent's copies of the listeners: only the
        // server may keep them.
        drop(cmd);
        let mut child = spawned.map_err(|e| format!("spawning {argv:?}: {e}"))?;
        let output = Arc::new(OutputWatch::default());
        if !options.output_to_files {
            output.copy_to_file(child.stdout.take(), &stdout_log);
            output.copy_to_file(child.stderr.take(), &stderr_log);
        }
        let mut server = Server {
            dir,
            addr,
            port: addr.port(),
            listeners: bound,
            config,
            stdout_log,
            stderr_log,
            output,
            pipes: !options.output_to_files,
            exit: Some(Exit::watch(child)),
        };
        server.await_greeting()?;
        Ok(server)
    }

    /// Waits for the first `* OK` greeting.
    fn await_greeting(&mut self) -> Result<(), String> {
        if SOCKET_ACTIVATION {
            // The port listens already: the connection waits in its backlog
            // until the imap process accepts it, or is reset if the server
            // exits first.
            return match BlockingClient::connect(self.addr, DEADLINE) {
                Ok(mut conn) => {
                    conn.close();
                    Ok(())
                }
                Err(e) => {
                    let logs = self.logs();
                    Err(format!("no `* OK` greeting on {}: {e}\n{logs}", self.addr))
                }
            };
        }
        // The server binds the port itself: nothing to wait on but the port
        // appearing (the race that socket activation removes).
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.exit_mut().try_status() {
                let logs = self.logs();
                self.exit = None;
                return Err(format!("mailkeep serve exited early with {status}\n{logs}"));
            }
            if let Ok(mut conn) = BlockingClient::connect(self.addr, Duration::from_secs(2)) {
                conn.close();
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "no `* OK` greeting on {} within {DEADLINE:?}\n{}",
                    self.addr,
                    self.logs()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn exit_mut(&mut self) -> &mut Exit {
        self.exit.as_mut().expect("the server is running")
    }

    /// The master's pid.
    pub fn pid(&self) -> i32 {
        self.exit.as_ref().expect("the server is running").pid()
    }

    /// Everything the master printed on stdout so far.
    pub fn stdout(&self) -> String {
        fs::read_to_string(&self.stdout_log).unwrap_or_default()
    }

    /// Everything on stdout and stderr so far.
    pub fn output(&self) -> String {
        let err = fs::read_to_string(&self.stderr_log).unwrap_or_default();
        format!("{}{err}", self.stdout())
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

    /// Waits until the server's output (stdout and stderr, all of it so
    /// far) satisfies `check`, re-checking at every write; panics with
    /// `what` after `timeout`. Returns what `check` returned.
    #[track_caller]
    pub fn wait_for_output<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut check: impl FnMut(&str) -> Option<T>,
    ) -> T {
        assert!(
            self.pipes,
            "waiting on output needs the pipes (not start_logging_to_files)"
        );
        self.output
            .wait_for(timeout, || check(&self.output()))
            .unwrap_or_else(|| {
                panic!(
                    "timed out after {timeout:?} waiting for {what} in the output\n{}",
                    self.logs()
                )
            })
    }

    /// Waits until the server's output holds one more line containing
    /// `needle` than `before` (a count taken earlier with
    /// [`Server::count_in_output`]).
    #[track_caller]
    pub fn wait_for_another(&self, needle: &str, before: usize, timeout: Duration) {
        self.wait_for_output(&format!("another {needle:?}"), timeout, |out| {
            (out.matches(needle).count() > before).then_some(())
        });
    }

    /// The number of busy reports so far, once the storage processes'
    /// last load report says not busy (or none was made): a count to wait
    /// past for a busy report that is new. A slow call before (a big
    /// APPEND on a loaded machine) may have been reported busy; counted
    /// while that report is the last, the count would be passed by it.
    #[track_caller]
    pub fn busy_reports_when_calm(&self) -> usize {
        self.wait_for_output(
            "the storage processes to be reported not busy",
            DEADLINE,
            |out| {
                let last = out
                    .lines()
                    .rev()
                    .find(|l| l.contains("storage process load changed"));
                last.is_none_or(|l| l.contains("busy=false"))
                    .then(|| out.matches("busy=true").count())
            },
        )
    }

    /// How often `needle` occurs in the output so far.
    pub fn count_in_output(&self, needle: &str) -> usize {
        self.output().matches(needle).count()
    }

    /// Runs `mailkeep user add NAME --config FILE` with the password on stdin.
    pub fn add_user(&self, name: &str, password: &str) {
        run_user_cmd(&self.config, &["add", name], Some(password));
    }

    /// Runs `mailkeep user add NAME --scheme SCHEME` (`SCRAM-SHA-256`,
    /// say) with the password on stdin.
    pub fn add_user_with_scheme(&self, name: &str, password: &str, scheme: &str) {
        run_user_cmd(
            &self.config,
            &["add", name, "--scheme", scheme],
            Some(password),
        );
    }

    /// The address of the listener named `name`.
    pub fn listener(&self, name: &str) -> SocketAddr {
        self.listeners
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, a)| *a)
            .unwrap_or_else(|| panic!("no listener named {name}: {:?}", self.listeners))
    }

    /// Opens a client connection (greeting checked), or says why not.
    pub fn try_connect(&self) -> Result<BlockingClient, ClientError> {
        BlockingClient::connect(self.addr, DEADLINE)
    }

    /// Opens a client connection (greeting checked).
    pub fn connect(&self) -> BlockingClient {
        self.try_connect()
            .unwrap_or_else(|e| panic!("connecting to the server: {e}\n{}", self.logs()))
    }

    /// Opens a client connection and logs in, asserting OK.
    pub fn login(&self, user: &str, password: &str) -> BlockingClient {
        let mut c = self.connect();
        let r = c.login(user, password).expect("LOGIN");
        assert!(r.is_ok(), "LOGIN {user} failed: {r:?}\n{}", self.logs());
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

    /// [`Server::wait_role`] with a bound of `timeout`. Polls `/proc`: a
    /// process appearing signals nothing else the test could wait on.
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
            if let [one] = found.as_slice() {
                return one.clone();
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

    /// Waits until a child of `role` logged that it is confined (seccomp
    /// and Landlock in force): it starts as root and drops privileges a
    /// moment after it appears in `/proc`, so its Uid, root directory and
    /// seccomp mode are checked after this line.
    pub fn wait_confined(&self, role: &str) {
        let prefix = format!("{role}[");
        self.wait_for_output(&format!("the {role} confinement line"), DEADLINE, |out| {
            out.lines()
                .any(|l| l.contains(&prefix) && l.contains("confined: seccomp allowlist"))
                .then_some(())
        });
    }

    /// Sends SIGTERM and waits for the master to exit (SIGKILL after
    /// [`STOP_GRACE`], which fails the test). Returns the exit status.
    pub fn stop(&mut self) -> ExitStatus {
        let exit = self.exit_mut();
        exit.signal(Signal::SIGTERM);
        if let Some(status) = exit.wait_timeout(STOP_GRACE) {
            self.exit = None;
            return status;
        }
        let logs = self.logs();
        let exit = self.exit_mut();
        exit.signal(Signal::SIGKILL);
        let _ = exit.wait_timeout(STOP_GRACE);
        self.exit = None;
        panic!("mailkeep serve did not exit within {STOP_GRACE:?} of SIGTERM\n{logs}");
    }

    /// Waits until every process that held the server's stdout or stderr
    /// has exited, so that [`Server::stdout`] is all it will ever print.
    pub fn wait_output_complete(&self) {
        assert!(
            self.output.wait_closed(DEADLINE),
            "the server's output pipes are still open {DEADLINE:?} after the stop"
        );
    }
}

impl Drop for Server<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.logs());
        }
        let Some(exit) = self.exit.as_mut() else {
            return;
        };
        if exit.try_status().is_some() {
            return;
        }
        let kids = children_of(exit.pid());
        exit.signal(Signal::SIGTERM);
        if exit.wait_timeout(STOP_GRACE).is_none() {
            exit.signal(Signal::SIGKILL);
            let _ = exit.wait_timeout(STOP_GRACE);
        }
        // Children the master failed to stop: only those still running our
        // binary in a role (the pid may have been reused otherwise).
        for k in kids {
            if proc_info(k.pid).is_some_and(|p| p.role().is_some() && !p.is_zombie()) {
                signal(k.pid, Signal::SIGKILL);
            }
        }
        self.exit = None;
    }
}

/// The config file text the harness uses: data in `data_dir`, an IMAP
/// listener for every listener named `imap…` (plain) or `imaps…` (implicit
/// TLS), a POP3 one for every `pop3…` or `pop3s…` (POP3 off when there is
/// none) — others, such as `gateway`, are configured by the test —, short
/// login-failure delays and restart backoff, 127.0.0.1 and ::1 exempt from
/// the per-address limits (unless `extra_imap` sets `exempt_networks`).
/// `extra_imap` is added to the `[imap]` section.
pub fn config_text(
    data_dir: &std::path::Path,
    extra_server: &str,
    listeners: &[(String, SocketAddr)],
    extra_imap: &str,
) -> String {
    // Tests open many connections from 127.0.0.1; the per-address limits
    // are tested from 127.0.0.2 (or with their own exempt_networks).
    let exempt = if extra_imap.contains("exempt_networks") {
        ""
    } else {
        "exempt_networks = [\"127.0.0.1\", \"::1\"]\n"
    };
    let mut imap = String::new();
    // LMTP: the listeners the test bound, else only the UNIX socket under
    // the data directory (never the fixed default port, which parallel
    // servers would share).
    let mut lmtp = String::new();
    for (name, addr) in listeners.iter().filter(|(n, _)| n.starts_with("lmtp")) {
        lmtp.push_str(&format!(
            "[[lmtp.listener]]\nname = \"{name}\"\naddress = \"{addr}\"\nkind = \"plain\"\n\n"
        ));
    }
    lmtp.push_str(
        "[[lmtp.listener]]\nname = \"lmtp-unix\"\naddress = \"lmtp.sock\"\nkind = \"unix\"\n\n",
    );
    for (name, addr) in listeners {
        let kind = if name.starts_with("imaps") {
            "tls"
        } else if name.starts_with("imap") {
            "plain"
        } else {
            continue;
        };
        imap.push_str(&format!(
            "[[imap.listener]]\nname = \"{name}\"\naddress = \"{addr}\"\nkind = \"{kind}\"\n\n"
        ));
    }
    let pop3 = pop3_text(listeners, extra_imap);
    format!(
        "[server]\n\
         data_dir = \"{}\"\n\
         {extra_server}\n\
         \n\
         [auth]\n\
         failure_delay_ms = 200\n\
         local_domains = [\"example.org\"]\n\
         max_failure_delay_ms = 400\n\
         \n\
         [master]\n\
         restart_backoff_ms = 50\n\
         \n\
         {lmtp}\
         {pop3}\
         {imap}\
         [imap]\n\
         {exempt}\
         {extra_imap}\n",
        data_dir.display(),
    )
}

/// The POP3 part of [`config_text`]: a listener for every listener named
/// `pop3…` (plain) or `pop3s…` (implicit TLS), 127.0.0.1 exempt from the
/// per-address limits; with none, POP3 is off (its default ports are not
/// the test's). A test whose extra TOML opens `[pop3]` sets what it needs
/// there itself.
fn pop3_text(listeners: &[(String, SocketAddr)], extra: &str) -> String {
    let mut text = String::new();
    for (name, addr) in listeners {
        let kind = if name.starts_with("pop3s") {
            "tls"
        } else if name.starts_with("pop3") {
            "plain"
        } else {
            continue;
        };
        text.push_str(&format!(
            "[[pop3.listener]]\nname = \"{name}\"\naddress = \"{addr}\"\nkind = \"{kind}\"\n\n"
        ));
    }
    if extra.contains("[pop3]") {
        return text;
    }
    if text.is_empty() {
        return "[pop3]\nlistener = []\n\n".to_owned();
    }
    text + "[pop3]\nexempt_networks = [\"127.0.0.1\", \"::1\"]\n\n"
}
