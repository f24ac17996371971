//! Commands plugins add (GETQUOTA, SETQUOTA, ... of the quota plugin): the
//! one table line for all of them. The parser accepts the names the
//! configured plugins registered (see `Process::parser`), and this handler
//! hands each to its plugin with the session's storage path; the imap
//! process never sees a plugin's messages.

use futures::future::BoxFuture;
use mailkeep_frontend::StorageError;
use mailkeep_imap_proto::Extension;
use mailkeep_plugin_api::{ImapCall, MailboxAt, Namespaces, Tagged};

use crate::cmd::{Command, Cx, Done, Runs, Spec};
use crate::errors::ImapError;
use crate::namespace::{Names, Resolved};
use crate::reply::Reply;
use crate::session::state::{Authed, Authenticated};

/// The session's namespaces as a plugin sees them.
struct SessionNamespaces<'a>(&'a Authed);

impl Namespaces for SessionNamespaces<'_> {
    fn resolve<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<MailboxAt>, StorageError>> {
        Box::pin(async move {
            Ok(match Names::new(self.0).resolve(name).await? {
                Resolved::Mailbox(m) => Some(MailboxAt {
                    owner: m.owner,
                    name: m.name,
                }),
                Resolved::Container | Resolved::NoOwner => None,
            })
        })
    }
}

impl Command for Extension {
    type State = Authenticated;

    const SPEC: Spec = Spec {
        name: "EXTENSION",
        // A plugin command may change what others see (SETQUOTA).
        runs: Runs::Alone,
        capability: None,
    };

    async fn run(self, cx: Cx, state: Authenticated) -> Result<Done, ImapError> {
        let plugins = &cx.process.settings.plugins;
        let Some(plugin) = plugins.imap_command(&self.name) else {
            return Ok(Done::reply(Reply::bad(format!(
                "Unknown command {}",
                self.name
            ))));
        };
        let encoder = cx.enabled.encoder();
        let namespaces = SessionNamespaces(&state.authed);
        let call = ImapCall {
            command: self,
            user: state.authed.user(),
            storage: &state.authed.storage,
            encoder,
            utf8: encoder.utf8,
            namespaces: &namespaces,
        };
        let answer = plugin.run_imap(call).await;
        if !answer.untagged.is_empty() {
            cx.out.send(&answer.untagged).await?;
        }
        Ok(Done::reply(match answer.tagged {
            Tagged::Ok(text) => Reply::ok(text),
            Tagged::No(Some(code), text) => Reply::no(text).code(code),
            Tagged::No(None, text) => Reply::no(text),
            Tagged::Bad(text) => Reply::bad(text),
        }))
    }
}
