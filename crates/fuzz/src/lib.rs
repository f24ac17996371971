//! Fuzz targets for the code that reads bytes an attacker chooses (issue
//! 10, DESIGN.md §3 and §7): the IMAP command parser, MIME parsing as the
//! store does it, ticket decoding and verification, auth's SASL
//! exchanges, and auth, the master's broker and a storage process
//! answering what a protocol process sends them.
//!
//! Each target is a plain `fn(&[u8])` that feeds the bytes to the code
//! under test and asserts properties of what comes back (round trips,
//! offsets within bounds, forged tickets refused), not only that nothing
//! panics. A target panics when a property fails: that is how every
//! engine (libFuzzer, proptest) learns of a failure, so the asserts here
//! are the oracle, not error handling. For the same reason the crate is
//! test code and, as tests do, expects what the machine must give it (a
//! temporary store, an append) rather than handling its failure.
//!
//! Three drivers run the same targets:
//! * `cargo test -p mailkeep-fuzz` (stable): `tests/corpus.rs` replays the
//!   committed corpus under `corpus/<target>/`, and `tests/fuzz.rs` runs
//!   each target for a bounded number of proptest-generated inputs
//!   (mutations of the corpus, dictionary tokens, random bytes); CI runs
//!   both as part of `cargo test --workspace`.
//! * `MAILKEEP_FUZZ_CASES=200000 MAILKEEP_FUZZ_SEED=random cargo test
//!   --release -p mailkeep-fuzz --test fuzz`: a longer run on stable.
//! * `cargo +nightly fuzz run imap_command fuzz/corpus/imap_command
//!   corpus/imap_command` in `crates/fuzz` (where a
//!   nightly toolchain exists): coverage-guided, from `fuzz/`.
//!
//! A target is added with one row in [`TARGETS`], a folder of seeds under
//! `corpus/`, one line in `tests/fuzz.rs` and a file in
//! `fuzz/fuzz_targets/`. [`line_protocol::commands`] runs a pure
//! `parse(&[u8])` over every line of an input (the POP3 and LMTP
//! command parsers).

#![forbid(unsafe_code)]

pub mod auth;
pub mod auth_socket;
pub mod broker;
pub mod imap;
pub mod line_protocol;
pub mod lmtp;
pub mod mime;
pub mod pop3;
pub mod rpc;
pub mod sasl;
pub mod storage;
pub mod ticket;

/// One fuzz target: its name (also its corpus folder), the function, and
/// the byte strings worth splicing into its inputs.
pub struct Target {
    /// The name, as in `corpus/<name>/` and `fuzz/fuzz_targets/<name>.rs`.
    pub name: &'static str,
    /// Runs one input; panics when a property fails.
    pub run: fn(&[u8]),
    /// Tokens of the input's grammar, for the stable engine's mutations.
    pub dictionary: &'static [&'static [u8]],
}

/// Every target.
pub static TARGETS: &[Target] = &[
    Target {
        name: "auth_socket_line",
        run: auth_socket::line,
        dictionary: auth_socket::DICTIONARY,
    },
    Target {
        name: "imap_command",
        run: imap::command_stream,
        dictionary: imap::DICTIONARY,
    },
    Target {
        name: "lmtp_session",
        run: lmtp::session,
        dictionary: lmtp::DICTIONARY,
    },
    Target {
        name: "mime_message",
        run: mime::message,
        dictionary: mime::DICTIONARY,
    },
    Target {
        name: "mime_store",
        run: mime::stored_message,
        dictionary: mime::DICTIONARY,
    },
    Target {
        name: "pop3_command",
        run: pop3::command,
        dictionary: pop3::DICTIONARY,
    },
    Target {
        name: "ticket",
        run: ticket::ticket,
        dictionary: ticket::DICTIONARY,
    },
    Target {
        name: "broker_request",
        run: broker::request_stream,
        dictionary: broker::DICTIONARY,
    },
    Target {
        name: "sasl_exchange",
        run: sasl::exchange,
        dictionary: sasl::DICTIONARY,
    },
    Target {
        name: "auth_request",
        run: auth::request_stream,
        dictionary: auth::DICTIONARY,
    },
    Target {
        name: "storage_request",
        run: storage::request_stream,
        dictionary: storage::DICTIONARY,
    },
];

/// The target called `name`.
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

/// Where the committed seed corpus of target `name` lives.
pub fn corpus_dir(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(name)
}
