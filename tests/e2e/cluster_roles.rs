//! The cluster's TCP+TLS ends run in processes of their own (issue 10):
//! host A's imap process holds no cluster TLS key and cannot make a socket
//! (a `socket()` or a `connect()` to host B's gateway run inside it fails
//! with EPERM); A's relay holds the connection to B's gateway and can
//! connect to no other port; B's gateway runs as the `[gateway]` uid in
//! the empty chroot, confined, and holds the connection from A, not B's
//! root master. A cross-host session still
//! reads mail, and its LOGOUT still reaches B's gateway (through A's
//! relay).

use std::fs;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cluster::{append_and_read_at_a, two_hosts};
use crate::harness::{ProcInfo, Server, TestDir, require_root};

/// The uid and gid `[gateway]` defaults to.
const GATEWAY_UID: u32 = 64_991;

/// Every TCP connection on the machine (IPv4): local address, remote
/// address and socket inode, from `/proc/net/tcp`.
fn tcp_connections() -> Vec<(SocketAddr, SocketAddr, u64)> {
    let text = fs::read_to_string("/proc/net/tcp").expect("reading /proc/net/tcp");
    let address = |hex: &str| -> Option<SocketAddr> {
        let (ip, port) = hex.split_once(':')?;
        // The address is the kernel's u32 in host (little-endian) order.
        let ip = Ipv4Addr::from(u32::from_str_radix(ip, 16).ok()?.swap_bytes());
        let port = u16::from_str_radix(port, 16).ok()?;
        Some(SocketAddr::V4(SocketAddrV4::new(ip, port)))
    };
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            Some((
                address(f.get(1)?)?,
                address(f.get(2)?)?,
                f.get(9)?.parse().ok()?,
            ))
        })
        .collect()
}

/// The socket inodes `pid` holds.
fn socket_inodes(pid: i32) -> Vec<u64> {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("listing descriptors")
        .filter_map(|e| {
            let target = fs::read_link(e.ok()?.path()).ok()?;
            let t = target.to_str()?;
            t.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
        })
        .collect()
}

/// Asserts that every socket of `inodes` is held by `holder` (name, pid)
/// and by none of `others`.
fn held_only_by(inodes: &[u64], holder: (&str, i32), others: &[(&str, i32)]) {
    let held = socket_inodes(holder.1);
    for inode in inodes {
        assert!(
            held.contains(inode),
            "{} does not hold socket {inode}",
            holder.0
        );
        for (name, pid) in others {
            assert!(
                !socket_inodes(*pid).contains(inode),
                "{name} holds socket {inode}"
            );
        }
    }
}

/// What each descriptor of `pid` refers to.
fn descriptor_targets(pid: i32) -> Vec<PathBuf> {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("listing descriptors")
        .filter_map(|e| fs::read_link(e.ok()?.path()).ok())
        .collect()
}

/// Asserts `p` runs as the gateway uid, chrooted into `chroot`, with no
/// capabilities, no_new_privs and a seccomp filter.
fn assert_unprivileged_in_chroot(p: &ProcInfo, chroot: &Path) {
    assert_eq!(
        p.status_numbers("Uid:"),
        vec![GATEWAY_UID; 4],
        "uids of {p:?}"
    );
    assert_eq!(
        p.status_numbers("Gid:"),
        vec![GATEWAY_UID; 4],
        "gids of {p:?}"
    );
    let root = fs::read_link(format!("/proc/{}/root", p.pid)).expect("reading /proc/PID/root");
    assert_eq!(root, chroot, "the root of {p:?}");
    let status = p.status();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    };
    assert_eq!(
        field("CapEff:"),
        "0000000000000000",
        "capabilities of {p:?}"
    );
    assert_eq!(field("NoNewPrivs:"), "1", "no_new_privs of {p:?}");
    assert_eq!(field("Seccomp:"), "2", "seccomp of {p:?}");
}

/// The value of `field` in the confinement line of `role`'s process `pid`
/// (`outbound_tcp=false`, `landlock=Full`).
fn confinement(server: &Server<'_>, role: &str, pid: i32, field: &str) -> String {
    let tag = format!("{role}[{pid}]");
    server.wait_for_output(
        &format!("the confinement line of {tag}"),
        Duration::from_secs(10),
        |out| {
            out.lines()
                .filter(|l| l.contains(&tag) && l.contains("confined: seccomp allowlist"))
                .find_map(|l| {
                    let key = format!("{field}=");
                    let rest = &l[l.find(&key)? + key.len()..];
                    Some(rest.split_whitespace().next()?.to_owned())
                })
        },
    )
}

