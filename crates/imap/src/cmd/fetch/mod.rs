//! FETCH and UID FETCH (RFC 9051 §6.4.5) with every item of RFC 9051 and
//! its extensions: structure (ENVELOPE, BODY, BODYSTRUCTURE, PREVIEW) from
//! the Content service, sections and BINARY cut by it, whole messages
//! streamed by Storage.Fetch with the metadata; CHANGEDSINCE and VANISHED
//! (RFC 7162). FLAGS alone come from the session's view (`from_view`);
//! what never changes in a message, once fetched, from the process's
//! cache (`cache`, `from_cache`).

pub(crate) mod announce;
pub(crate) mod cache;
mod from_cache;
mod from_view;
pub(crate) mod plan;
mod respond;
mod structure;

use mailkeep_frontend::{Retry, StorageError};
use mailkeep_imap_proto::{Code, DateTime, Fetch, FetchAttribute, SequenceSet, vanished};
use mailkeep_storage_rpc::fetch_items::FetchItems;
use mailkeep_storage_rpc::storage::{
    ChangesRequest, FetchRequest, StoreFlagsRequest, StoreMode, fetch_item,
};

use crate::cmd::common::{ranges, resolve};
use crate::cmd::{Command, Cx, Done, Runs, Spec};
use crate::errors::{ImapError, Target, storage_reply};
use crate::reply::Reply;
use crate::session::enabled::Enabled;
use crate::session::state::Selected;
use cache::{Learned, MailboxKey};
use plan::{Item, Plan, plan};
use respond::respond;

impl Command for Fetch {
    type State = Selected;

    const SPEC: Spec = Spec {
        name: "FETCH",
        runs: Runs::Beside,
        capability: None,
    };

    fn runs(&self) -> Runs {
        // Setting \Seen changes what the commands after it see.
        let sets_seen = self.items.iter().any(|a| match a {
            FetchAttribute::Rfc822 | FetchAttribute::Rfc822Text => true,
            FetchAttribute::BodySection { peek, .. }
            | FetchAttribute::BinarySection { peek, .. } => !peek,
            _ => false,
        });
        if sets_seen { Runs::Alone } else { Runs::Beside }
    }

    fn uses_sequence_numbers(&self) -> bool {
        !self.uid
    }

    async fn run(self, cx: Cx, state: Selected) -> Result<Done, ImapError> {
        let mailbox = &state.mailbox;
        if self.vanished && !(self.uid && cx.enabled.qresync && self.changed_since.is_some()) {
            return Ok(Done::reply(Reply::bad(
                "VANISHED needs UID FETCH, CHANGEDSINCE and QRESYNC enabled",
            )));
        }
        let wants_modseq =
            self.changed_since.is_some() || self.items.contains(&FetchAttribute::ModSeq);
        let enabled = if wants_modseq {
            cx.enabled.union(Enabled::condstore())
        } else {
            cx.enabled
        };
        let plan = plan(
            &self.items,
            self.uid,
            mailbox.read_only,
            self.changed_since.is_some() || (enabled.condstore && self.changed_since.is_some()),
        );
        let uids = match resolve(&mailbox.view(), &self.set, self.uid) {
            Ok(uids) => uids,
            Err(reply) => return Ok(Done::reply(reply)),
        };
        let done = |reply: Reply| {
            let done = Done::reply(reply);
            if enabled != cx.enabled {
                done.enabling(enabled)
            } else {
                done
            }
        };
        if self.vanished
            && let Some(since) = self.changed_since
            && let Err(reply) = send_vanished(&cx, &state, &self.set, since).await?
        {
            return Ok(done(reply));
        }
        if uids.is_empty() {
            return Ok(done(Reply::ok("Fetch completed.")));
        }
        // Reading a body sets \Seen only where the user may set it (RFC
        // 4314 §4: a guest without the `s` right reads without marking).
        if plan.set_seen
            && mailbox.may_change("\\Seen")
            && let Err(reply) = set_seen(&state, &uids).await
        {
            return Ok(done(reply));
        }
        if from_view::answers_from_view(&plan, self.changed_since)
            && let Some(fetched) =
                from_view::fetch_from_view(&cx, &state, &plan, &uids, enabled).await?
        {
            return Ok(done(fetched.reply()));
        }
        if from_cache::answers_from_cache(&plan, self.changed_since)
            && let Some(fetched) =
                from_cache::fetch_from_cache(&cx, &state, &plan, &uids, enabled).await?
        {
            return Ok(done(fetched.reply()));
        }
        match fetch(&cx, &state, &plan, &uids, self.changed_since, enabled).await? {
            Ok(fetched) => Ok(done(fetched.reply())),
            Err(reply) => Ok(done(reply)),
        }
    }
}

/// Sets `\Seen` on the messages that lack it, before they are fetched.
async fn set_seen(state: &Selected, uids: &[u32]) -> Result<(), Reply> {
    let mailbox = &state.mailbox;
    let unseen: Vec<u32> = {
        let view = mailbox.view();
        uids.iter()
            .copied()
            .filter(|&u| {
                !view
                    .flags_of(u)
                    .is_some_and(|f| f.iter().any(|x| x.eq_ignore_ascii_case("\\Seen")))
            })
            .collect()
    };
    if unseen.is_empty() {
        return Ok(());
    }
    let request = StoreFlagsRequest {
        owner: state.owner().to_owned(),
        mailbox: mailbox.name(),
        uidvalidity: mailbox.uidvalidity,
        uids: ranges(&unseen),
        mode: StoreMode::Add as i32,
        flags: vec!["\\Seen".into()],
        unchanged_since: None,
    };
    let response = state
        .call(Retry::Idempotent, |rpc| {
            let request = rpc.request(request.clone());
            async move { rpc.storage().store_flags(request).await }
        })
        .await
        .map_err(|e| storage_reply(&e, Target::Other))?;
    let mut view = mailbox.view();
    for m in response.updated {
        view.set_flags(m.uid, m.flags);
        view.held(m.modseq);
    }
    Ok(())
}

