//! The maildrop of a logged-in session (RFC 1939 §5): INBOX as it was at
//! login, numbered 1..n, with the session's deletion marks. Messages are
//! read through the storage path as they are retrieved (CRLF line ends,
//! as storage serves them, dot-stuffed here: `retrieve.rs`); DELE only
//! marks; QUIT's
//! [`Maildrop::commit`] removes the marked messages in one storage call.
//! A session that ends otherwise commits nothing.

mod retrieve;

pub(crate) use retrieve::IDLE_AHEAD;

use std::io;
use std::io::Write;

use mailkeep_frontend::{ConnWriter, Retry, Storage, StorageError};
use mailkeep_storage_rpc::errors::ErrorReason;
use mailkeep_storage_rpc::storage as pb;

use crate::parse::Command;
use crate::reply::{Reply, RespCode, TopCut};
use crate::session::Flow;

/// The one mailbox POP3 sees.
const MAILBOX: &str = "INBOX";

/// One message of the maildrop.
#[derive(Debug)]
struct Entry {
    uid: u32,
    size: u64,
    /// The UIDL another server gave the message (kept after a migration);
    /// `None` for the default one, written out only when asked for
    /// ([`write_uidl`]): a poller that never sends UIDL costs no string
    /// per message at login.
    kept_uidl: Option<String>,
    deleted: bool,
}

/// Why the maildrop could not be opened.
#[derive(Debug)]
pub(crate) enum OpenError {
    /// Another session holds the lock (`pop3.lock_session`).
    InUse,
    /// Storage failed or could not be reached.
    Unavailable(StorageError),
}

/// Storage failed; the text is for the log.
#[derive(Debug)]
pub(crate) struct Unavailable(pub(crate) StorageError);

/// The maildrop of one session.
pub(crate) struct Maildrop {
    storage: Storage,
    uidvalidity: u32,
    messages: Vec<Entry>,
    /// The session lock's stream, held open while the session lasts.
    _lock: Option<tonic::Streaming<pb::LockMaildropEvent>>,
    /// The messages after the last one retrieved, streaming already.
    ahead: Option<retrieve::ReadAhead>,
}

impl Maildrop {
    /// Opens the logged-in user's maildrop, taking the session lock first
    /// when `lock` says so.
    pub(crate) async fn open(storage: Storage, lock: bool) -> Result<Maildrop, OpenError> {
        let owner = storage.user().to_owned();
        let held = if lock {
            Some(take_lock(&storage, &owner).await?)
        } else {
            None
        };
        let opened = storage
            .call(&owner, Retry::Idempotent, |rpc| {
                let request = rpc.request(pb::OpenMaildropRequest {
                    owner: owner.clone(),
                    mailbox: MAILBOX.into(),
                });
                async move { rpc.maildrop().open(request).await }
            })
            .await
            .map_err(OpenError::Unavailable)?;
        let uidvalidity = opened.uidvalidity;
        let messages = opened
            .messages
            .into_iter()
            .map(|m| Entry {
                uid: m.uid,
                size: m.size,
                kept_uidl: (!m.uidl.is_empty()).then_some(m.uidl),
                deleted: false,
            })
            .collect();
        Ok(Maildrop {
            storage,
            uidvalidity,
            messages,
            _lock: held,
            ahead: None,
        })
    }

    /// The number and total size of the messages not marked deleted.
    pub(crate) fn stat(&self) -> (usize, u64) {
        self.live()
            .fold((0, 0), |(n, size), (_, e)| (n + 1, size + e.size))
    }

    fn live(&self) -> impl Iterator<Item = (usize, &Entry)> {
        self.messages
            .iter()
            .enumerate()
            .filter(|(_, e)| !e.deleted)
            .map(|(i, e)| (i + 1, e))
    }

