//! Storage-process benchmarks (issue 4), printed as ratios against a
//! baseline measured in the same run:
//!
//! 1. LOGIN + SELECT with a lingering (warm) storage process, against the
//!    same with a cold start (a user whose storage process does not run).
//! 2. A `MailboxStatus` round trip over the storage RPC on a passed UNIX
//!    socket (the frontend's channel, from a task of a one-thread runtime
//!    as a session of the imap, pop3 or lmtp process calls), against the
//!    same store call made
//!    in-process: per-call p50 and p99 of both, measured in alternating
//!    blocks so that a neighbour's load falls on both alike, and what the
//!    RPC adds at p50.
//!
//! Runs the real `mailkeep` binary on loopback; every loop is bounded.
//! `cargo bench --bench storage_processes -- rpc` runs only the benchmarks
//! whose name (`login`, `rpc`) contains the argument.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::OwnedFd;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mailkeep_testkit::BlockingClient;

const BIN: &str = env!("CARGO_BIN_EXE_mailkeep");
const ROUNDS: usize = 20;
/// Calls timed on each side, in [`RPC_BLOCKS`] alternating blocks; the
/// environment variable `MAILKEEP_BENCH_RPC_CALLS` sets another count (more
/// calls for a profiler to attach to).
const RPC_CALLS: usize = 4000;
const RPC_BLOCKS: usize = 20;
/// Longer than the store's window in which a changed folder is rescanned.
const SETTLE: Duration = Duration::from_millis(2100);

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wanted = |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()));
    if wanted("login") {
        login_latency(dir.path());
    }
    if wanted("rpc") {
        rpc_round_trip(dir.path());
    }
}

fn rpc_calls() -> usize {
    std::env::var("MAILKEEP_BENCH_RPC_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(RPC_CALLS)
        .max(RPC_BLOCKS)
}

fn median(v: Vec<Duration>) -> Duration {
    percentile(v, 50)
}

/// The `p`th percentile (nearest rank) of `v`.
fn percentile(mut v: Vec<Duration>, p: usize) -> Duration {
    v.sort();
    let rank = (v.len() * p).div_ceil(100).clamp(1, v.len());
    v[rank - 1]
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.0.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.0.wait();
    }
}

/// One IMAP session: LOGIN, SELECT INBOX, LOGOUT; returns how long the
/// SELECT took: the first storage call of the session, which waits for the
/// storage process when it has to start. (LOGIN itself is dominated by the
/// deliberately slow password hash, the same either way.)
fn session(port: u16, user: &str) -> Duration {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut imap = BlockingClient::connect(addr, Duration::from_secs(60)).expect("connect");
    let r = imap.login(user, "secret").expect("LOGIN");
    assert!(r.is_ok(), "LOGIN: {r:?}");
    let started = Instant::now();
    let r = imap.run("SELECT INBOX").expect("SELECT");
    let took = started.elapsed();
    assert!(r.is_ok(), "SELECT: {r:?}");
    imap.logout();
    took
}

