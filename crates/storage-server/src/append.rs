//! Append: the header first, then chunks written to the store's
//! [`AppendWriter`](mailkeep_store::AppendWriter) on a blocking thread as
//! they arrive (a bounded channel keeps memory bounded); the reply comes
//! after the commit (fsynced, indexed). A client that goes away mid-append
//! drops the writer, which removes its temporary file.

use mailkeep_storage_rpc::metadata::ticket_of;
use mailkeep_storage_rpc::storage as pb;
use mailkeep_storage_rpc::storage::append_request::Part;
use mailkeep_store::{Appended, Flags, InternalDate, StoreError};
use mailkeep_ticket::Scope;
use tokio::sync::mpsc;
use tonic::{Request, Response, Status, Streaming};

use mailkeep_storage_rpc::errors::{self, ErrorReason};

use crate::convert::{invalid, server_bug, status_of};
use crate::gate::Gate;

/// Chunks that may wait for the disk.
const QUEUE: usize = 4;

/// What the receiving side hands the writer thread.
enum Piece {
    Chunk(Vec<u8>),
    Commit,
}

/// Serves one Append call.
pub(crate) async fn append(
    gate: &Gate,
    request: Request<Streaming<pb::AppendRequest>>,
) -> Result<Response<pb::AppendResponse>, Status> {
    let ticket = ticket_of(&request).map(str::to_owned);
    let mut stream = request.into_inner();
    let header = match stream.message().await? {
        Some(pb::AppendRequest {
            part: Some(Part::Header(h)),
        }) => h,
        _ => {
            return Err(invalid("the first Append message must be the AppendHeader"));
        }
    };
    // Delivery tickets may append; session tickets allow it too.
    let store = gate.admit(ticket.as_deref(), &header.owner, Scope::Deliver, "Append")?;
    let flags = Flags::parse(&header.flags).map_err(status_of)?;
    let date = (header.internal_date != 0).then_some(InternalDate {
        secs: header.internal_date,
        offset_minutes: header.internal_date_offset_minutes,
    });
    let (tx, mut rx) = mpsc::channel::<Piece>(QUEUE);
    let mailbox = header.mailbox;
    let watched = mailbox.clone();
    let size = header.size;
    let (done_tx, writer) = tokio::sync::oneshot::channel();
    let owner = header.owner;
    gate.spawn(&owner, move || {
        let result = (|| -> Result<Option<Appended>, StoreError> {
            let mut w = store.begin_append(&mailbox, flags, date, size)?;
            while let Some(piece) = rx.blocking_recv() {
                match piece {
                    Piece::Chunk(c) => w.write(&c)?,
                    Piece::Commit => return w.commit().map(Some),
                }
            }
            // The sender went away without Commit: dropping `w` removes the file.
            Ok(None)
        })();
        let _ = done_tx.send(result);
    })?;
    let outcome = loop {
        match stream.message().await {
            Ok(Some(pb::AppendRequest {
                part: Some(Part::Chunk(c)),
            })) => {
                if tx.send(Piece::Chunk(c)).await.is_err() {
                    // The writer stopped on an error; it is reported below.
                    break Ok(());
                }
            }
            Ok(None) => {
                let _ = tx.send(Piece::Commit).await;
                break Ok(());
            }
            Ok(Some(_)) => {
                break Err(invalid("only chunks may follow the AppendHeader"));
            }
            Err(status) => {
                tracing::info!(code = ?status.code(), "append aborted by the client");
                break Err(errors::status(
                    ErrorReason::Cancelled,
                    format!("append stream broken: {}", status.message()),
                ));
            }
        }
    };
    drop(tx);
    let written = writer.await.map_err(|_| server_bug("append task failed"))?;
    if let (Ok(()), Ok(Some(a))) = (&outcome, &written) {
        let kind = pb::WatchChangeKind::NewMessages;
        let next = a.uid.checked_add(1);
        gate.changes()
            .publish_mailbox(&owner, &watched, a.uidvalidity, a.modseq, kind, next);
    }
    match (outcome, written) {
        (_, Err(e)) => Err(status_of(e)),
        (Err(status), Ok(_)) => Err(status),
        (Ok(()), Ok(Some(a))) => Ok(Response::new(pb::AppendResponse {
            uidvalidity: a.uidvalidity,
            uid: a.uid,
            modseq: a.modseq,
        })),
        (Ok(()), Ok(None)) => Err(server_bug("append ended without a commit")),
    }
}
