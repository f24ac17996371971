//! Compiles the protobuf files under `proto/` with protox (pure Rust), so the
//! build needs no system protoc. Every `.proto` file in the storage, auth and
//! broker package directories is compiled, so a new service needs only its
//! file.

use std::path::{Path, PathBuf};

const PACKAGE_DIRS: [&str; 3] = [
    "mailkeep/storage/v1",
    "mailkeep/auth/v1",
    "mailkeep/broker/v1",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Read when the script runs, not baked in when it is compiled: a build
    // script binary reused from another checkout's target directory must
    // still read this checkout's protos.
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR")?;
    let root = Path::new(&manifest_dir).join("../../proto");
    let mut files: Vec<PathBuf> = Vec::new();
    for dir in PACKAGE_DIRS {
        let full = root.join(dir);
        println!("cargo:rerun-if-changed={}", full.display());
        for entry in std::fs::read_dir(&full)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "proto") {
                println!("cargo:rerun-if-changed={}", path.display());
                files.push(path.strip_prefix(&root)?.to_owned());
            }
        }
    }
    files.sort();
    let fds = protox::compile(&files, [&root])?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(fds)?;
    Ok(())
}
