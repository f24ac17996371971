//! libFuzzer entry of the `auth_request` target (see crates/fuzz/src/lib.rs).
//! From crates/fuzz, new finds going to the scratch corpus fuzz/corpus:
//! `cargo +nightly fuzz run auth_request fuzz/corpus/auth_request corpus/auth_request`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mailkeep_fuzz::auth::request_stream(data));
