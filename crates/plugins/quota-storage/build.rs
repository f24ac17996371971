//! Compiles the quota plugin's proto (no system protoc).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    mailkeep_proto_build::compile("../../../proto", &["mailkeep/quota/v1/quota.proto"])
}
