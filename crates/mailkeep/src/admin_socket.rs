//! The client side of the master's root-only admin socket: one framed
//! request, one framed reply, for every `mailkeep admin` command that asks
//! the running server.

use std::path::Path;

use anyhow::{Context, bail};
use mailkeep_config::Config;
use mailkeep_storage_rpc::broker::{AdminReply, AdminRequest};
use mailkeep_storage_rpc::framing::{recv_frame, send_frame};

/// Connects to the running master's admin socket (as root), or says why
/// not.
pub fn connect(config: &Config) -> anyhow::Result<std::os::unix::net::UnixStream> {
    let socket = config.run_dir().join(mailkeep_master::admin::ADMIN_SOCKET);
    std::os::unix::net::UnixStream::connect(&socket).with_context(|| {
        format!(
            "connecting to {} (is the server running, and are you root?)",
            socket.display()
        )
    })
}

/// Sends `request` on `stream` (connected by [`connect`], possibly before
/// the process gave up root) and returns the master's reply; a refusal
/// is an error.
pub fn ask(
    stream: std::os::unix::net::UnixStream,
    request: AdminRequest,
) -> anyhow::Result<AdminReply> {
    stream.set_nonblocking(true)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let reply = runtime.block_on(async {
        let stream = tokio::net::UnixStream::from_std(stream)?;
        send_frame(&stream, &request, None).await?;
        let (reply, _fd): (AdminReply, _) = recv_frame(&stream).await?;
        anyhow::Ok(reply)
    })?;
    if !reply.error.is_empty() {
        bail!("the server refused: {}", reply.error);
    }
    Ok(reply)
}

/// [`connect`] and [`ask`] in one, for commands that keep root.
pub fn request(config_path: Option<&Path>, request: AdminRequest) -> anyhow::Result<AdminReply> {
    let config = Config::load(config_path)?;
    ask(connect(&config)?, request)
}
