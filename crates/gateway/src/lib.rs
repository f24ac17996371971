//! The two ends of the cluster's TCP+TLS links (DESIGN §3), each run by an
//! unprivileged, chrooted, seccomp-confined role of its own:
//!
//! * [`inbound`]: the **storage gateway**. Other hosts' relays connect to
//!   it; it terminates TLS, reads the one `GatewayHello`, asks this host's
//!   broker for a connection to the owner's storage process exactly as a
//!   protocol process does (the broker checks the ticket), and splices the
//!   two. Hellos that carry ended sessions are passed to the broker.
//! * [`relay`]: the one process that holds this host's cluster client
//!   certificate and key. The master asks it (on its control channel, which
//!   nothing else can write to) to connect to another host's gateway for a
//!   session whose ticket the broker verified, and hands it one end of a
//!   socket pair whose other end goes to the protocol process; the relay
//!   splices that end with the TLS stream. It also carries ended sessions to
//!   other hosts. Protocol processes so never hold the key, and never need
//!   to make a socket.
//!
//! Neither parses mail nor holds a ticket key; neither reads a file.

pub mod inbound;
pub mod relay;
