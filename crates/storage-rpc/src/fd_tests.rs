use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;

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

#[test]
fn a_tcp_socket_acknowledges_what_it_received_when_asked() {
    let (mut client, mut server) = interactive_pair();
    client.write_all(b"literal").expect("send");
    let mut got = [0u8; 7];
    server.read_exact(&mut got).expect("read");
    acknowledge_now(server.as_raw_fd()).expect("TCP_QUICKACK on a TCP socket");
    // Still a working connection, in both directions.
    server.write_all(b"ok").expect("answer");
    let mut answer = [0u8; 2];
    client.read_exact(&mut answer).expect("read the answer");
    assert_eq!(&answer, b"ok");
}

#[test]
fn a_socket_that_is_not_tcp_refuses() {
    let (a, _b) = std::os::unix::net::UnixStream::pair().expect("pair");
    assert!(acknowledge_now(a.as_raw_fd()).is_err());
}
