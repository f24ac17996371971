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
//! 3. What the machine itself charges for a round trip between two
//!    processes: the same request and reply sizes over a UNIX socket
//!    between two one-thread runtimes, with no RPC and no store call,
//!    with the processes free to run on any CPU and both held on one CPU;
//!    and the RPC's round trip again with both on one CPU. On a virtual
//!    machine that halts an idle virtual CPU (no halt polling), waking a
//!    process on the other CPU costs tens of microseconds each way, which
//!    no program on it can avoid; these lines say how much of what the
//!    RPC adds is that.
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
/// Set (to the socket's path) when this program runs again as the peer
/// of [`machine_round_trip`].
const ECHO_PEER_ENV: &str = "MAILKEEP_BENCH_ECHO_PEER";
/// The sizes of a settled `MailboxStatus` call on the wire: its request
/// (headers and message) and its reply (headers, message and trailers).
const REQUEST_BYTES: usize = 219;
const REPLY_BYTES: usize = 75;

/// Where the processes of a round trip may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placement {
    /// Wherever the scheduler puts them, as the server runs.
    AnyCpu,
    /// Both held on the first CPU: a wake-up is a switch on that CPU, not
    /// one CPU waking the other.
    OneCpu,
}

impl Placement {
    /// Holds the calling thread (and the processes it starts) to this
    /// placement, within the CPUs the bench was given.
    fn apply(self) {
        static GIVEN: std::sync::OnceLock<nix::sched::CpuSet> = std::sync::OnceLock::new();
        let this_thread = nix::unistd::Pid::from_raw(0);
        let given =
            *GIVEN.get_or_init(|| nix::sched::sched_getaffinity(this_thread).expect("affinity"));
        let set = match self {
            Placement::AnyCpu => given,
            Placement::OneCpu => {
                let first = (0..nix::sched::CpuSet::count())
                    .find(|&cpu| given.is_set(cpu).unwrap_or(false))
                    .expect("a CPU to run on");
                let mut one = nix::sched::CpuSet::new();
                one.set(first).expect("cpu in set");
                one
            }
        };
        nix::sched::sched_setaffinity(this_thread, &set).expect("affinity");
    }

    fn label(self) -> &'static str {
        match self {
            Placement::AnyCpu => "any CPU",
            Placement::OneCpu => "both on one CPU",
        }
    }
}

fn main() {
    if let Some(path) = std::env::var_os(ECHO_PEER_ENV) {
        echo_peer(Path::new(&path));
        return;
    }
    println!("machine idle: {}", mailkeep_bench::report::machine_idle());
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
        let any = rpc_round_trip(dir.path(), Placement::AnyCpu);
        let machine = machine_round_trip(dir.path());
        let one = rpc_round_trip(dir.path(), Placement::OneCpu);
        println!(
            "of the {any:?} the RPC adds at p50, a bare round trip between two processes \
             (no RPC, no store call) takes {:?}; with both processes on one CPU the bare \
             round trip takes {:?} and the RPC adds {one:?}",
            machine.any_cpu, machine.one_cpu
        );
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

/// A bare round trip's p50 under each [`Placement`].
struct MachineRoundTrip {
    any_cpu: Duration,
    one_cpu: Duration,
}

/// The round trip between two processes that the machine charges: this
/// program, run again as [`echo_peer`], answers each request of the RPC's
/// size with a reply of the RPC's size over a UNIX socket; both sides wait
/// in a one-thread runtime on sockets registered as the frontend's are.
fn machine_round_trip(dir: &Path) -> MachineRoundTrip {
    let mut measured = Vec::new();
    for placement in [Placement::AnyCpu, Placement::OneCpu] {
        placement.apply();
        let path = dir.join(format!("echo-{}.sock", measured.len()));
        let listener = std::os::unix::net::UnixListener::bind(&path).expect("echo socket");
        listener.set_nonblocking(true).expect("nonblocking");
        let peer = Server(
            Command::new(std::env::current_exe().expect("this program"))
                .env(ECHO_PEER_ENV, &path)
                .stdout(Stdio::null())
                .spawn()
                .expect("echo peer"),
        );
        let times = one_thread_runtime().block_on(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let listener = tokio::net::UnixListener::from_std(listener).expect("listener");
            let (socket, _) = tokio::time::timeout(Duration::from_secs(20), listener.accept())
                .await
                .expect("the echo peer did not connect")
                .expect("echo peer's connection");
            let mut stream = mailkeep_storage_rpc::quiet_stream::QuietStream::from_std(
                socket.into_std().expect("std socket"),
            )
            .expect("stream");
            let request = [0u8; REQUEST_BYTES];
            let mut reply = [0u8; REPLY_BYTES];
            let mut times = Vec::with_capacity(rpc_calls());
            for i in 0..rpc_calls() + 50 {
                let started = Instant::now();
                stream.write_all(&request).await.expect("request");
                stream.read_exact(&mut reply).await.expect("reply");
                // The first calls warm up.
                if i >= 50 {
                    times.push(started.elapsed());
                }
            }
            times
        });
        drop(peer);
        Placement::AnyCpu.apply();
        println!(
            "bare round trip between two processes ({}; {REQUEST_BYTES} bytes there, \
             {REPLY_BYTES} back, {} times): p50 {:?} p99 {:?}",
            placement.label(),
            times.len(),
            percentile(times.clone(), 50),
            percentile(times.clone(), 99)
        );
        measured.push(percentile(times, 50));
    }
    MachineRoundTrip {
        any_cpu: measured[0],
        one_cpu: measured[1],
    }
}

