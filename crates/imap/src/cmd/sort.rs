//! SORT and UID SORT (RFC 5256) with ESORT (RFC 5267 §3) and
//! SORT=DISPLAY (RFC 5957): the sort runs in the storage process.

use mailkeep_frontend::Retry;
use mailkeep_imap_proto::{Sort, SortKey};
use mailkeep_storage_rpc::storage::{SortCriterion, SortKeyKind, SortRequest};

use crate::cmd::search::results::{Found, keep_context, write_results};
use crate::cmd::search::{check_charset, convert};
use crate::cmd::{Command, Cx, Done, Runs, Spec};
use crate::errors::{ImapError, Target, storage_reply};
use crate::reply::Reply;
use crate::session::contexts::Query;
use crate::session::state::Selected;

impl Command for Sort {
    type State = Selected;

    const SPEC: Spec = Spec {
        name: "SORT",
        runs: Runs::Beside,
        capability: Some("SORT"),
    };

    fn runs(&self) -> Runs {
        if crate::cmd::search::saves(self.returns.as_deref()) {
            Runs::Alone
        } else {
            Runs::Beside
        }
    }

    fn uses_sequence_numbers(&self) -> bool {
        !self.uid || convert::uses_sequence_numbers(&self.key)
    }

    async fn run(self, cx: Cx, state: Selected) -> Result<Done, ImapError> {
        if let Err(reply) = check_charset(Some(&self.charset)) {
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
        let criteria: Vec<SortCriterion> = self
            .criteria
            .iter()
            .map(|c| SortCriterion {
                key: kind(c.key) as i32,
                reverse: c.reverse,
            })
            .collect();
        let request = SortRequest {
            owner: state.owner().to_owned(),
            mailbox: mailbox.name(),
            uidvalidity: mailbox.uidvalidity,
            criteria: criteria.clone(),
            program: key.clone(),
            charset: self.charset.clone(),
        };
        let sorted = match state
            .call(Retry::Idempotent, |rpc| {
                let request = rpc.request(request.clone());
                async move { rpc.search().sort(request).await }
            })
            .await
        {
            Ok(sorted) => sorted,
            Err(e) => return Ok(Done::reply(storage_reply(&e, Target::Other))),
        };
        let found = Found {
            uids: sorted.uids,
            // The Sort service does not report MODSEQs; a SORT by MODSEQ
            // criteria gets none (RFC 7162 makes it optional for SORT).
            highest_modseq: None,
        };
        let mut out = Vec::new();
        write_results(
            &mut out,
            &cx,
            mailbox,
            &found,
            self.uid,
            self.returns.as_deref(),
            "SORT",
        );
        cx.out.send(&out).await?;
        let mut reply = Reply::ok("Sort completed.");
        let query = Query::Sort(criteria, key, self.charset.clone());
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
        Ok(Done::reply(reply))
    }
}

/// The RPC's sort key.
fn kind(key: SortKey) -> SortKeyKind {
    match key {
        SortKey::Arrival => SortKeyKind::Arrival,
        SortKey::Cc => SortKeyKind::Cc,
        SortKey::Date => SortKeyKind::Date,
        SortKey::From => SortKeyKind::From,
        SortKey::Size => SortKeyKind::Size,
        SortKey::Subject => SortKeyKind::Subject,
        SortKey::To => SortKeyKind::To,
        SortKey::DisplayFrom => SortKeyKind::Displayfrom,
        SortKey::DisplayTo => SortKeyKind::Displayto,
    }
}