/// Host A's imap process serves a user homed on B without holding the
/// cluster key or any connection to B: the TLS connection to B's gateway
/// is A's relay's; the imap process got no TLS material (no `--fd-tls`,
/// no key file open), is confined without outbound TCP, and a `socket()`
/// or a `connect()` to B's gateway run inside it fails with EPERM while
/// an allowed call run the same way succeeds; inside the relay, a TCP
/// connect reaches B's gateway but no other port (Landlock). B's gateway, not B's
/// master, holds the connection from A; both cluster roles run as the
/// gateway uid in the empty chroot. LOGOUT at A still ends the session at
/// B's gateway, carried by A's relay.
#[test]
fn cross_host_session_runs_through_relay_and_gateway_roles_without_key_in_imap() {
    if !require_root("cross_host_session_runs_through_relay_and_gateway_roles_without_key_in_imap")
    {
        return;
    }
    let (dir_a, dir_b, admin) = (TestDir::new(), TestDir::new(), TestDir::new());
    let (server_a, server_b, gateway_b) = two_hosts(&dir_a, &dir_b, &admin.path().join("cluster"));
    let gateway_b: SocketAddr = gateway_b.parse().expect("B's gateway address");

    // A cross-host session reads and writes mail.
    let marker = format!("roles-{}", std::process::id());
    let mut at_a = append_and_read_at_a(&server_a, &server_b, &marker);

    let imap_a = server_a.wait_role("imap", None, None);
    let relay_a = server_a.wait_role("relay", None, None);
    let gateway_role_b = server_b.wait_role("gateway", None, None);

    // The connection to B's gateway, while the session is open, is the
    // relay's; at B it is the gateway role's. Neither imap nor a master
    // holds an end of it.
    let to_b: Vec<u64> = tcp_connections()
        .into_iter()
        .filter(|(_, remote, _)| *remote == gateway_b)
        .map(|(_, _, inode)| inode)
        .collect();
    assert!(
        !to_b.is_empty(),
        "no TCP connection to B's gateway {gateway_b}"
    );
    held_only_by(
        &to_b,
        ("A's relay", relay_a.pid),
        &[
            ("A's imap process", imap_a.pid),
            ("A's master", server_a.pid()),
        ],
    );
    let at_b: Vec<u64> = tcp_connections()
        .into_iter()
        .filter(|(local, remote, _)| *local == gateway_b && remote.port() != 0)
        .map(|(_, _, inode)| inode)
        .collect();
    assert!(!at_b.is_empty(), "no connection accepted by B's gateway");
    held_only_by(
        &at_b,
        ("B's gateway role", gateway_role_b.pid),
        &[("B's root master", server_b.pid())],
    );

    // A's imap process got no TLS material and holds no key file.
    assert!(
        !imap_a.argv.iter().any(|a| a == "--fd-tls"),
        "the imap process was given TLS material: {:?}",
        imap_a.argv
    );
    let held = descriptor_targets(imap_a.pid);
    for file in ["gateway.key", "relay.key"] {
        let key = admin.path().join("cluster/hosts/a").join(file);
        assert!(key.exists(), "the test names the right key file");
        assert!(
            !held.contains(&key),
            "the imap process holds {}: {held:?}",
            key.display()
        );
    }
    assert_eq!(
        confinement(&server_a, "imap", imap_a.pid, "outbound_tcp"),
        "false"
    );
    assert_eq!(
        confinement(&server_a, "relay", relay_a.pid, "outbound_tcp"),
        "true"
    );
    assert_eq!(
        confinement(&server_b, "gateway", gateway_role_b.pid, "outbound_tcp"),
        "false"
    );

    // Inside the running imap process: no socket, no connect to B.
    // Inside the running imap process: no socket, no connect to B; inside
    // the relay: TCP, but only to the cluster's gateway ports.
    #[cfg(target_arch = "x86_64")]
    {
        use crate::harness::inject::{connect_in, syscall_in, tcp_socket_in};
        let errno = |e: nix::errno::Errno| -i64::from(e as i32);
        let SocketAddr::V4(to_b) = gateway_b else {
            panic!("B's gateway is on IPv4");
        };
        assert_eq!(
            tcp_socket_in(imap_a.pid),
            errno(nix::errno::Errno::EPERM),
            "socket(AF_INET, SOCK_STREAM) inside A's imap process"
        );
        // On the broker channel's descriptor: without the filter this
        // fails otherwise (it is a UNIX socket), never with EPERM.
        assert_eq!(
            connect_in(imap_a.pid, 3, to_b),
            errno(nix::errno::Errno::EPERM),
            "connect() to B's gateway inside A's imap process"
        );
        // The same way, an allowed call works: the failures are the filter's.
        let pid = syscall_in(imap_a.pid, nix::libc::SYS_getpid, [0, 0, 0]);
        assert_eq!(
            pid,
            i64::from(imap_a.pid),
            "getpid() inside A's imap process"
        );

        let SocketAddr::V4(imap_port) = server_a.listener("imap") else {
            panic!("A's IMAP listener is on IPv4");
        };
        let fd = tcp_socket_in(relay_a.pid);
        assert!(fd >= 0, "socket() inside A's relay: {fd}");
        let elsewhere = connect_in(relay_a.pid, fd, imap_port);
        // Landlock restricts TCP ports from Linux 6.7 (ABI 4) on.
        if confinement(&server_a, "relay", relay_a.pid, "landlock") == "Full" {
            assert_eq!(
                elsewhere,
                errno(nix::errno::Errno::EACCES),
                "connect() to a port that is no cluster gateway's, inside A's relay"
            );
        } else {
            eprintln!("note: this kernel's Landlock does not restrict TCP ports");
        }
        syscall_in(relay_a.pid, nix::libc::SYS_close, [fd as u64, 0, 0]);
        let fd = tcp_socket_in(relay_a.pid);
        assert_eq!(
            connect_in(relay_a.pid, fd, to_b),
            0,
            "connect() to B's gateway inside A's relay"
        );
        syscall_in(relay_a.pid, nix::libc::SYS_close, [fd as u64, 0, 0]);
    }
    // The session goes on after the probes.
    at_a.ok("NOOP");

    // Both cluster roles: the gateway uid, the empty chroot, confined.
    assert_unprivileged_in_chroot(&relay_a, &dir_a.chroot_dir());
    assert_unprivileged_in_chroot(&gateway_role_b, &dir_b.chroot_dir());

    // LOGOUT at A reaches B's gateway, through A's relay.
    at_a.logout();
    server_b.wait_for_output(
        "A's LOGOUT ending the session at B's gateway",
        Duration::from_secs(10),
        |out| {
            out.contains("gateway: another host ended sessions")
                .then_some(())
        },
    );
    server_a.wait_for_output(
        "A's relay passing the ended session on",
        Duration::from_secs(10),
        |out| {
            out.contains("ended sessions passed to their home host")
                .then_some(())
        },
    );
}
