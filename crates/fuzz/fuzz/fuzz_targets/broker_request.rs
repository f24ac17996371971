//! libFuzzer entry of the `broker_request` target (see crates/fuzz/src/lib.rs).
//! From crates/fuzz, new finds going to the scratch corpus fuzz/corpus:
//! `cargo +nightly fuzz run broker_request fuzz/corpus/broker_request corpus/broker_request`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mailkeep_fuzz::broker::request_stream(data));
