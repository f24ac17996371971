//! mailkeep's benchmark kit: what the benchmarks in `crates/bench/benches/`
//! (targets of the `mailkeep` package, which builds the binary they start)
//! share.
//!
//! - [`mix`]: the load generator, concurrent clients playing a mail
//!   client's sessions and timing every command by kind;
//! - [`servers`]: mailkeep and Debian's Dovecot started from throwaway
//!   configurations, the baseline every figure is printed beside;
//! - [`procs`]: a server's process tree, its memory (PSS) and CPU time;
//! - [`messages`]: the deterministic mail both servers store;
//! - [`stats`] and [`report`]: percentiles and lines with ratios.
//!
//! Everything talks to the servers over loopback through the test kit's
//! IMAP client; every wait is bounded. It is never a dependency of a
//! shipped crate.
//!
//! ```no_run
//! # async fn example() -> Result<(), mailkeep_bench::BenchError> {
//! use mailkeep_bench::mix::{self, MixSettings};
//! use mailkeep_bench::servers::Account;
//! let settings = MixSettings {
//!     addr: "127.0.0.1:1143".parse().unwrap(),
//!     accounts: Account::numbered("user", 10),
//!     clients: 10,
//!     sessions_per_client: 5,
//!     rounds_per_session: 2,
//!     timeout: std::time::Duration::from_secs(60),
//!     seed: 1,
//! };
//! let run = mix::run(&settings).await;
//! println!("{} commands/s", run.rate());
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod client;
pub mod error;
pub mod idle;
pub mod lmtp;
pub mod messages;
pub mod mix;
pub mod procs;
pub mod report;
pub mod servers;
pub mod setup;
pub mod stats;

pub use error::BenchError;
