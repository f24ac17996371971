//! A/B of the storage RPC's round trip: a settled `MailboxStatus` through
//! each combination of storage binary and client channel, in alternating
//! blocks in one run (so a neighbour's load falls on all alike), beside the
//! same store call made in-process.
//!
//! The client channels: `tonic` (tonic's `Channel` over the passed socket,
//! what the frontend used before) and `socket` (the frontend's channel
//! today, `LeasedChannel` over a `SocketChannel` over a `QuietStream`).
//! Besides p50 and p99 it
//! reports the client process's CPU time and context switches per call,
//! which a busy machine disturbs less than wall time.
//!
//! `cargo bench -p mailkeep --bench rpc_ab` compares both channels against
//! the `mailkeep` binary just built. To compare storage binaries (e.g. a
//! build of another commit copied aside), list them in
//! `MAILKEEP_AB_BINS=/path/a:/path/b`; `MAILKEEP_AB_CALLS` sets the calls per
//! variant (default 4000); `MAILKEEP_AB_CLIENT=current` runs the client on a
//! current-thread runtime, as the protocol processes run today, instead of
//! a multi-threaded one.

use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mailkeep_storage_rpc::broker::{ControlMessage, NewConnection, control_message};
use mailkeep_storage_rpc::leased::LeasedChannel;
use mailkeep_storage_rpc::metadata::with_ticket;
use mailkeep_storage_rpc::storage::MailboxStatusRequest;
use mailkeep_storage_rpc::storage::storage_client::StorageClient;
use mailkeep_ticket::{Claims, HostKey, Scope, now_unix, sign};
use nix::sys::resource::{UsageWho, getrusage};

const BIN: &str = env!("CARGO_BIN_EXE_mailkeep");
const CALLS: usize = 4000;
const BLOCKS: usize = 20;
/// Longer than the store's window in which a changed folder is rescanned.
const SETTLE: Duration = Duration::from_millis(2100);

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

/// A storage client over one of the two channels.
enum Client {
    Tonic(StorageClient<tonic::transport::Channel>),
    Socket(StorageClient<LeasedChannel>),
}

impl Client {
    async fn status(&mut self, request: tonic::Request<MailboxStatusRequest>) {
        match self {
            Client::Tonic(c) => c.mailbox_status(request).await.map(drop),
            Client::Socket(c) => c.mailbox_status(request).await.map(drop),
        }
        .expect("status over the RPC");
    }
}

/// What one variant measured: per-call times, and the client process's
/// CPU time and context switches over its calls.
#[derive(Default)]
struct Measured {
    times: Vec<Duration>,
    cpu: Duration,
    switches: i64,
}

/// The client process's CPU time (user + system) and context switches
/// (voluntary + involuntary) so far.
fn usage() -> (Duration, i64) {
    let u = getrusage(UsageWho::RUSAGE_SELF).expect("getrusage");
    let cpu = Duration::from_micros(
        (u.user_time().tv_sec() + u.system_time().tv_sec()) as u64 * 1_000_000
            + (u.user_time().tv_usec() + u.system_time().tv_usec()) as u64,
    );
    (
        cpu,
        u.voluntary_context_switches() + u.involuntary_context_switches(),
    )
}

