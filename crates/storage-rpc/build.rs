//! Compiles the protobuf files under `proto/` with protox (pure Rust), so the
//! build needs no system protoc.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let files = [
        "mailkeep/storage/v1/storage.proto",
        "mailkeep/auth/v1/auth.proto",
        "mailkeep/broker/v1/broker.proto",
    ];
    for f in &files {
        println!("cargo:rerun-if-changed={}", root.join(f).display());
    }
    let fds = protox::compile(files, [&root])?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(fds)?;
    Ok(())
}
