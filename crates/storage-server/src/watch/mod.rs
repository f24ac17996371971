//! Change notifications (DESIGN §4, issue 4 item 5): the `Watch` stream.
//!
//! Mutations served by this process publish to the [`ChangeBus`] at once;
//! while anyone watches an owner, a poller notices commits made by other
//! processes of the same owner (a second storage process, an LDA) through
//! a dedicated index connection and publishes what changed.

pub(crate) mod bus;
mod poll;
pub(crate) mod service;

pub(crate) use bus::ChangeBus;

use std::sync::Arc;

use mailkeep_storage_rpc::storage::watch_server::WatchServer;

use crate::gate::Gate;

/// The Watch service, ready for the storage process's gRPC server.
pub(crate) fn server(gate: Arc<Gate>) -> WatchServer<service::WatchService> {
    WatchServer::new(service::WatchService { gate })
}
