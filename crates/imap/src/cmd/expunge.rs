//! EXPUNGE and UID EXPUNGE (RFC 9051 §6.4.3, RFC 4315 §2.1).

use mailkeep_frontend::Retry;
use mailkeep_imap_proto::{Code, Expunge};
use mailkeep_storage_rpc::storage::ExpungeRequest;

use crate::cmd::common::{ranges, resolve};
use crate::cmd::{Command, Cx, Done, Runs, Spec};
use crate::errors::{ImapError, Target, storage_reply};
use crate::reply::Reply;
use crate::session::state::Selected;

impl Command for Expunge {
    type State = Selected;

    const SPEC: Spec = Spec {
        name: "EXPUNGE",
        runs: Runs::Alone,
        capability: None,
    };

    async fn run(self, cx: Cx, state: Selected) -> Result<Done, ImapError> {
        let mailbox = &state.mailbox;
        if mailbox.read_only {
            return Ok(Done::reply(
                Reply::no("Mailbox is read-only").code(Code::Cannot),
            ));
        }
        let uids = match &self.uid_set {
            Some(set) => match resolve(&mailbox.view(), set, true) {
                Ok(uids) if uids.is_empty() => {
                    return Ok(Done::reply(Reply::ok("Expunge completed.")));
                }
                Ok(uids) => ranges(&uids),
                Err(reply) => return Ok(Done::reply(reply)),
            },
            None => Vec::new(),
        };
        let request = ExpungeRequest {
            owner: state.owner().to_owned(),
            mailbox: mailbox.name(),
            uidvalidity: mailbox.uidvalidity,
            uids,
        };
        let result = state
            .call(Retry::Idempotent, |rpc| {
                let request = rpc.request(request.clone());
                async move { rpc.storage().expunge(request).await }
            })
            .await;
        let response = match result {
            Ok(response) => response,
            Err(e) => return Ok(Done::reply(storage_reply(&e, Target::Other))),
        };
        let (updates, highest) = {
            let mut view = mailbox.view();
            let updates = view.expunge(&response.expunged);
            view.own_change(response.previous_highestmodseq, response.highestmodseq);
            // What the view knows everything up to: the expunge's own
            // MODSEQ unless others changed the mailbox in between, which
            // a sync tells first (a client keeping a higher value would
            // never hear of those changes).
            let highest = (!view.has_pending_expunges()).then_some(view.highest_modseq);
            (updates, highest)
        };
        let mut out = Vec::new();
        mailbox.write_updates(&mut out, &updates, cx.enabled);
        cx.out.send(&out).await?;
        let reply = Reply::ok("Expunge completed.");
        // VANISHED carries no mod-sequence: with QRESYNC the tagged OK
        // tells the one the expunge made (RFC 7162 §3.2.10), for the
        // client's next resynchronization.
        Ok(Done::reply(match highest {
            Some(highest) if cx.enabled.qresync => reply.code(Code::HighestModSeq(highest)),
            _ => reply,
        }))
    }
}
