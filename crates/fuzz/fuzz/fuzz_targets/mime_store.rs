//! libFuzzer entry of the `mime_store` target (see crates/fuzz/src/lib.rs).
//! From crates/fuzz, new finds going to the scratch corpus fuzz/corpus:
//! `cargo +nightly fuzz run mime_store fuzz/corpus/mime_store corpus/mime_store`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mailkeep_fuzz::mime::stored_message(data));
