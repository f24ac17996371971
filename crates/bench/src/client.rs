//! Connections of the test kit's IMAP client over loopback TCP, for the
//! async benchmarks (one runtime drives thousands of them).

use std::net::SocketAddr;
use std::time::Duration;

use mailkeep_testkit::Client;
use tokio::net::TcpStream;

use crate::error::BenchError;

/// One client connection.
pub type Connection = Client<TcpStream>;

/// Connects to `addr` (bounded by `timeout`), reads the greeting and uses
/// `timeout` for every later wait of this client.
pub async fn connect(addr: SocketAddr, timeout: Duration) -> Result<Connection, BenchError> {
    let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
        .await
        .map_err(|_| BenchError::Timeout(format!("connecting to {addr}")))?
        .map_err(|e| BenchError::io(format!("connecting to {addr}"), e))?;
    stream
        .set_nodelay(true)
        .map_err(|e| BenchError::io("TCP_NODELAY", e))?;
    let mut client = Client::new(stream);
    client.set_timeout(Some(timeout));
    client
        .read_greeting()
        .await
        .map_err(|e| BenchError::client("greeting", e))?;
    Ok(client)
}

/// Runs `command` and requires a tagged OK.
pub async fn ok(
    client: &mut Connection,
    command: &str,
) -> Result<mailkeep_testkit::Reply, BenchError> {
    let reply = client
        .run(command)
        .await
        .map_err(|e| BenchError::client(command, e))?;
    if !reply.is_ok() {
        return Err(BenchError::Refused {
            what: command.to_owned(),
            answer: format!("{:?}", reply.tagged),
        });
    }
    Ok(reply)
}

/// Connects and logs in as `user` with `password` (LOGIN, quoted).
pub async fn login(
    addr: SocketAddr,
    timeout: Duration,
    user: &str,
    password: &str,
) -> Result<Connection, BenchError> {
    let mut client = connect(addr, timeout).await?;
    let reply = client
        .login(user, password)
        .await
        .map_err(|e| BenchError::client("LOGIN", e))?;
    if !reply.is_ok() {
        return Err(BenchError::Refused {
            what: format!("LOGIN {user}"),
            answer: format!("{:?}", reply.tagged),
        });
    }
    Ok(client)
}

/// Appends each of `messages` to `mailbox` of a logged-in client, with
/// LITERAL+ and the internal date [`crate::messages::internal_date`] of its
/// index: how the benchmarks fill both servers with the same mail.
pub async fn fill(
    client: &mut Connection,
    mailbox: &str,
    messages: &[Vec<u8>],
) -> Result<(), BenchError> {
    use mailkeep_testkit::{Append, LiteralMode};
    for (i, message) in messages.iter().enumerate() {
        let date = crate::messages::internal_date(i);
        let append = Append::new(mailbox, message)
            .date(&date)
            .literal(LiteralMode::NonSync);
        let reply = client
            .append_with(&append)
            .await
            .map_err(|e| BenchError::client("APPEND", e))?;
        if !reply.is_ok() {
            return Err(BenchError::Refused {
                what: format!("APPEND to {mailbox}"),
                answer: format!("{:?}", reply.tagged),
            });
        }
    }
    Ok(())
}
