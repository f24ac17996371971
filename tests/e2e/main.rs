//! End-to-end tests: each starts the real `mailkeep` binary (`serve`) with
//! its data in a private temporary directory and its listening sockets
//! bound by the harness (see `harness::server::SOCKET_ACTIVATION`), and
//! talks to it over real sockets (IMAP over TCP with the test kit's client;
//! gRPC over a UNIX socket for the storage process).
//!
//! Tests that check privilege separation (or need to kill privileged
//! children) run only as root: not root, they fail when `CI=true` and are
//! skipped with a note otherwise.
//!
//! Run: `cargo test -p mailkeep --test e2e` (as root for all of them).

mod harness;
#[allow(dead_code)] // shared with the store's tests, which use all of it
#[path = "../../crates/store/tests/tmpfs/mod.rs"]
mod tmpfs;

mod abuse;
mod accounts;
mod admin_ps;
mod admin_store;
mod auth_confined;
mod auth_socket;
mod bad_input;
mod busy;
mod client_api;
mod client_sequences;
mod cluster;
mod cluster_delivery;
mod cluster_roles;
mod commands;
mod compress;
mod confinement;
mod demo;
mod dsync;
mod expire;
mod fetchmail;
mod flow;
mod homes_added_later;
mod interimap;
mod limits;
mod linger;
mod lmtp;
mod lmtp_durable;
mod mail_location;
mod master_users;
mod mbsync;
mod modes;
mod pop3;
mod pop3_confinement;
mod pop3_migration;
mod pop3_python;
mod pop3_tls;
mod postfix;
mod private_seen;
mod privileges;
mod process_confinement;
mod public_namespace;
mod python_clients;
mod quota;
mod resilience;
mod scram_plus;
mod session_end;
mod sessions;
mod shared_delivery;
mod shared_delivery_cluster;
mod shared_mode_privileges;
mod shared_privileges;
mod sharing;
mod sharing_cluster;
mod sharing_notify;
mod side_by_side;
mod starttls;
mod tickets;
mod tls;
mod unprivileged;
mod unsolicited;
