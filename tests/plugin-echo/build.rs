//! Compiles the test plugin's proto (no system protoc).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    mailkeep_proto_build::compile("proto", &["mailkeep/echo/v1/echo.proto"])
}
