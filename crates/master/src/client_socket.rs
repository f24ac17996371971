//! The client socket: where programs that are not the server's own
//! processes (a webmail backend, an admin tool) reach auth and storage.
//! They speak the broker protocol the protocol processes speak: ask for an
//! auth connection, log in with SASL, and attach to the owner's storage
//! with the ticket auth gave them — nothing is done for them that the
//! ticket does not allow. See `mailkeep_frontend::Storage`.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use mailkeep_storage_rpc::quiet_stream::QuietStream;
use tokio::net::UnixListener;

use crate::MasterError;
use crate::serve::Shared;

/// The client socket's file name inside the run directory.
pub const CLIENT_SOCKET: &str = "client.sock";

/// Binds the client socket at `path` (replacing a stale one) with `mode`.
pub fn bind(path: &Path, mode: u32) -> Result<UnixListener, MasterError> {
    if path.exists() {
        std::fs::remove_file(path)
            .map_err(|e| MasterError::io(format!("removing stale {}", path.display()), e))?;
    }
    let listener = UnixListener::bind(path)
        .map_err(|e| MasterError::io(format!("binding client socket {}", path.display()), e))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o777))
        .map_err(|e| MasterError::io(format!("chmod {}", path.display()), e))?;
    Ok(listener)
}

/// Serves each program that connects as a broker client until the master
/// stops.
pub async fn serve(shared: Arc<Shared>, listener: UnixListener) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "client socket accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let stream = match stream.into_std().and_then(QuietStream::from_std) {
            Ok(stream) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "client socket connection unusable");
                continue;
            }
        };
        let client_id = shared.next_connection_id();
        tracing::info!(client_id, "a program connected to the client socket");
        tokio::spawn(crate::broker::serve_client(
            Arc::clone(&shared),
            client_id,
            "",
            stream,
        ));
    }
}
