//! The real confinement, applied to a real process: each test runs this
//! test binary again as a child (selecting itself, with `PROBE_MODE` set),
//! which confines itself with [`confine_protocol_process`] exactly as a
//! protocol process does, says it is ready, and waits; the test reads the
//! child's `/proc/PID/status` while it runs, lets it go on, and reads what
//! each forbidden and each allowed call did.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use mailkeep_sandbox::{Allowances, confine_protocol_process};
use nix::errno::Errno;
use nix::sys::socket::{AddressFamily, SockFlag, SockType, socket};

const PROBE_MODE: &str = "MAILKEEP_SANDBOX_PROBE_MODE";
const PROBE_DIR: &str = "MAILKEEP_SANDBOX_PROBE_DIR";

/// What the child printed: `call=outcome` per probe.
type Outcomes = BTreeMap<String, String>;

/// Runs this binary's test `test` as a confined child in `mode`, and
/// returns the child's `/proc/PID/status` (read while it was confined and
/// waiting) and what each of its calls did.
fn run_child(test: &str, mode: &str, dir: &Path) -> (String, Outcomes) {
    let exe = std::env::current_exe().expect("own executable");
    let mut child = Command::new(exe)
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(PROBE_MODE, mode)
        .env(PROBE_DIR, dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting the probe child");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    loop {
        line.clear();
        let n = out.read_line(&mut line).expect("reading the child");
        assert!(n > 0, "the child ended before it was confined");
        if line.trim() == "probe:ready" {
            break;
        }
    }
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", child.id())).expect("child status");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"go\n")
        .expect("telling the child to go on");
    let mut rest = String::new();
    out.read_to_string(&mut rest).expect("reading the child");
    let exit = child.wait().expect("waiting for the child");
    assert!(exit.success(), "the probe child failed: {exit:?}\n{rest}");
    let outcomes = rest
        .lines()
        .filter_map(|l| l.strip_prefix("probe:"))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    (status, outcomes)
}

/// The value of a `/proc/PID/status` field.
fn field<'a>(status: &'a str, name: &str) -> &'a str {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {name} in\n{status}"))
}

fn outcome<T>(result: Result<T, Errno>) -> String {
    match result {
        Ok(_) => "ok".into(),
        Err(e) => format!("{e:?}"),
    }
}

fn io_outcome<T>(result: std::io::Result<T>) -> String {
    outcome(result.map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(0))))
}

