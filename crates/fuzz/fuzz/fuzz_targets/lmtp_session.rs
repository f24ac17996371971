//! libFuzzer entry of the `lmtp_session` target (see crates/fuzz/src/lib.rs).
//! From crates/fuzz, new finds going to the scratch corpus fuzz/corpus:
//! `cargo +nightly fuzz run lmtp_session fuzz/corpus/lmtp_session corpus/lmtp_session`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mailkeep_fuzz::lmtp::session(data));
