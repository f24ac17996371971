//! APPEND: the message literal is streamed from the client straight into a
//! storage Append call in CHUNK_SIZE chunks; it is never held whole.

use mailkeep_imap_proto::{Command, CommandBody, Outcome, Parser, StatusKind, status_response};
use mailkeep_storage_rpc::CHUNK_SIZE;
use mailkeep_storage_rpc::metadata::with_ticket;
use mailkeep_storage_rpc::storage::{AppendHeader, AppendRequest, append_request};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Code;

use crate::backend::Backend;
use crate::conn::ReadError;
use crate::errors::{CallError, Context, ImapError, Reply, call_reply, status_reply};
use crate::mailbox::normalize;
use crate::session::{Session, State};
use crate::store::settable;

/// Chunks buffered between the client reader and the storage call.
const QUEUE: usize = 4;

impl<B: Backend> Session<B> {
    /// Runs an APPEND whose literal header was just consumed; reads exactly
    /// the literal and the command's final CRLF whatever happens, so the
    /// stream stays in step. Sets `closing` if the client went away.
    pub async fn append(&mut self, command: Command) -> Result<Reply, ImapError> {
        let CommandBody::Append {
            mailbox,
            flags,
            date,
            size,
            non_sync,
            binary: _,
        } = command.body
        else {
            return Ok(Reply::bad("Expected APPEND"));
        };
        if self.state() == State::NotAuthenticated {
            return self
                .reject_append(size, non_sync, Reply::bad("Log in first"))
                .await;
        }
        self.renew_if_needed().await;
        let ticket = self
            .login
            .as_ref()
            .map(|l| l.ticket.clone())
            .unwrap_or_default();
        let mut client = match self.storage_for_append().await {
            Ok(client) => client,
            Err(e) => {
                return self
                    .reject_append(size, non_sync, call_reply(&e, Context::Append))
                    .await;
            }
        };
        if !non_sync {
            self.send(b"+ Ready\r\n").await?;
        }
        let header = AppendHeader {
            owner: self.owner(),
            mailbox: normalize(&mailbox),
            flags: settable(&flags),
            internal_date: date.map(|d| d.unix).unwrap_or(0),
            internal_date_offset_minutes: date.map(|d| d.offset_minutes).unwrap_or(0),
            size,
            replace: None,
        };
        let (tx, rx) = mpsc::channel::<AppendRequest>(QUEUE);
        let request = with_ticket(ReceiverStream::new(rx), &ticket);
        let call = tokio::spawn(async move { client.append(request).await });
        let mut storage_ok = tx
            .send(AppendRequest {
                part: Some(append_request::Part::Header(header)),
            })
            .await
            .is_ok();

        let mut left = size;
        let mut chunk =
            Vec::with_capacity(CHUNK_SIZE.min(usize::try_from(size).unwrap_or(CHUNK_SIZE)));
        while left > 0 {
            let want = usize::try_from(left)
                .unwrap_or(usize::MAX)
                .min(CHUNK_SIZE - chunk.len());
            let bytes = match self.conn.take(want, self.deadline()).await {
                Ok(bytes) => bytes,
                Err(e) => {
                    call.abort();
                    return self.client_gone(e).await;
                }
            };
            left -= bytes.len() as u64;
            if storage_ok {
                chunk.extend_from_slice(&bytes);
                if chunk.len() == CHUNK_SIZE || left == 0 {
                    let part = append_request::Part::Chunk(std::mem::take(&mut chunk));
                    storage_ok = tx.send(AppendRequest { part: Some(part) }).await.is_ok();
                }
            }
        }
        drop(tx);
        let result = call.await;
        if let Some(reply) = self.append_end(&command.tag).await? {
            return Ok(reply);
        }
        match result.map(|r| r.map_err(crate::errors::connection_lost)) {
            Ok(Ok(response)) => {
                let response = response.into_inner();
                Ok(Reply::ok_code(
                    format!("APPENDUID {} {}", response.uidvalidity, response.uid),
                    "Append completed.",
                ))
            }
            Ok(Err(status)) if status.code() == Code::Unavailable => {
                tracing::info!(
                    message = status.message(),
                    "storage unavailable during APPEND"
                );
                self.storage = None;
                Ok(Reply::no_code(
                    "UNAVAILABLE",
                    "Storage restarting, try again",
                ))
            }
            Ok(Err(status)) => Ok(status_reply(&status, Context::Append)),
            Err(join) => {
                tracing::error!(%join, "append call task failed");
                Ok(Reply::no_code("SERVERBUG", "Append failed"))
            }
        }
    }