/// The child's side: what it holds before, the confinement, then one call
/// of each kind.
fn probe(mode: &str) {
    let dir = std::path::PathBuf::from(std::env::var(PROBE_DIR).expect("probe dir"));
    let secret = dir.join("secret");
    // Held before confinement: an open file, a connected socket pair, a
    // listener with a client waiting in its backlog.
    let mut held_file = std::fs::File::open(&secret).expect("opening the file before");
    let (mut ours, mut theirs) = std::os::unix::net::UnixStream::pair().expect("pair");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let client = std::net::TcpStream::connect(listener.local_addr().expect("addr")).expect("c");

    let allow = Allowances {
        outbound_tcp: mode == "tcp",
        read_dirs: match mode {
            "read" => vec![dir.join("readable")],
            _ => Vec::new(),
        },
        write_dirs: match mode {
            "write" | "switch" => vec![dir.join("home")],
            _ => Vec::new(),
        },
        switch_credentials: mode == "switch",
        ..Allowances::default()
    };
    let confinement = confine_protocol_process(&allow).expect("confining");
    println!("probe:landlock={:?}", confinement.landlock);
    println!("probe:ready");
    let mut go = String::new();
    std::io::stdin().read_line(&mut go).expect("waiting to go");

    let report = |name: &str, result: String| println!("probe:{name}={result}");
    // Forbidden.
    report("open", io_outcome(std::fs::File::open(&secret)));
    report("create", io_outcome(std::fs::File::create(dir.join("new"))));
    report("unlink", io_outcome(std::fs::remove_file(&secret)));
    report("mkdir", io_outcome(std::fs::create_dir(dir.join("d"))));
    report(
        "execve",
        outcome(nix::unistd::execv(c"/bin/true", &[c"true"])),
    );
    report(
        "socket_unix",
        outcome(socket(
            AddressFamily::Unix,
            SockType::Stream,
            SockFlag::empty(),
            None,
        )),
    );
    report(
        "socket_inet_stream",
        outcome(socket(
            AddressFamily::Inet,
            SockType::Stream,
            SockFlag::SOCK_CLOEXEC,
            None,
        )),
    );
    report(
        "socket_inet_datagram",
        outcome(socket(
            AddressFamily::Inet,
            SockType::Datagram,
            SockFlag::empty(),
            None,
        )),
    );
    report(
        "socketpair_datagram",
        outcome(nix::sys::socket::socketpair(
            AddressFamily::Unix,
            SockType::Datagram,
            None,
            SockFlag::empty(),
        )),
    );
    report(
        "socketpair_stream",
        outcome(nix::sys::socket::socketpair(
            AddressFamily::Unix,
            SockType::Stream,
            None,
            SockFlag::SOCK_CLOEXEC,
        )),
    );
    report(
        "connect_unix_path",
        io_outcome(std::os::unix::net::UnixStream::connect(dir.join("sock"))),
    );
    report("ptrace", outcome(nix::sys::ptrace::traceme()));
    report(
        "mount",
        outcome(nix::mount::mount(
            Some("none"),
            &dir,
            Some("tmpfs"),
            nix::mount::MsFlags::empty(),
            None::<&str>,
        )),
    );
    report(
        "kill_parent",
        outcome(nix::sys::signal::kill(nix::unistd::getppid(), None)),
    );
    // Beneath the directories allowed (auth, storage).
    let readable = dir.join("readable");
    report(
        "read_allowed",
        io_outcome(std::fs::read_to_string(readable.join("users"))),
    );
    report(
        "create_allowed",
        io_outcome(std::fs::File::create(readable.join("new"))),
    );
    report(
        "write_allowed",
        io_outcome(
            std::fs::OpenOptions::new()
                .append(true)
                .open(readable.join("users")),
        ),
    );
    let home = dir.join("home");
    report(
        "home_create",
        io_outcome(std::fs::write(home.join("tmp/m1"), b"mail")),
    );
    report(
        "home_rename",
        io_outcome(std::fs::rename(home.join("tmp/m1"), home.join("new/m1"))),
    );
    report(
        "home_mkdir",
        io_outcome(std::fs::create_dir(home.join(".Sent"))),
    );
    report("home_list", io_outcome(std::fs::read_dir(home.join("new"))));
    report(
        "home_unlink",
        io_outcome(std::fs::remove_file(home.join("new/m1"))),
    );
    // Credentials (shared-mode storage): setfsuid/setfsgid answer the
    // previous id, or -1 when the filter refused the call; -1 as the
    // argument only reads the current one.
    let fs_id = |previous: u32| match previous {
        u32::MAX => "EPERM".to_owned(),
        _ => "ok".to_owned(),
    };
    use nix::unistd::{Gid, Uid, setfsgid, setfsuid};
    report("setfsuid_0", fs_id(setfsuid(Uid::from_raw(0)).as_raw()));
    report("setfsgid_0", fs_id(setfsgid(Gid::from_raw(0)).as_raw()));
    report(
        "setfsuid_other",
        fs_id(setfsuid(Uid::from_raw(u32::MAX)).as_raw()),
    );
    report(
        "setfsgid_other",
        fs_id(setfsgid(Gid::from_raw(u32::MAX)).as_raw()),
    );
    report(
        "setgroups",
        outcome(nix::unistd::setgroups(&[nix::unistd::getgid()])),
    );
    report(
        "setuid",
        outcome(nix::unistd::setuid(nix::unistd::getuid())),
    );
    // Allowed: what it held, threads, a runtime.
    let mut text = String::new();
    report(
        "read_held_file",
        io_outcome(held_file.read_to_string(&mut text)),
    );
    report(
        "socket_pair_echo",
        io_outcome(theirs.write_all(b"x").and_then(|()| {
            let mut b = [0u8; 1];
            ours.read_exact(&mut b)
        })),
    );
    report("accept_held_listener", io_outcome(listener.accept()));
    drop(client);
    report(
        "thread",
        io_outcome(
            std::thread::Builder::new()
                .name("probe".into())
                .spawn(|| 7)
                .map(|h| h.join()),
        ),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build();
    report(
        "tokio_runtime",
        io_outcome(runtime.map(|rt| {
            rt.block_on(async {
                tokio::spawn(async { tokio::task::yield_now().await })
                    .await
                    .is_ok()
            })
        })),
    );
}

fn probe_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("secret"), b"mail of the same uid").expect("secret");
    std::fs::create_dir(dir.path().join("readable")).expect("readable/");
    std::fs::write(dir.path().join("readable/users"), b"alice:x\n").expect("users");
    for sub in ["home", "home/tmp", "home/new"] {
        std::fs::create_dir(dir.path().join(sub)).expect("home/");
    }
    dir
}

