//! libFuzzer entry of the `mime_message` target (see crates/fuzz/src/lib.rs).
//! From crates/fuzz, new finds going to the scratch corpus fuzz/corpus:
//! `cargo +nightly fuzz run mime_message fuzz/corpus/mime_message corpus/mime_message`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mailkeep_fuzz::mime::message(data));
