//! Change notifications (DESIGN §4, issue 4 item 5): the `Watch` stream.
//!
//! Mutations served by this process publish to the [`ChangeBus`] at once;
//! while anyone watches an owner, the kernel (inotify on the owner's index
//! WAL and on `new/` of the watched mailboxes, `kernel.rs`) tells this
//! process of commits made by other processes of the same owner (a second
//! storage process, an LDA, `mailkeep admin acl`) and of mail other
//! programs drop into the Maildir, and what changed is published (an ACL
//! change too: each mailbox's ACL stamp in the index moves with it, see
//! `bus.rs`); where inotify is not available a poller reads the index's
//! `data_version` instead (`poll.rs`).

pub(crate) mod bus;
mod guest;
mod kernel;
mod poll;
mod route;
pub(crate) mod service;

pub(crate) use bus::ChangeBus;

use std::sync::Arc;

use crate::gate::Gate;

/// The Watch service, ready for the storage process's gRPC server.
pub(crate) fn server(gate: Arc<Gate>) -> route::WatchRoute {
    route::WatchRoute::new(service::WatchService { gate })
}
