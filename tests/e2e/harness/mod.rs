//! The test harness: a private data directory per test, the real `mailkeep`
//! binary started with its listening sockets bound beforehand (see
//! [`SOCKET_ACTIVATION`]), its output and exit watched as events, discovery
//! of its child processes through `/proc`, and account management through
//! the CLI. Tests speak IMAP with the test kit's client
//! (`mailkeep_testkit::BlockingClient`) over real sockets.
//!
//! Every wait is bounded (see [`DEADLINE`]), and every server is stopped by
//! a drop guard (SIGTERM, then SIGKILL after [`STOP_GRACE`]), so a failing
//! or hanging test never leaves processes behind.

#![allow(dead_code)]

pub mod bulk;
mod dir;
#[cfg(target_arch = "x86_64")]
pub mod inject;
pub mod output;
pub mod pop3;
pub mod postfix;
mod procs;
pub mod server;
pub mod tls;

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

pub use dir::{TestDir, files_under};
pub use output::wait_output;
pub use procs::{
    ProcInfo, SPAWNER, SWITCH_CAPS, Task, alive, children_of, proc_info, status_numbers, tasks,
};
pub use server::{INHERITED_FD, Options, Server};

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

/// Whether the outside program `program` (a real client the test drives,
/// such as `mbsync`) is installed: CI installs it (`.ci/run`), so there
/// its absence fails the test; elsewhere the test prints a note and the
/// caller returns early.
pub fn require_program(program: &str, test: &str) -> bool {
    let found = std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            std::fs::metadata(dir.join(program)).is_ok_and(|m| {
                m.is_file()
                    && std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o111 != 0
            })
        })
    });
    if found {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{test} needs `{program}`, which .ci/run installs");
    }
    eprintln!("note: {test} needs `{program}` (not installed); skipped");
    false
}

/// Polls `f` every 50 ms until it returns `Some`, or panics with `what`
/// after `timeout`. Only for what signals nothing to wait on (a process
/// appearing in or leaving `/proc`, a file the background flusher
/// writes); output and exits have their own event-driven waits.
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

/// The entries of `dir` once there are `count` of them (waited for: a
/// small message's file is written from the store's append journal after
/// its acknowledgement, by the background flusher when the store goes
/// idle or by the first reader), or a panic naming what is there after
/// 10 seconds.
pub fn files_in(dir: &std::path::Path, count: usize) -> Vec<std::fs::DirEntry> {
    let what = format!("{count} files in {}", dir.display());
    wait_until(Duration::from_secs(10), &what, || {
        let files: Vec<_> = std::fs::read_dir(dir).ok()?.flatten().collect();
        (files.len() == count).then_some(files)
    })
}

/// A port on 127.0.0.1 that was free a moment ago (racy: prefer binding a
/// listener and passing it, see [`Server::start_opts`]).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("binding an ephemeral port");
    l.local_addr().expect("local address").port()
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

/// Runs `mailkeep deliver --config CONFIG ARGS...` with `message` on
/// stdin, bounded by [`DEADLINE`]; returns its exit code and stderr.
pub fn run_deliver(config: &Path, args: &[&str], message: &[u8]) -> (Option<i32>, String) {
    let mut child = Command::new(BIN)
        .args(["deliver", "--config"])
        .arg(config)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running mailkeep deliver");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(message)
        .expect("writing the message");
    let out = wait_output(child, DEADLINE);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `tests/python/SCRIPT` with `python3` and `env`, bounded by
/// `timeout`; asserts that it exits 0 and printed `done_line` (so a script
/// that stopped early without an error does not pass). Its output is
/// printed for the test runner to show on failure. Returns its stdout.
pub fn run_python(
    script: &str,
    env: &[(&str, String)],
    done_line: &str,
    timeout: Duration,
) -> String {
    let path = workspace_root().join("tests/python").join(script);
    let child = Command::new("python3")
        .arg(&path)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting python3 (is it installed?)");
    let out = wait_output(child, timeout);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("--- {script} stdout ---\n{stdout}\n--- {script} stderr ---\n{stderr}");
    assert!(
        out.status.success(),
        "{script} failed with {}:\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    assert!(
        stdout.lines().any(|l| l == done_line),
        "{script} exited 0 without printing {done_line:?}:\n{stdout}"
    );
    stdout
}

/// Runs a real client from the system (fetchmail, interimap) to its end,
/// bounded by `timeout` (a client that hangs fails the test instead of
/// hanging it); returns its exit code and its stdout and stderr together.
pub fn run_client(command: &mut Command, timeout: Duration) -> (Option<i32>, String) {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {command:?}: {e}"));
    let out = wait_output(child, timeout);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

/// Sends `sig` to `pid`, ignoring errors (the process may be gone).
pub fn signal(pid: i32, sig: Signal) {
    let _ = kill(Pid::from_raw(pid), sig);
}

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
