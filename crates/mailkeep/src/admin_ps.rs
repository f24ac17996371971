//! `mailkeep admin ps`: asks the running master, over its root-only admin
//! socket, for its processes and prints them as a table.

use std::path::Path;

use mailkeep_storage_rpc::broker::{AdminReply, AdminRequest, ListProcesses, admin_request};

pub fn run(config_path: Option<&Path>) -> anyhow::Result<()> {
    let reply = crate::admin_socket::request(
        config_path,
        AdminRequest {
            kind: Some(admin_request::Kind::ListProcesses(ListProcesses {})),
        },
    )?;
    print!("{}", render(&reply));
    Ok(())
}

fn seconds(value: f64) -> String {
    if value < 0.0 {
        "-".to_owned()
    } else {
        format!("{value:.0}s")
    }
}

/// The process table as text, one line per process under a header.
fn render(reply: &AdminReply) -> String {
    let mut out = format!(
        "{:<8} {:>7} {:>6} {:<14} {:<20} {:>5} {:>8} {:>8} {:<4} {:>8} {:>8} {:>8}\n",
        "ROLE",
        "PID",
        "UID",
        "KEY",
        "OWNERS",
        "CONNS",
        "SESSIONS",
        "INFLIGHT",
        "BUSY",
        "IDLE",
        "LINGER",
        "UPTIME"
    );
    for p in &reply.processes {
        let owners = if p.owners.is_empty() {
            "-".to_owned()
        } else {
            p.owners.join(",")
        };
        let key = if p.key.is_empty() { "-" } else { &p.key };
        out.push_str(&format!(
            "{:<8} {:>7} {:>6} {:<14} {:<20} {:>5} {:>8} {:>8} {:<4} {:>8} {:>8} {:>8}\n",
            p.role,
            p.pid,
            p.uid,
            key,
            owners,
            p.connections,
            p.sessions,
            p.in_flight,
            if p.busy { "yes" } else { "no" },
            seconds(p.idle_secs),
            seconds(p.linger_left_secs),
            seconds(p.uptime_secs),
        ));
    }
    out
}
