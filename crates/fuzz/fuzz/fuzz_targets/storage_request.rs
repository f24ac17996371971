//! libFuzzer entry of the `storage_request` target (see crates/fuzz/src/lib.rs).
//! From crates/fuzz, new finds going to the scratch corpus fuzz/corpus:
//! `cargo +nightly fuzz run storage_request fuzz/corpus/storage_request corpus/storage_request`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mailkeep_fuzz::storage::request_stream(data));