fn percentile(mut v: Vec<Duration>, p: usize) -> Duration {
    v.sort();
    let rank = (v.len() * p).div_ceil(100).clamp(1, v.len());
    v[rank - 1]
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Starts `bin` as the storage process of owner "bench" on `home`; its
/// control socket.
fn start_storage(bin: &str, home: &Path, key_path: &Path) -> (Server, tokio::net::UnixStream) {
    let (uid, gid) = (
        nix::unistd::Uid::current().as_raw(),
        nix::unistd::Gid::current().as_raw(),
    );
    std::fs::create_dir(home).expect("home");
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().expect("pair");
    let key_fd = OwnedFd::from(std::fs::File::open(key_path).expect("key"));
    let mut cmd = Command::new(bin);
    cmd.args(["role", "storage", "--owner", "bench", "--home"])
        .arg(home)
        .args(["--uid", &uid.to_string(), "--gid", &gid.to_string()])
        .args(["--fd-control", "3", "--fd-trusted", "4"])
        .stderr(Stdio::null());
    command_fds::CommandFdExt::fd_mappings(
        &mut cmd,
        vec![
            command_fds::FdMapping {
                parent_fd: OwnedFd::from(theirs),
                child_fd: 3,
            },
            command_fds::FdMapping {
                parent_fd: key_fd,
                child_fd: 4,
            },
        ],
    )
    .expect("fd mappings");
    let server = Server(cmd.spawn().expect("storage process"));
    ours.set_nonblocking(true).expect("nonblocking");
    (
        server,
        tokio::net::UnixStream::from_std(ours).expect("control"),
    )
}

/// Passes a new connection to the storage process over `control`; our end
/// (non-blocking).
async fn connect(control: &tokio::net::UnixStream) -> std::os::unix::net::UnixStream {
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().expect("pair");
    let message = ControlMessage {
        kind: Some(control_message::Kind::NewConnection(NewConnection {
            connection_id: 1,
            ..Default::default()
        })),
    };
    mailkeep_storage_rpc::framing::send_frame(control, &message, Some(&OwnedFd::from(theirs)))
        .await
        .expect("passing the connection");
    ours.set_nonblocking(true).expect("nonblocking");
    ours
}

fn main() {
    println!("machine idle: {}", mailkeep_bench::report::machine_idle());
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let bins: Vec<String> = std::env::var("MAILKEEP_AB_BINS")
        .map(|v| v.split(':').map(String::from).collect())
        .unwrap_or_else(|_| vec![BIN.to_owned()]);
    let calls = env_or("MAILKEEP_AB_CALLS", CALLS).max(BLOCKS);

    let local = dir.path().join("local-home");
    std::fs::create_dir(&local).expect("local home");
    let store = mailkeep_store::Store::open(&local.join("Maildir")).expect("store");
    store.status("INBOX").expect("status");
    let key = HostKey::generate();
    let key_path = dir.path().join("rpc.key");
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&key_path)
        .and_then(|mut f| f.write_all(format!("bench {}\n", key.public()).as_bytes()))
        .expect("trusted-host file");
    let ticket = sign(
        &key,
        &Claims::new("bench", Scope::Session, now_unix(), 3600, "bench"),
    );
    let request = move || {
        with_ticket(
            MailboxStatusRequest {
                owner: "bench".into(),
                name: "INBOX".into(),
                ..Default::default()
            },
            &ticket,
        )
    };

    // `MAILKEEP_AB_CLIENT=current`: the client on a current-thread runtime,
    // as the protocol processes run today; the default is a
    // multi-threaded one, as the imap process ran when this was written.
    let runtime = match std::env::var("MAILKEEP_AB_CLIENT").as_deref() {
        Ok("current") => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        _ => tokio::runtime::Runtime::new(),
    }
    .expect("runtime");
    // The control sockets are made into tokio streams in it.
    let _entered = runtime.enter();
    let mut servers = Vec::new();
    let mut variants: Vec<(String, Client)> = Vec::new();
    let mut controls = Vec::new();
    for (i, bin) in bins.iter().enumerate() {
        let (server, control) = start_storage(bin, &dir.path().join(format!("home{i}")), &key_path);
        servers.push(server);
        runtime.block_on(async {
            let stream = tokio::net::UnixStream::from_std(connect(&control).await).expect("stream");
            let tonic = mailkeep_storage_rpc::channel::channel_over(stream)
                .await
                .expect("tonic channel");
            variants.push((
                format!("{bin} tonic"),
                Client::Tonic(StorageClient::new(tonic)),
            ));
            // Registered as the protocol processes register theirs.
            let stream =
                mailkeep_storage_rpc::quiet_stream::QuietStream::from_std(connect(&control).await)
                    .expect("stream");
            let socket = mailkeep_storage_rpc::socket_channel::socket_channel(stream)
                .await
                .expect("socket channel");
            variants.push((
                format!("{bin} socket"),
                Client::Socket(StorageClient::new(LeasedChannel::new(socket))),
            ));
        });
        controls.push(control);
    }

    // Inside a task of the runtime, as a session's calls are.
    let measure = async move {
        for (_, client) in variants.iter_mut() {
            for _ in 0..50 {
                client.status(request()).await;
            }
        }
        // A folder changed in the last 2 s is rescanned at every call:
        // measure the settled state most calls meet, on every side.
        tokio::time::sleep(SETTLE).await;
        for (_, client) in variants.iter_mut() {
            client.status(request()).await;
        }
        store.status("INBOX").expect("status");
        let per_block = calls / BLOCKS;
        let mut local = Measured::default();
        let mut measured: Vec<Measured> = variants.iter().map(|_| Measured::default()).collect();
        for _ in 0..BLOCKS {
            let (cpu, switches) = usage();
            for _ in 0..per_block {
                let started = Instant::now();
                store.status("INBOX").expect("status");
                local.times.push(started.elapsed());
            }
            let (cpu_after, switches_after) = usage();
            local.cpu += cpu_after - cpu;
            local.switches += switches_after - switches;
            for ((_, client), out) in variants.iter_mut().zip(measured.iter_mut()) {
                let (cpu, switches) = usage();
                for _ in 0..per_block {
                    let started = Instant::now();
                    client.status(request()).await;
                    out.times.push(started.elapsed());
                }
                let (cpu_after, switches_after) = usage();
                out.cpu += cpu_after - cpu;
                out.switches += switches_after - switches;
            }
        }
        let names: Vec<String> = variants.into_iter().map(|(name, _)| name).collect();
        (local, names, measured)
    };
    let (local, names, measured) = runtime
        .block_on(async { tokio::spawn(measure).await })
        .expect("measuring task");
    drop(controls);
    drop(servers);

    let per_call = |m: &Measured| {
        let n = m.times.len().max(1);
        (m.cpu / n as u32, m.switches as f64 / n as f64)
    };
    let local50 = percentile(local.times.clone(), 50);
    let (cpu, switches) = per_call(&local);
    println!(
        "MailboxStatus, {} calls per variant: in-process p50 {local50:?} p99 {:?} \
         (client CPU {cpu:?}, {switches:.1} context switches per call)",
        local.times.len(),
        percentile(local.times.clone(), 99),
    );
    for (name, m) in names.iter().zip(measured) {
        let (cpu, switches) = per_call(&m);
        let p50 = percentile(m.times.clone(), 50);
        println!(
            "  {name}: p50 {p50:?} p99 {:?}, adds {:?} at p50 \
             (client CPU {cpu:?}, {switches:.1} context switches per call)",
            percentile(m.times, 99),
            p50.saturating_sub(local50),
        );
    }
}