fn assert_outcomes(outcomes: &Outcomes, want: &[(&str, &str)]) {
    for (call, expected) in want {
        assert_eq!(
            outcomes.get(*call).map(String::as_str),
            Some(*expected),
            "{call}: all outcomes {outcomes:#?}"
        );
    }
}

/// Confined, a process runs under seccomp (mode 2) with no_new_privs, and
/// every way out fails with EPERM even on its own uid's files (open,
/// create, unlink, mkdir), and for execve, socket of any kind and
/// datagram socket pairs (so no UNIX socket path can be reached), ptrace, mount, signals to other processes
/// and executable memory; what it held before still works, and so do new
/// threads and a tokio runtime.
#[test]
fn confined_process_can_only_talk_on_what_it_holds() {
    if let Ok(mode) = std::env::var(PROBE_MODE) {
        return probe(&mode);
    }
    let dir = probe_dir();
    let (status, outcomes) = run_child(
        "confined_process_can_only_talk_on_what_it_holds",
        "closed",
        dir.path(),
    );
    assert_eq!(field(&status, "Seccomp:"), "2", "{status}");
    assert_eq!(field(&status, "NoNewPrivs:"), "1", "{status}");
    assert_outcomes(
        &outcomes,
        &[
            ("open", "EPERM"),
            ("create", "EPERM"),
            ("unlink", "EPERM"),
            ("mkdir", "EPERM"),
            ("execve", "EPERM"),
            ("socket_unix", "EPERM"),
            ("socket_inet_stream", "EPERM"),
            ("socket_inet_datagram", "EPERM"),
            ("socketpair_datagram", "EPERM"),
            ("socketpair_stream", "ok"),
            ("connect_unix_path", "EPERM"),
            ("ptrace", "EPERM"),
            ("mount", "EPERM"),
            ("kill_parent", "EPERM"),
            ("read_held_file", "ok"),
            ("socket_pair_echo", "ok"),
            ("accept_held_listener", "ok"),
            ("thread", "ok"),
            ("tokio_runtime", "ok"),
        ],
    );
    assert!(dir.path().join("secret").exists(), "the file was removed");
    assert!(!dir.path().join("new").exists(), "a file was created");
}

