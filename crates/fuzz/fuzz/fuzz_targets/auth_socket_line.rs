//! libFuzzer entry of the `auth_socket_line` target (see crates/fuzz/src/lib.rs).
//! From crates/fuzz, new finds going to the scratch corpus fuzz/corpus:
//! `cargo +nightly fuzz run auth_socket_line fuzz/corpus/auth_socket_line corpus/auth_socket_line`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mailkeep_fuzz::auth_socket::line(data));
