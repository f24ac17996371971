//! Logging to stderr. Every process of the server writes to the same
//! stderr, so each line starts with the time, the role and the pid.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};

/// The line stamp: time, then `role[pid]`.
struct RoleStamp {
    role: &'static str,
    pid: u32,
}

impl FormatTime for RoleStamp {
    fn format_time(&self, w: &mut Writer<'_>) -> std::fmt::Result {
        SystemTime.format_time(w)?;
        write!(w, " {}[{}]", self.role, self.pid)
    }
}

/// Sets up logging for a process of `role`. `RUST_LOG` overrides the
/// default level (info).
pub fn init(role: &'static str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .with_timer(RoleStamp {
            role,
            pid: std::process::id(),
        })
        .try_init();
}