    /// Message number `n`, if it exists and is not marked deleted.
    fn entry(&self, n: u32) -> Result<&Entry, Reply> {
        let found = usize::try_from(n)
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| self.messages.get(i));
        match found {
            None => Err(Reply::err(format!("There is no message {n}"))),
            Some(e) if e.deleted => Err(Reply::err(format!("Message {n} is deleted"))),
            Some(e) => Ok(e),
        }
    }

    /// Whether messages are streaming ahead of the client's RETRs.
    pub(crate) fn reads_ahead(&self) -> bool {
        self.ahead.is_some()
    }

    /// Stops reading ahead (the client is slow to ask for more): the
    /// storage process's stream is cancelled, so it holds no thread and
    /// counts no call in flight for a client that is idle.
    pub(crate) fn stop_reading_ahead(&mut self) {
        self.ahead = None;
    }

    /// Runs a TRANSACTION command other than QUIT and CAPA.
    pub(crate) async fn run(&mut self, command: Command, out: &ConnWriter) -> io::Result<Flow> {
        let reply = match command {
            Command::Stat => {
                let (n, size) = self.stat();
                Reply::ok(format!("{n} {size}"))
            }
            Command::List(None) => {
                let (n, size) = self.stat();
                let mut text = Reply::ok(format!("{n} messages ({size} octets)")).encode();
                for (i, e) in self.live() {
                    // Writing to a Vec cannot fail.
                    let _ = write!(text, "{i} {}\r\n", e.size);
                }
                return multiline(out, text).await;
            }
            Command::List(Some(n)) => match self.entry(n) {
                Ok(e) => Reply::ok(format!("{n} {}", e.size)),
                Err(reply) => reply,
            },
            Command::Uidl(None) => {
                let mut text = Reply::ok("").encode();
                for (i, e) in self.live() {
                    let _ = write!(text, "{i} ");
                    write_uidl(&mut text, e, self.uidvalidity);
                    text.extend_from_slice(b"\r\n");
                }
                return multiline(out, text).await;
            }
            Command::Uidl(Some(n)) => match self.entry(n) {
                Ok(e) => {
                    let mut uidl = Vec::with_capacity(16);
                    write_uidl(&mut uidl, e, self.uidvalidity);
                    Reply::ok(format!("{n} {}", String::from_utf8_lossy(&uidl)))
                }
                Err(reply) => reply,
            },
            Command::Retr(n) => return self.retrieve(n, None, out).await,
            Command::Top(n, lines) => return self.retrieve(n, Some(TopCut::new(lines)), out).await,
            Command::Dele(n) => match self.entry(n).map(|_| ()) {
                Ok(()) => {
                    if let Some(e) = usize::try_from(n)
                        .ok()
                        .and_then(|n| self.messages.get_mut(n - 1))
                    {
                        e.deleted = true;
                    }
                    Reply::ok(format!("Message {n} marked deleted"))
                }
                Err(reply) => reply,
            },
            Command::Rset => {
                for e in &mut self.messages {
                    e.deleted = false;
                }
                let (n, size) = self.stat();
                Reply::ok(format!("{n} messages ({size} octets)"))
            }
            Command::Noop => Reply::ok(""),
            _ => Reply::err("Not valid in this state"),
        };
        out.write(&reply.encode()).await?;
        Ok(Flow::Continue)
    }

    /// QUIT's UPDATE state: removes the messages marked deleted, at once
    /// and durably; returns how many were removed.
    pub(crate) async fn commit(&self) -> Result<usize, Unavailable> {
        let uids: Vec<u32> = self
            .messages
            .iter()
            .filter(|e| e.deleted)
            .map(|e| e.uid)
            .collect();
        if uids.is_empty() {
            return Ok(0);
        }
        let owner = self.storage.user().to_owned();
        let uidvalidity = self.uidvalidity;
        // Repeating it removes nothing more: safe to retry.
        let done = self
            .storage
            .call(&owner, Retry::Idempotent, |rpc| {
                let request = rpc.request(pb::CommitMaildropRequest {
                    owner: owner.clone(),
                    mailbox: MAILBOX.into(),
                    uidvalidity,
                    uids: uids.clone(),
                });
                async move { rpc.maildrop().commit(request).await }
            })
            .await
            .map_err(Unavailable)?;
        Ok(done.expunged.len())
    }

    /// The session is over: its ticket is revoked (and the lock, if held,
    /// released with the stream).
    pub(crate) async fn close(self) {
        self.storage.end().await;
    }
}

/// Takes the session lock: its stream's first item says it is held.
async fn take_lock(
    storage: &Storage,
    owner: &str,
) -> Result<tonic::Streaming<pb::LockMaildropEvent>, OpenError> {
    let locked = storage
        .call(owner, Retry::Idempotent, |rpc| {
            let request = rpc.request(pb::LockMaildropRequest {
                owner: owner.to_owned(),
            });
            async move { rpc.maildrop().lock(request).await }
        })
        .await;
    let mut stream = match locked {
        Ok(stream) => stream,
        Err(e) if e.reason() == ErrorReason::InUse => return Err(OpenError::InUse),
        Err(e) => return Err(OpenError::Unavailable(e)),
    };
    match stream.message().await {
        Ok(Some(event)) if event.held => Ok(stream),
        Ok(_) => Err(OpenError::InUse),
        Err(status) => Err(OpenError::Unavailable(StorageError::Status(status))),
    }
}

/// The -ERR for a RETR or TOP whose message could not be read.
fn fetch_failed(e: &StorageError) -> Reply {
    match e.reason() {
        ErrorReason::UidvalidityChanged | ErrorReason::Nonexistent | ErrorReason::Expunged => {
            Reply::err("The maildrop was changed by another program; log in again")
        }
        _ => {
            tracing::warn!(error = %e, "message not read");
            Reply::err("The message cannot be read now; try again later").code(RespCode::SysTemp)
        }
    }
}

/// Queues a status line and the lines of a listing after it (`text`
/// holds both; none of the lines starts with a dot), ended by the dot.
async fn multiline(out: &ConnWriter, mut text: Vec<u8>) -> io::Result<Flow> {
    text.extend_from_slice(b".\r\n");
    out.write(&text).await?;
    Ok(Flow::Continue)
}

/// Appends a message's UIDL: the one kept from another server, or
/// Dovecot's default `pop3_uidl_format`, `%08Xu%08Xv` (UID and
/// UIDVALIDITY in eight upper-case hex digits each).
fn write_uidl(text: &mut Vec<u8>, entry: &Entry, uidvalidity: u32) {
    match &entry.kept_uidl {
        Some(kept) => text.extend_from_slice(kept.as_bytes()),
        None => {
            // Writing to a Vec cannot fail.
            let _ = write!(text, "{:08X}{uidvalidity:08X}", entry.uid);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(uid: u32, kept: Option<&str>) -> Entry {
        Entry {
            uid,
            size: 0,
            kept_uidl: kept.map(str::to_owned),
            deleted: false,
        }
    }

    #[test]
    fn default_uidls_are_dovecots_format_and_kept_ones_stay() {
        for (uid, uidvalidity, uidl) in [
            (1, 1, "0000000100000001"),
            (0x2A, 0x6543_21AB, "0000002A654321AB"),
            (u32::MAX, 0, "FFFFFFFF00000000"),
        ] {
            let mut text = Vec::new();
            write_uidl(&mut text, &entry(uid, None), uidvalidity);
            assert_eq!(text, uidl.as_bytes());
        }
        let mut text = Vec::new();
        write_uidl(&mut text, &entry(5, Some("00000005abcdef12")), 9);
        assert_eq!(text, b"00000005abcdef12");
    }
}
