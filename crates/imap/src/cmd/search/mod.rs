//! SEARCH and UID SEARCH (RFC 9051 §6.4.4) with ESEARCH (RFC 4731),
//! SEARCHRES (RFC 5182) and CONDSTORE's MODSEQ (RFC 7162). The work runs
//! in the storage process's Search service; the session turns sequence
//! numbers into UIDs on the way out and back.

pub(crate) mod convert;
pub(crate) mod results;

use mailkeep_frontend::Retry;
use mailkeep_imap_proto::{Code, Search, SearchKey, SearchReturn};
use mailkeep_storage_rpc::storage::SearchRequest;

use crate::cmd::{Command, Cx, Done, Runs, Spec};
use crate::errors::{ImapError, Target, storage_reply};
use crate::reply::Reply;
use crate::session::contexts::Query;
use crate::session::enabled::Enabled;
use crate::session::state::Selected;
use results::{Found, keep_context, write_results};

/// Charsets SEARCH accepts: the text is UTF-8 either way.
pub(crate) const CHARSETS: &[&str] = &["UTF-8", "US-ASCII"];

/// `NO [BADCHARSET]` unless `charset` is one SEARCH takes.
pub(crate) fn check_charset(charset: Option<&str>) -> Result<(), Reply> {
    match charset {
        Some(cs) if !CHARSETS.iter().any(|c| c.eq_ignore_ascii_case(cs)) => {
            Err(Reply::no("Unsupported charset").code(Code::BadCharset(
                CHARSETS.iter().map(|c| (*c).to_owned()).collect(),
            )))
        }
        _ => Ok(()),
    }
}

/// Whether a key uses MODSEQ (the answer then carries the highest one).
pub(crate) fn uses_modseq(key: &SearchKey) -> bool {
    match key {
        SearchKey::ModSeq { .. } => true,
        SearchKey::Not(k) => uses_modseq(k),
        SearchKey::Or(a, b) => uses_modseq(a) || uses_modseq(b),
        SearchKey::And(keys) => keys.iter().any(uses_modseq),
        _ => false,
    }
}

/// Whether RETURN asks to save the result into `$` (which changes what
/// the commands after it mean, so the command runs alone).
pub(crate) fn saves(returns: Option<&[SearchReturn]>) -> bool {
    returns.is_some_and(|r| r.contains(&SearchReturn::Save))
}

impl Command for Search {
    type State = Selected;

    const SPEC: Spec = Spec {
        name: "SEARCH",
        runs: Runs::Beside,
        capability: Some("ESEARCH"),
    };

    fn runs(&self) -> Runs {
        if saves(self.returns.as_deref()) {
            Runs::Alone
        } else {
            Runs::Beside
        }
    }

    fn uses_sequence_numbers(&self) -> bool {
        !self.uid || convert::uses_sequence_numbers(&self.key)
    }

    async fn run(self, cx: Cx, state: Selected) -> Result<Done, ImapError> {
        if let Err(reply) = check_charset(self.charset.as_deref()) {
            return Ok(Done::reply(reply));
        }
        let mailbox = &state.mailbox;
        let key = {
            let view = mailbox.view();
            match convert::to_rpc(&self.key, &view) {
                Ok(key) => key,
                Err(reply) => return Ok(Done::reply(reply)),
            }
        };
        let charset = self.charset.clone().unwrap_or_default();
        let request = SearchRequest {
            owner: state.owner().to_owned(),
            mailbox: mailbox.name(),
            uidvalidity: mailbox.uidvalidity,
            program: key.clone(),
            charset: charset.clone(),
        };
        let found = match state
            .call(Retry::Idempotent, |rpc| {
                let request = rpc.request(request.clone());
                async move { rpc.search().search(request).await }
            })
            .await
        {
            Ok(found) => found,
            Err(e) => return Ok(Done::reply(storage_reply(&e, Target::Other))),
        };
        let modseq = uses_modseq(&self.key);
        let found = Found {
            uids: found.uids,
            highest_modseq: modseq.then_some(found.highest_modseq),
        };
        let mut out = Vec::new();
        write_results(
            &mut out,
            &cx,
            mailbox,
            &found,
            self.uid,
            self.returns.as_deref(),
            "SEARCH",
        );
        cx.out.send(&out).await?;
        let mut reply = Reply::ok("Search completed.");
        let query = Query::Search(key, charset);
        if let Some(code) = keep_context(
            mailbox,
            &cx.tag,
            self.uid,
            self.returns.as_deref(),
            query,
            &found.uids,
        ) {
            reply = reply.code(code);
        }
        let done = Done::reply(reply);
        Ok(if modseq && !cx.enabled.condstore {
            done.enabling(Enabled::condstore())
        } else {
            done
        })
    }
}
