//! A plugin for tests only, never shipped: the proof that a plugin adds an
//! IMAP command (`XECHO text`) and a storage service (`mailkeep.echo.v1`)
//! through `mailkeep-plugin-api` and `mailkeep_storage_server::plugin`
//! alone, with no line of imap, storage-server or the binary changed.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use futures::future::BoxFuture;
use mailkeep_frontend::Retry;
use mailkeep_plugin_api::{ImapAnswer, ImapCall, ProtocolPlugin, Tagged};
use mailkeep_storage_server::plugin::{PluginHost, RoutesBuilder, Scope, StoragePlugin};
use tonic::{Request, Response, Status};

/// The generated code of `mailkeep.echo.v1`.
pub mod pb {
    #![allow(missing_docs, clippy::all, clippy::pedantic)]
    tonic::include_proto!("mailkeep.echo.v1");
}

/// The Echo method's path, declared with its scope.
pub const ECHO: &str = "/mailkeep.echo.v1.Echo/Echo";

/// The storage side.
pub struct EchoStorage;

impl StoragePlugin for EchoStorage {
    fn name(&self) -> &'static str {
        "echo"
    }

    fn methods(&self) -> &'static [(&'static str, Scope)] {
        &[(ECHO, Scope::Session)]
    }

    fn add_services(&self, host: PluginHost, routes: &mut RoutesBuilder) {
        routes.add_service(pb::echo_server::EchoServer::new(EchoService { host }));
    }
}

struct EchoService {
    host: PluginHost,
}

#[tonic::async_trait]
impl pb::echo_server::Echo for EchoService {
    async fn echo(
        &self,
        request: Request<pb::EchoRequest>,
    ) -> Result<Response<pb::EchoReply>, Status> {
        let owner = request.get_ref().owner.clone();
        let store = self.host.admit(&request, &owner, ECHO)?;
        let text: String = request.get_ref().text.chars().rev().collect();
        let status = self.host.run(&owner, move || store.status("INBOX")).await?;
        Ok(Response::new(pb::EchoReply {
            text,
            inbox_messages: status.messages,
        }))
    }
}

/// The protocol side: `XECHO text` answers `* XECHO "txet" N`.
pub struct EchoProtocol;

impl ProtocolPlugin for EchoProtocol {
    fn name(&self) -> &'static str {
        "echo"
    }

    fn imap_capabilities(&self) -> Vec<String> {
        vec!["XECHO".into()]
    }

    fn imap_commands(&self) -> Vec<String> {
        vec!["XECHO".into()]
    }

    fn run_imap<'a>(&'a self, call: ImapCall<'a>) -> BoxFuture<'a, ImapAnswer> {
        Box::pin(async move {
            let [arg] = call.command.args.as_slice() else {
                return ImapAnswer::tagged(Tagged::Bad("XECHO <text>".into()));
            };
            let Some(text) = arg.as_str().map(str::to_owned) else {
                return ImapAnswer::tagged(Tagged::Bad("XECHO <text>".into()));
            };
            let owner = call.user.to_owned();
            let reply = call
                .storage
                .call(&owner, Retry::Idempotent, |rpc| {
                    let request = rpc.request(pb::EchoRequest {
                        owner: owner.clone(),
                        text: text.clone(),
                    });
                    async move {
                        pb::echo_client::EchoClient::new(rpc.channel())
                            .echo(request)
                            .await
                    }
                })
                .await;
            match reply {
                Ok(r) => {
                    let mut untagged = b"* XECHO ".to_vec();
                    call.encoder.astring(&mut untagged, r.text.as_bytes());
                    untagged.extend_from_slice(format!(" {}\r\n", r.inbox_messages).as_bytes());
                    ImapAnswer {
                        untagged,
                        tagged: Tagged::Ok("XECHO completed.".into()),
                    }
                }
                Err(e) => ImapAnswer::tagged(Tagged::No(None, format!("echo failed: {e}"))),
            }
        })
    }
}