fn login_latency(dir: &Path) {
    let port = free_port();
    let config = dir.join("bench.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\ndata_dir = \"{}\"\n[[imap.listener]]\nname = \"imap\"\naddress = \"127.0.0.1:{port}\"\nkind = \"plain\"\n\
             [storage]\nlinger_min_secs = 60\n",
            dir.join("data").display()
        ),
    )
    .expect("config");
    let server = Server(
        Command::new(BIN)
            .args(["serve", "--config"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting the server"),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    for i in 0..ROUNDS {
        let mut add = Command::new(BIN)
            .args(["user", "add", &format!("u{i}"), "--config"])
            .arg(&config)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("user add");
        add.stdin
            .take()
            .expect("stdin")
            .write_all(b"secret\n")
            .expect("password");
        assert!(add.wait().expect("user add").success());
    }
    // Cold: each user's first login starts their storage process.
    let cold: Vec<Duration> = (0..ROUNDS)
        .map(|i| session(port, &format!("u{i}")))
        .collect();
    // Warm: the same users again, their processes lingering.
    let warm: Vec<Duration> = (0..ROUNDS)
        .map(|i| session(port, &format!("u{i}")))
        .collect();
    let (cold, warm) = (median(cold), median(warm));
    println!(
        "first storage call after login (SELECT): cold start {cold:?}, lingering process \
         {warm:?} (median of {ROUNDS}); \
         cold/warm = {:.1}x",
        cold.as_secs_f64() / warm.as_secs_f64().max(1e-9)
    );
    drop(server);
}

fn rpc_round_trip(dir: &Path) {
    use mailkeep_storage_rpc::broker::{ControlMessage, NewConnection, control_message};
    use mailkeep_storage_rpc::metadata::with_ticket;
    use mailkeep_storage_rpc::storage::MailboxStatusRequest;
    use mailkeep_storage_rpc::storage::storage_client::StorageClient;
    use mailkeep_ticket::{Claims, HostKey, Scope, now_unix, sign};

    let home = dir.join("rpc-home");
    std::fs::create_dir(&home).expect("home");
    let (uid, gid) = (
        nix::unistd::Uid::current().as_raw(),
        nix::unistd::Gid::current().as_raw(),
    );

    // In-process baseline on a store of its own (same size: empty INBOX).
    let local = dir.join("local-home");
    std::fs::create_dir(&local).expect("local home");
    let store = mailkeep_store::Store::open(&local.join("Maildir")).expect("store");
    store.status("INBOX").expect("status");
    // A folder changed in the last 2 s is rescanned at every call (its
    // mtime could hide a change in the same clock tick): measure the
    // settled state that most calls meet, on both sides.
    std::thread::sleep(SETTLE);
    store.status("INBOX").expect("status");

    let key = HostKey::generate();
    let key_path = dir.join("rpc.key");
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&key_path)
        .and_then(|mut f| f.write_all(format!("bench {}\n", key.public()).as_bytes()))
        .expect("trusted-host file");
    let (control_ours, control_theirs) = std::os::unix::net::UnixStream::pair().expect("pair");
    let key_fd = OwnedFd::from(std::fs::File::open(&key_path).expect("key"));
    let mut cmd = Command::new(BIN);
    cmd.args(["role", "storage", "--owner", "bench", "--home"])
        .arg(&home)
        .args(["--uid", &uid.to_string(), "--gid", &gid.to_string()])
        .args(["--fd-control", "3", "--fd-trusted", "4"])
        .stderr(Stdio::null());
    command_fds::CommandFdExt::fd_mappings(
        &mut cmd,
        vec![
            command_fds::FdMapping {
                parent_fd: OwnedFd::from(control_theirs),
                child_fd: 3,
            },
            command_fds::FdMapping {
                parent_fd: key_fd,
                child_fd: 4,
            },
        ],
    )
    .expect("fd mappings");
    let child = Server(cmd.spawn().expect("storage process"));
    // One thread, as the protocol processes run (see `one_thread_runtime`
    // in the mailkeep crate): the call's task and the channel's connection
    // task hand over on one thread, not across two workers.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // The calls run in a task of the runtime, as a session's do, over the
    // channel the frontend's storage path uses.
    let measure = async move {
        control_ours.set_nonblocking(true).expect("nonblocking");
        let control = tokio::net::UnixStream::from_std(control_ours).expect("control");
        let (ours, theirs) = std::os::unix::net::UnixStream::pair().expect("pair");
        let message = ControlMessage {
            kind: Some(control_message::Kind::NewConnection(NewConnection {
                connection_id: 1,
                ..Default::default()
            })),
        };
        mailkeep_storage_rpc::framing::send_frame(&control, &message, Some(&OwnedFd::from(theirs)))
            .await
            .expect("passing the connection");
        // Registered as the protocol processes register theirs.
        let channel = mailkeep_storage_rpc::socket_channel::socket_channel(
            mailkeep_storage_rpc::quiet_stream::QuietStream::new(OwnedFd::from(ours))
                .expect("stream"),
        )
        .await
        .expect("channel");
        let mut client =
            StorageClient::new(mailkeep_storage_rpc::leased::LeasedChannel::new(channel));
        let ticket = sign(
            &key,
            &Claims::new("bench", Scope::Session, now_unix(), 3600, "bench"),
        );
        let request = || {
            with_ticket(
                MailboxStatusRequest {
                    owner: "bench".into(),
                    name: "INBOX".into(),
                },
                &ticket,
            )
        };
        // Warm up (opens the store, settles the connection).
        for _ in 0..50 {
            client.mailbox_status(request()).await.expect("status");
        }
        tokio::time::sleep(SETTLE).await;
        client.mailbox_status(request()).await.expect("status");
        let per_block = rpc_calls() / RPC_BLOCKS;
        let (mut in_process, mut over_rpc) = (Vec::new(), Vec::new());
        for _ in 0..RPC_BLOCKS {
            for _ in 0..per_block {
                let started = Instant::now();
                store.status("INBOX").expect("status");
                in_process.push(started.elapsed());
            }
            for _ in 0..per_block {
                let started = Instant::now();
                client.mailbox_status(request()).await.expect("status");
                over_rpc.push(started.elapsed());
            }
        }
        drop(control);
        (in_process, over_rpc)
    };
    let (in_process, over_rpc) = runtime
        .block_on(async { tokio::spawn(measure).await })
        .expect("measuring task");
    drop(child);
    let (local50, rpc50) = (
        percentile(in_process.clone(), 50),
        percentile(over_rpc.clone(), 50),
    );
    let (local99, rpc99) = (percentile(in_process, 99), percentile(over_rpc, 99));
    println!(
        "MailboxStatus ({} calls each side): in-process p50 {local50:?} p99 {local99:?}; \
         over the storage RPC p50 {rpc50:?} p99 {rpc99:?}; the RPC adds {:?} at p50 \
         (rpc/in-process = {:.1}x)",
        rpc_calls(),
        rpc50.saturating_sub(local50),
        rpc50.as_secs_f64() / local50.as_secs_f64().max(1e-9)
    );
}
