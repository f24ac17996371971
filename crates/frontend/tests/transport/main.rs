//! The frontend's transport over real sockets: listeners and the accept
//! loop, connections read and written from several tasks, STARTTLS,
//! COMPRESS=DEFLATE, and certificates (SNI, chains, versions, swaps).

mod accept;
mod certificates;
mod common;
mod compress;
mod connection;
mod starttls;
