//! libFuzzer entry of the `sasl_exchange` target (see crates/fuzz/src/lib.rs).
//! From crates/fuzz, new finds going to the scratch corpus fuzz/corpus:
//! `cargo +nightly fuzz run sasl_exchange fuzz/corpus/sasl_exchange corpus/sasl_exchange`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mailkeep_fuzz::sasl::exchange(data));
