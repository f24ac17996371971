use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};

use super::acknowledge_now;

/// A connected pair of TCP sockets on loopback, Nagle's algorithm on at
/// the client (the default), after a few request/response turns (the
/// server's kernel then delays its ACKs, as on a session's connection).
fn interactive_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let mut client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
    let (mut server, _) = listener.accept().expect("accept");
    let mut byte = [0u8; 1];
    for _ in 0..4 {
        client.write_all(b"q").expect("ask");
        server.read_exact(&mut byte).expect("read the ask");
        server.write_all(b"a").expect("answer");
        client.read_exact(&mut byte).expect("read the answer");
    }
    (client, server)
}

/// The kernel's counters of a TCP socket (`TCP_INFO`).
fn tcp_info(socket: RawFd) -> libc::tcp_info {
    // SAFETY: `tcp_info` is plain integers, so all zeroes is a value of it.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = libc::socklen_t::try_from(std::mem::size_of::<libc::tcp_info>()).expect("size");
    // SAFETY: getsockopt writes at most `len` bytes into `info`, which is
    // that long and lives across the call, and stores the length it wrote.
    let done = unsafe {
        libc::getsockopt(
            socket,
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            std::ptr::from_mut(&mut info).cast(),
            &mut len,
        )
    };
    assert_eq!(done, 0, "TCP_INFO: {}", std::io::Error::last_os_error());
    info
}

/// What is owed is sent by the call itself: the server's count of
/// segments sent grows by the ACK. (The ACK is owed when the client
/// still counts its data unacknowledged; if the delayed-ACK timer was
/// quicker than this thread, the turn is tried again.)
#[test]
fn a_tcp_socket_sends_the_ack_it_owes_when_asked() {
    let (mut client, mut server) = interactive_pair();
    let mut got = [0u8; 7];
    for _ in 0..20 {
        client.write_all(b"literal").expect("send");
        server.read_exact(&mut got).expect("read");
        let before = tcp_info(server.as_raw_fd()).tcpi_segs_out;
        if tcp_info(client.as_raw_fd()).tcpi_unacked == 0 {
            // Acknowledged already (a timer, a slow turn): again.
            server.write_all(b"a").expect("answer");
            let mut byte = [0u8; 1];
            client.read_exact(&mut byte).expect("read the answer");
            continue;
        }
        acknowledge_now(server.as_raw_fd()).expect("TCP_QUICKACK on a TCP socket");
        let after = tcp_info(server.as_raw_fd()).tcpi_segs_out;
        assert!(after > before, "no ACK sent: {before} -> {after} segments");
        // Still a working connection, in both directions.
        server.write_all(b"ok").expect("answer");
        let mut answer = [0u8; 2];
        client.read_exact(&mut answer).expect("read the answer");
        assert_eq!(&answer, b"ok");
        return;
    }
    panic!("the server's ACK was never owed when looked at");
}

#[test]
fn a_socket_that_is_not_tcp_refuses() {
    let (a, _b) = std::os::unix::net::UnixStream::pair().expect("pair");
    assert!(acknowledge_now(a.as_raw_fd()).is_err());
}
