//! SCRATCH (not committed): A/B of storage binaries in one run.
use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mailkeep_storage_rpc::broker::{ControlMessage, NewConnection, control_message};
use mailkeep_storage_rpc::metadata::with_ticket;
use mailkeep_storage_rpc::storage::MailboxStatusRequest;
use mailkeep_storage_rpc::storage::storage_client::StorageClient;
use mailkeep_ticket::{Claims, Scope, TicketKey, now_unix, sign};

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

enum Client {
    Tonic(StorageClient<tonic::transport::Channel>),
    Socket(StorageClient<mailkeep_storage_rpc::socket_channel::SocketChannel>),
}
impl Client {
    async fn status(&mut self, r: tonic::Request<MailboxStatusRequest>) {
        match self {
            Client::Tonic(c) => { c.mailbox_status(r).await.unwrap(); }
            Client::Socket(c) => { c.mailbox_status(r).await.unwrap(); }
        }
    }
}

fn pct(mut v: Vec<Duration>, p: usize) -> Duration {
    v.sort();
    let rank = (v.len() * p).div_ceil(100).clamp(1, v.len());
    v[rank - 1]
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let specs: Vec<String> = std::env::var("MK_BINS").unwrap().split(':').map(String::from).collect();
    // each spec: path or path@socket
    let bins: Vec<String> = specs.clone();
    let calls: usize = std::env::var("MK_CALLS").ok().and_then(|v| v.parse().ok()).unwrap_or(4000);
    let blocks = 20;
    let spawned = std::env::var("MK_SPAWN").is_ok();
    let (uid, gid) = (nix::unistd::Uid::current().as_raw(), nix::unistd::Gid::current().as_raw());
    let local = dir.path().join("local-home");
    std::fs::create_dir(&local).unwrap();
    let store = mailkeep_store::Store::open(&local.join("Maildir")).unwrap();
    store.status("INBOX").unwrap();
    let key = TicketKey::generate();
    let key_path = dir.path().join("rpc.key");
    std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&key_path)
        .and_then(|mut f| f.write_all(key.to_file_contents().as_bytes())).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut children = Vec::new();
    let mut clients = Vec::new();
    let mut controls = Vec::new();
    for (i, bin) in bins.iter().enumerate() {
        let home = dir.path().join(format!("home{i}"));
        std::fs::create_dir(&home).unwrap();
        let (control_ours, control_theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        let key_fd = OwnedFd::from(std::fs::File::open(&key_path).unwrap());
        let (path, socket) = match bin.split_once('@') { Some((p, _)) => (p.to_string(), true), None => (bin.clone(), false) };
        let mut cmd = Command::new(path);
        cmd.args(["role", "storage", "--owner", "bench", "--home"]).arg(&home)
            .args(["--uid", &uid.to_string(), "--gid", &gid.to_string()])
            .args(["--fd-control", "3", "--fd-key", "4"]).stderr(Stdio::null());
        command_fds::CommandFdExt::fd_mappings(&mut cmd, vec![
            command_fds::FdMapping { parent_fd: OwnedFd::from(control_theirs), child_fd: 3 },
            command_fds::FdMapping { parent_fd: key_fd, child_fd: 4 },
        ]).unwrap();
        children.push(Server(cmd.spawn().unwrap()));
        let client = runtime.block_on(async {
            control_ours.set_nonblocking(true).unwrap();
            let control = tokio::net::UnixStream::from_std(control_ours).unwrap();
            let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
            let message = ControlMessage { kind: Some(control_message::Kind::NewConnection(NewConnection { connection_id: 1 })) };
            mailkeep_storage_rpc::framing::send_frame(&control, &message, Some(&OwnedFd::from(theirs))).await.unwrap();
            ours.set_nonblocking(true).unwrap();
            let stream = tokio::net::UnixStream::from_std(ours).unwrap();
            controls.push(control);
            if socket {
                Client::Socket(StorageClient::new(mailkeep_storage_rpc::socket_channel::socket_channel(stream).await.unwrap()))
            } else {
                Client::Tonic(StorageClient::new(mailkeep_storage_rpc::channel::channel_over(stream).await.unwrap()))
            }
        });
        clients.push(client);
    }
    let ticket = sign(&key, &Claims::new("bench", Scope::Session, now_unix(), 3600, "bench"));
    let request = move || with_ticket(MailboxStatusRequest { owner: "bench".into(), name: "INBOX".into() }, &ticket);
    let fut = async move {
        for c in clients.iter_mut() { for _ in 0..50 { c.status(request()).await; } }
        tokio::time::sleep(Duration::from_millis(2100)).await;
        for c in clients.iter_mut() { c.status(request()).await; }
        store.status("INBOX").unwrap();
        let per = calls / blocks;
        let mut local = Vec::new();
        let mut rpc: Vec<Vec<Duration>> = clients.iter().map(|_| Vec::new()).collect();
        for _ in 0..blocks {
            for _ in 0..per { let t = Instant::now(); store.status("INBOX").unwrap(); local.push(t.elapsed()); }
            for (c, out) in clients.iter_mut().zip(rpc.iter_mut()) {
                for _ in 0..per { let t = Instant::now(); c.status(request()).await; out.push(t.elapsed()); }
            }
        }
        (local, rpc, controls)
    };
    let (local, rpc, _controls) = if spawned {
        runtime.block_on(async { tokio::spawn(fut).await.unwrap() })
    } else {
        runtime.block_on(fut)
    };
    let l50 = pct(local.clone(), 50);
    println!("in-process p50 {:?} p99 {:?}", l50, pct(local, 99));
    for (bin, v) in bins.iter().zip(rpc) {
        let p50 = pct(v.clone(), 50);
        println!("{bin}: p50 {:?} p99 {:?} adds {:?}", p50, pct(v, 99), p50.saturating_sub(l50));
    }
    drop(children);
}