    /// The storage client for an APPEND (no retry: nothing is sent yet).
    async fn storage_for_append(
        &mut self,
    ) -> Result<
        mailkeep_storage_rpc::storage::storage_client::StorageClient<
            mailkeep_storage_rpc::leased::LeasedChannel,
        >,
        CallError,
    > {
        Ok(crate::session::storage_over(
            self.storage_channel(false).await?,
        ))
    }

    /// Refuses an APPEND before its message: a non-synchronizing literal is
    /// read and dropped; for a synchronizing one the client sends nothing
    /// more, so the parser starts over.
    async fn reject_append(
        &mut self,
        size: u64,
        non_sync: bool,
        reply: Reply,
    ) -> Result<Reply, ImapError> {
        if !non_sync {
            self.parser = Parser::new(self.settings.limits);
            return Ok(reply);
        }
        let mut left = size;
        while left > 0 {
            let want = usize::try_from(left).unwrap_or(usize::MAX).min(CHUNK_SIZE);
            match self.conn.take(want, self.deadline()).await {
                Ok(bytes) => left -= bytes.len() as u64,
                Err(e) => return self.client_gone(e).await,
            }
        }
        Ok(self.append_end("*").await?.unwrap_or(reply))
    }

    /// Reads the CRLF that ends an APPEND; a reply when it is not there.
    async fn append_end(&mut self, tag: &str) -> Result<Option<Reply>, ImapError> {
        loop {
            match self.parser.next(&self.conn.buf) {
                Outcome::Incomplete => {
                    if let Err(e) = self.conn.fill(self.deadline()).await {
                        return self.client_gone(e).await.map(Some);
                    }
                }
                Outcome::AppendEnd { consumed } => {
                    self.conn.consume(consumed);
                    return Ok(None);
                }
                Outcome::Error {
                    tag: error_tag,
                    message,
                    consumed,
                    close,
                    code,
                } => {
                    self.conn.consume(consumed);
                    if close {
                        let mut out = Vec::new();
                        status_response(
                            &mut out,
                            error_tag.as_deref(),
                            StatusKind::Bad,
                            code.as_deref(),
                            &message,
                        );
                        self.send(&out).await?;
                        self.untagged(StatusKind::Bye, None, "Protocol error, closing")
                            .await?;
                        self.closing = true;
                    }
                    let _ = tag;
                    return Ok(Some(Reply::bad(&message)));
                }
                other => {
                    tracing::warn!(?other, "unexpected parser outcome after an APPEND message");
                    self.parser = Parser::new(self.settings.limits);
                    return Ok(Some(Reply::bad(
                        "Expected end of line after the APPEND message",
                    )));
                }
            }
        }
    }

    /// The client stopped sending in the middle of an APPEND.
    async fn client_gone(&mut self, error: ReadError) -> Result<Reply, ImapError> {
        self.closing = true;
        match error {
            ReadError::Io(e) => Err(e.into()),
            ReadError::Timeout => {
                self.untagged(StatusKind::Bye, None, "Autologout; idle for too long")
                    .await?;
                Ok(Reply::no("Timed out"))
            }
            ReadError::Eof => Ok(Reply::no("Connection closed")),
        }
    }
}
