//! libFuzzer entry of the `imap_command` target (see crates/fuzz/src/lib.rs).
//! From crates/fuzz, new finds going to the scratch corpus fuzz/corpus:
//! `cargo +nightly fuzz run imap_command fuzz/corpus/imap_command corpus/imap_command`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mailkeep_fuzz::imap::command_stream(data));