/// The peer of [`machine_round_trip`]: connects to `path` and answers
/// every whole request until the socket closes.
fn echo_peer(path: &Path) {
    one_thread_runtime().block_on(async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream =
            mailkeep_storage_rpc::quiet_stream::QuietStream::connect(path).expect("connect");
        let mut request = [0u8; REQUEST_BYTES];
        let reply = [0u8; REPLY_BYTES];
        while stream.read_exact(&mut request).await.is_ok() {
            if stream.write_all(&reply).await.is_err() {
                break;
            }
        }
    });
}

/// One thread, as the protocol processes run (see `one_thread_runtime`
/// in the mailkeep crate): a call's task and the channel's connection
/// task hand over on one thread, not across two workers.
fn one_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// What the storage RPC adds to a settled `MailboxStatus` at p50, with the
/// bench and the storage process placed as `placement` says.
fn rpc_round_trip(dir: &Path, placement: Placement) -> Duration {
    use mailkeep_storage_rpc::broker::{ControlMessage, NewConnection, control_message};
    use mailkeep_storage_rpc::metadata::with_ticket;
    use mailkeep_storage_rpc::storage::MailboxStatusRequest;
    use mailkeep_storage_rpc::storage::storage_client::StorageClient;
    use mailkeep_ticket::{Claims, HostKey, Scope, now_unix, sign};

    let run = match placement {
        Placement::AnyCpu => "any",
        Placement::OneCpu => "one",
    };
    let home = dir.join(format!("rpc-home-{run}"));
    std::fs::create_dir(&home).expect("home");
    let (uid, gid) = (
        nix::unistd::Uid::current().as_raw(),
        nix::unistd::Gid::current().as_raw(),
    );

    // In-process baseline on a store of its own (same size: empty INBOX).
    let local = dir.join(format!("local-home-{run}"));
    std::fs::create_dir(&local).expect("local home");
    let store = mailkeep_store::Store::open(&local.join("Maildir")).expect("store");
    store.status("INBOX").expect("status");
    // A folder changed in the last 2 s is rescanned at every call (its
    // mtime could hide a change in the same clock tick): measure the
    // settled state that most calls meet, on both sides.
    std::thread::sleep(SETTLE);
    store.status("INBOX").expect("status");

    let key = HostKey::generate();
    let key_path = dir.join(format!("rpc-{run}.key"));
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
    // The storage process inherits the placement.
    placement.apply();
    let child = Server(cmd.spawn().expect("storage process"));
    let runtime = one_thread_runtime();
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
                    ..Default::default()
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
    Placement::AnyCpu.apply();
    let (local50, rpc50) = (
        percentile(in_process.clone(), 50),
        percentile(over_rpc.clone(), 50),
    );
    let (local99, rpc99) = (percentile(in_process, 99), percentile(over_rpc, 99));
    let adds = rpc50.saturating_sub(local50);
    println!(
        "MailboxStatus ({}, {} calls each side): in-process p50 {local50:?} p99 {local99:?}; \
         over the storage RPC p50 {rpc50:?} p99 {rpc99:?}; the RPC adds {adds:?} at p50 \
         (rpc/in-process = {:.1}x)",
        placement.label(),
        rpc_calls(),
        rpc50.as_secs_f64() / local50.as_secs_f64().max(1e-9)
    );
    adds
}
