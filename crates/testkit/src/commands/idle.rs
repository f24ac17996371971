//! IDLE (RFC 9051 §6.3.13, RFC 2177): start, read what the server
//! announces, end with DONE.

use tokio::io::{AsyncRead, AsyncWrite};

use crate::client::{Client, ClientError};
use crate::reply::Reply;
use crate::response::Response;

/// A client in IDLE. End it with [`Idle::done`]; dropping it leaves the
/// server idling (the connection is then good only for reading).
pub struct Idle<'c, S> {
    client: &'c mut Client<S>,
    tag: String,
    /// The responses that came before the server's `+`.
    pub before: Vec<Response>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    /// Sends IDLE and waits for the `+`; a tagged answer instead is
    /// [`ClientError::Refused`].
    pub async fn idle(&mut self) -> Result<Idle<'_, S>, ClientError> {
        let tag = self.send_command("IDLE").await?;
        let mut before = Vec::new();
        loop {
            let r = self.read_response().await?;
            if r.continuation().is_some() {
                break;
            }
            if r.is_tagged(&tag) {
                let reply = Reply::new(before, r)
                    .ok_or_else(|| ClientError::Unexpected("untagged end of IDLE".into()))?;
                return Err(ClientError::Refused(Box::new(reply)));
            }
            before.push(r);
        }
        Ok(Idle {
            client: self,
            tag,
            before,
        })
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Idle<'_, S> {
    /// The next response the server sends while idling (within the
    /// client's timeout).
    pub async fn next_response(&mut self) -> Result<Response, ClientError> {
        self.client.read_response().await
    }

    /// Reads responses until one satisfies `want`, and returns all read,
    /// that one last.
    pub async fn wait_for(
        &mut self,
        mut want: impl FnMut(&Response) -> bool,
    ) -> Result<Vec<Response>, ClientError> {
        let mut seen = Vec::new();
        loop {
            let r = self.next_response().await?;
            let found = want(&r);
            seen.push(r);
            if found {
                return Ok(seen);
            }
        }
    }

    /// The next response if it is there already, without waiting.
    pub async fn ready(&mut self) -> Result<Option<Response>, ClientError> {
        self.client.response_ready().await
    }

    /// Sends DONE and reads the IDLE command's reply (with whatever the
    /// server sent in between).
    pub async fn done(self) -> Result<Reply, ClientError> {
        self.client.send(b"DONE\r\n").await?;
        self.client.read_reply(&self.tag).await
    }
}
