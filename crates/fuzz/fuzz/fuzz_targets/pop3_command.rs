//! libFuzzer entry of the `pop3_command` target (see crates/fuzz/src/lib.rs).
//! From crates/fuzz, new finds going to the scratch corpus fuzz/corpus:
//! `cargo +nightly fuzz run pop3_command fuzz/corpus/pop3_command corpus/pop3_command`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mailkeep_fuzz::pop3::command(data));