/// `* VANISHED (EARLIER)` for the UIDs in `set` expunged since `since`
/// (RFC 7162 §3.2.6).
async fn send_vanished(
    cx: &Cx,
    state: &Selected,
    set: &SequenceSet,
    since: u64,
) -> Result<Result<(), Reply>, ImapError> {
    let mailbox = &state.mailbox;
    let request = ChangesRequest {
        owner: state.owner().to_owned(),
        mailbox: mailbox.name(),
        uidvalidity: mailbox.uidvalidity,
        since_modseq: since,
    };
    let changes = match state
        .call(Retry::Idempotent, |rpc| {
            let request = rpc.request(request.clone());
            async move { rpc.storage().changes(request).await }
        })
        .await
    {
        Ok(changes) => changes,
        Err(e) => return Ok(Err(storage_reply(&e, Target::Other))),
    };
    let gone: Vec<u32> = changes
        .vanished
        .into_iter()
        .filter(|&u| crate::cmd::common::set_contains(set, u))
        .collect();
    if !gone.is_empty() {
        let mut out = Vec::new();
        vanished(&mut out, true, &SequenceSet::from_numbers(gone));
        cx.out.send(&out).await?;
    }
    Ok(Ok(()))
}

/// What a FETCH could send.
enum Fetched {
    /// A response for every message asked for.
    All,
    /// Some messages were expunged (by another session) between the
    /// client's view and the reading of their parts: they were left out.
    SomeExpunged,
}

impl Fetched {
    /// The tagged OK.
    fn reply(self) -> Reply {
        match self {
            Fetched::All => Reply::ok("Fetch completed."),
            // RFC 2180 §4.1: the rest was sent; the client learns of the
            // expunge at its next NOOP.
            Fetched::SomeExpunged => {
                Reply::ok("Some messages were already expunged.").code(Code::ExpungeIssued)
            }
        }
    }
}

/// The Fetch call of what `plan` needs of the messages `uids`, its stream
/// read item by item.
pub(super) async fn call_fetch(
    state: &Selected,
    plan: &Plan,
    uids: &[u32],
) -> Result<FetchItems, StorageError> {
    let mailbox = &state.mailbox;
    let want = |item: &Item| plan.structure() && plan.items.contains(item);
    let request = FetchRequest {
        owner: state.owner().to_owned(),
        mailbox: mailbox.name(),
        uidvalidity: mailbox.uidvalidity,
        uids: ranges(uids),
        body: plan.whole_body(),
        cuts: plan.stream_cuts().map(plan::Cut::to_rpc).collect(),
        want_envelope: want(&Item::Envelope),
        want_body_structure: want(&Item::Body) || want(&Item::BodyStructure),
        want_preview: want(&Item::Preview),
    };
    state
        .call(Retry::Idempotent, |rpc| {
            let request = rpc.request(request.clone());
            async move { rpc.storage().fetch(request).await }
        })
        .await
        .map(FetchItems::new)
}

/// Fetches the messages and sends one response each; a NO reply when
/// storage refused before anything was sent for a message.
async fn fetch(
    cx: &Cx,
    state: &Selected,
    plan: &Plan,
    uids: &[u32],
    changed_since: Option<u64>,
    enabled: Enabled,
) -> Result<Result<Fetched, Reply>, ImapError> {
    let mailbox = &state.mailbox;
    let mut messages = match call_fetch(state, plan, uids).await {
        Ok(messages) => messages,
        Err(e) => return Ok(Err(storage_reply(&e, Target::Other))),
    };
    // What the response carries that never changes is kept for the next
    // FETCH of it.
    let keep = from_cache::worth_keeping(plan)
        .then(|| MailboxKey::new(state.owner(), mailbox.name(), mailbox.uidvalidity));
    let mut some_expunged = false;
    // Storage sends the messages that still exist: one the client knows
    // and storage did not send was expunged by another session.
    let mut received = 0usize;
    loop {
        let message = match messages.next().await {
            Ok(Some(fetch_item::Item::Message(message))) => {
                received += 1;
                message
            }
            Ok(Some(_)) => return Err(ImapError::Broken("body chunk without a message".into())),
            Ok(None) => {
                return Ok(Ok(if some_expunged || received < uids.len() {
                    Fetched::SomeExpunged
                } else {
                    Fetched::All
                }));
            }
            Err(status) => {
                return Ok(Err(storage_reply(&status.into(), Target::Other)));
            }
        };
        let structure = if plan.structure() {
            match messages.structure_of(message.uid).await {
                Ok(item) => item,
                Err(status) => return Ok(Err(storage_reply(&status.into(), Target::Other))),
            }
        } else {
            None
        };
        let (uid, size) = (message.uid, message.size);
        let date = DateTime {
            unix: message.internal_date,
            offset_minutes: message.internal_date_offset_minutes,
        };
        let mut learned = Learned::default();
        let responded = respond(
            cx,
            state,
            plan,
            message,
            structure,
            &mut messages,
            changed_since,
            enabled,
            keep.is_some().then_some(&mut learned),
        )
        .await?;
        if let Some(key) = &keep {
            cx.process.fetch_cache.learn(key, uid, size, date, learned);
        }
        if let Err(reply) = responded {
            if reply.code == Some(Code::ExpungeIssued) {
                some_expunged = true;
                continue;
            }
            return Ok(Err(reply));
        }
    }
}
