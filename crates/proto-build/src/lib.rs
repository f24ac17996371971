//! For build scripts of plugin crates: compiles `.proto` files to tonic and
//! prost code with protox, a protobuf compiler in pure Rust, so a build
//! needs nothing but cargo (DESIGN §7), as `storage-rpc`'s own build does.
//!
//! ```no_run
//! // build.rs of a plugin crate
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     mailkeep_proto_build::compile("../../../proto", &["mailkeep/quota/v1/quota.proto"])
//! }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::path::Path;

/// Compiles `files` (paths below `root`, which is relative to the calling
/// crate's manifest directory) into client and server code in `OUT_DIR`,
/// for `tonic::include_proto!`; cargo reruns the script when one changes.
pub fn compile(root: &str, files: &[&str]) -> Result<(), Box<dyn std::error::Error>> {
    // Read when the script runs, not baked in when it is compiled: a build
    // script reused from another checkout's target must read this one's.
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR")?;
    let root = Path::new(&manifest_dir).join(root);
    for file in files {
        println!("cargo:rerun-if-changed={}", root.join(file).display());
    }
    let fds = protox::compile(files, [&root])?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(fds)?;
    Ok(())
}