/// With outbound TCP allowed (the relay, which reaches other hosts'
/// gateways), TCP stream sockets can be made, and nothing else:
/// no UNIX socket, no datagram socket, still no file.
#[test]
fn outbound_tcp_allows_tcp_stream_sockets_only() {
    if let Ok(mode) = std::env::var(PROBE_MODE) {
        return probe(&mode);
    }
    let dir = probe_dir();
    let (_, outcomes) = run_child(
        "outbound_tcp_allows_tcp_stream_sockets_only",
        "tcp",
        dir.path(),
    );
    assert_outcomes(
        &outcomes,
        &[
            ("socket_inet_stream", "ok"),
            ("socket_unix", "EPERM"),
            ("socket_inet_datagram", "EPERM"),
            ("socketpair_datagram", "EPERM"),
            ("connect_unix_path", "EPERM"),
            ("open", "EPERM"),
            ("execve", "EPERM"),
        ],
    );
}

/// Auth's confinement: files beneath its one directory can be read (and
/// nothing written there, by seccomp); any other file of the same uid is
/// refused by Landlock; still no socket, no exec.
#[test]
fn reading_is_allowed_beneath_the_read_directories_only() {
    if let Ok(mode) = std::env::var(PROBE_MODE) {
        return probe(&mode);
    }
    let dir = probe_dir();
    let (status, outcomes) = run_child(
        "reading_is_allowed_beneath_the_read_directories_only",
        "read",
        dir.path(),
    );
    assert_eq!(field(&status, "Seccomp:"), "2", "{status}");
    assert_outcomes(
        &outcomes,
        &[
            ("read_allowed", "ok"),
            ("create_allowed", "EPERM"),
            ("write_allowed", "EPERM"),
            ("open", "EACCES"),
            ("home_create", "EPERM"),
            ("socket_unix", "EPERM"),
            ("socket_inet_stream", "EPERM"),
            ("execve", "EPERM"),
            ("tokio_runtime", "ok"),
        ],
    );
    assert!(
        !dir.path().join("readable/new").exists(),
        "a file was created"
    );
}

/// A storage process's confinement: beneath its homes it makes, renames,
/// lists and removes files and directories; anything else of the same uid
/// (read or made) is refused by Landlock; still no socket, no exec.
#[test]
fn changing_files_is_allowed_beneath_the_write_directories_only() {
    if let Ok(mode) = std::env::var(PROBE_MODE) {
        return probe(&mode);
    }
    let dir = probe_dir();
    let (_, outcomes) = run_child(
        "changing_files_is_allowed_beneath_the_write_directories_only",
        "write",
        dir.path(),
    );
    assert_outcomes(
        &outcomes,
        &[
            ("home_create", "ok"),
            ("home_rename", "ok"),
            ("home_mkdir", "ok"),
            ("home_list", "ok"),
            ("home_unlink", "ok"),
            ("open", "EACCES"),
            ("create", "EACCES"),
            ("unlink", "EACCES"),
            ("read_allowed", "EACCES"),
            ("socket_unix", "EPERM"),
            ("socket_inet_stream", "EPERM"),
            ("execve", "EPERM"),
            ("ptrace", "EPERM"),
            ("tokio_runtime", "ok"),
        ],
    );
    assert!(dir.path().join("secret").exists(), "the file was removed");
    assert!(dir.path().join("home/.Sent").is_dir(), "no folder was made");
}

/// Allowed to switch credentials (shared-mode storage), a process may set
/// its file-system uid and gid to anything but root's, and never its
/// groups (whose list a filter cannot see) nor its uid.
#[test]
fn switching_credentials_never_reaches_root_ids_nor_groups() {
    if let Ok(mode) = std::env::var(PROBE_MODE) {
        return probe(&mode);
    }
    let dir = probe_dir();
    let (_, outcomes) = run_child(
        "switching_credentials_never_reaches_root_ids_nor_groups",
        "switch",
        dir.path(),
    );
    assert_outcomes(
        &outcomes,
        &[
            ("setfsuid_0", "EPERM"),
            ("setfsgid_0", "EPERM"),
            ("setfsuid_other", "ok"),
            ("setfsgid_other", "ok"),
            ("setgroups", "EPERM"),
            ("setuid", "EPERM"),
            ("home_create", "ok"),
        ],
    );
}
