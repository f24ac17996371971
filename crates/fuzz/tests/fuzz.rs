//! The stable-toolchain fuzz engine: proptest generates inputs for each
//! target (mutations of its committed corpus, runs of its dictionary's
//! tokens, and random bytes), runs the target on each, and on a failure
//! shrinks the input and prints it, to be saved under `corpus/<target>/`
//! with the fix.
//!
//! Bounded and deterministic by default, so CI runs each target briefly
//! and the same way every time. `MAILKEEP_FUZZ_CASES=N` sets the number of
//! inputs per target and `MAILKEEP_FUZZ_SEED=random` (or a number) the
//! generator's seed, for longer explorations:
//! `MAILKEEP_FUZZ_CASES=100000 MAILKEEP_FUZZ_SEED=random cargo test
//! --release -p mailkeep-fuzz --test fuzz`.

use std::fs;

use mailkeep_fuzz::{Target, corpus_dir, target};
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};

/// An input, shown as an escaped byte string when a failure prints it.
#[derive(Clone)]
struct Input(Vec<u8>);

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "b\"{}\"", self.0.escape_ascii())
    }
}

/// One edit of a seed input.
#[derive(Debug, Clone)]
enum Edit {
    /// XOR one byte with a non-zero value.
    Flip(Index, u8),
    /// Insert a byte.
    Insert(Index, u8),
    /// Insert one of the target's dictionary tokens.
    Token(Index, Index),
    /// Remove up to 16 bytes.
    Remove(Index, u8),
    /// Cut the input short.
    Truncate(Index),
    /// Repeat a stretch of up to 64 bytes in place.
    Repeat(Index, u8),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<Index>(), 1u8..).prop_map(|(at, x)| Edit::Flip(at, x)),
        (any::<Index>(), any::<u8>()).prop_map(|(at, b)| Edit::Insert(at, b)),
        (any::<Index>(), any::<Index>()).prop_map(|(at, t)| Edit::Token(at, t)),
        (any::<Index>(), 1u8..16).prop_map(|(at, n)| Edit::Remove(at, n)),
        any::<Index>().prop_map(Edit::Truncate),
        (any::<Index>(), 1u8..64).prop_map(|(at, n)| Edit::Repeat(at, n)),
    ]
}

/// Applies `edits` to `seed`.
fn mutate(mut input: Vec<u8>, edits: &[Edit], dictionary: &[&[u8]]) -> Vec<u8> {
    for e in edits {
        let len = input.len();
        let at = |i: &Index| if len == 0 { 0 } else { i.index(len + 1) };
        match e {
            Edit::Flip(i, x) if len > 0 => {
                let p = i.index(len);
                input[p] ^= x;
            }
            Edit::Flip(..) => {}
            Edit::Insert(i, b) => input.insert(at(i), *b),
            Edit::Token(i, t) if !dictionary.is_empty() => {
                let p = at(i);
                let token = dictionary[t.index(dictionary.len())];
                input.splice(p..p, token.iter().copied());
            }
            Edit::Token(..) => {}
            Edit::Remove(i, n) => {
                let p = at(i).min(len);
                let end = (p + usize::from(*n)).min(len);
                input.drain(p..end);
            }
            Edit::Truncate(i) => input.truncate(at(i)),
            Edit::Repeat(i, n) => {
                let p = at(i).min(len);
                let end = (p + usize::from(*n)).min(len);
                let stretch = input[p..end].to_vec();
                input.splice(p..p, stretch);
            }
        }
    }
    input
}

/// The committed seeds of a target (an empty input if it has none).
fn seeds(target: &Target) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = fs::read_dir(corpus_dir(target.name))
        .map(|dir| {
            dir.filter_map(|e| e.ok())
                .filter_map(|e| fs::read(e.path()).ok())
                .collect()
        })
        .unwrap_or_default();
    if out.is_empty() {
        out.push(Vec::new());
    }
    out.sort();
    out
}

/// Inputs for `target`: mostly edited seeds, some token soups, some noise.
fn inputs(target: &'static Target) -> impl Strategy<Value = Input> {
    let dictionary = target.dictionary;
    let edited = (select(seeds(target)), prop::collection::vec(edit(), 1..8))
        .prop_map(move |(seed, edits)| mutate(seed, &edits, dictionary));
    let tokens = prop::collection::vec(any::<Index>(), 0..48).prop_map(move |picks| {
        picks
            .iter()
            .flat_map(|i| dictionary[i.index(dictionary.len())].iter().copied())
            .collect()
    });
    let noise = prop::collection::vec(any::<u8>(), 0..256);
    prop_oneof![6 => edited, 3 => tokens, 1 => noise].prop_map(Input)
}

/// Runs `name` for the configured number of inputs.
fn fuzz(name: &str, default_cases: u32) {
    let target = target(name).unwrap_or_else(|| panic!("no target {name}"));
    let cases = std::env::var("MAILKEEP_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_cases);
    let seed: u64 = match std::env::var("MAILKEEP_FUZZ_SEED").ok().as_deref() {
        Some("random") => rand_seed(),
        Some(n) => n
            .parse()
            .expect("MAILKEEP_FUZZ_SEED is a number or 'random'"),
        None => 0x6d61_696c_6b65_6570,
    };
    eprintln!("{name}: {cases} inputs, seed {seed}");
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &key));
    let run = target.run;
    let result = runner.run(&inputs(target), |input| {
        std::panic::catch_unwind(|| run(&input.0))
            .map_err(|_| TestCaseError::fail("the target panicked (message above)"))
    });
    if let Err(e) = result {
        panic!(
            "{name} failed (seed {seed}): {e}\nSave the input under {} with the fix.",
            corpus_dir(name).display()
        );
    }
}

/// A seed from the clock, for exploring runs.
fn rand_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
}

// One test per target.

#[test]
fn fuzz_imap_command() {
    fuzz("imap_command", 3000);
}

#[test]
fn fuzz_lmtp_session() {
    fuzz("lmtp_session", 3000);
}

#[test]
fn fuzz_mime_message() {
    fuzz("mime_message", 1500);
}

#[test]
fn fuzz_mime_store() {
    fuzz("mime_store", 200);
}

#[test]
fn fuzz_auth_socket_line() {
    fuzz("auth_socket_line", 3000);
}

#[test]
fn fuzz_pop3_command() {
    fuzz("pop3_command", 3000);
}

#[test]
fn fuzz_ticket() {
    fuzz("ticket", 600);
}

#[test]
fn fuzz_broker_request() {
    fuzz("broker_request", 400);
}

#[test]
fn fuzz_sasl_exchange() {
    fuzz("sasl_exchange", 10000);
}

#[test]
fn fuzz_storage_request() {
    fuzz("storage_request", 120);
}

#[test]
fn fuzz_auth_request() {
    fuzz("auth_request", 120);
}
