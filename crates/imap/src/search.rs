//! SEARCH and UID SEARCH: the criteria go to the storage process's Search
//! service (the work runs there, never here); sequence numbers are turned
//! into UIDs with the session's view on the way out and back.

use mailkeep_imap_proto::{SearchDate, SearchKey};
use mailkeep_storage_rpc::metadata::with_ticket;
use mailkeep_storage_rpc::storage::search_client::SearchClient;
use mailkeep_storage_rpc::storage::{
    self as pb, SearchAnd, SearchFlagKey, SearchHeader, SearchOr, SearchRequest, SearchUidSet,
    search_key::Key,
};
use tonic::Code;

use crate::backend::Backend;
use crate::errors::{Context, ImapError, Reply, status_reply};
use crate::mailbox::{ranges, set_reply};
use crate::session::Session;
use crate::view::View;

/// Charsets SEARCH accepts: the text is UTF-8 either way.
const CHARSETS: &[&str] = &["UTF-8", "US-ASCII"];

fn flag(k: SearchFlagKey) -> pb::SearchKey {
    pb::SearchKey {
        key: Some(Key::Flag(k as i32)),
    }
}

fn date(d: SearchDate) -> pb::SearchDate {
    pb::SearchDate {
        year: d.year,
        month: d.month,
        day: d.day,
    }
}

fn wrap(key: Key) -> pb::SearchKey {
    pb::SearchKey { key: Some(key) }
}

/// The RPC form of `key`, with sequence sets resolved to UIDs by `view`.
fn to_rpc(key: &SearchKey, view: &View) -> Result<pb::SearchKey, Reply> {
    use SearchFlagKey as F;
    use SearchKey as S;
    Ok(match key {
        S::All | S::Old => flag(F::All),
        S::Recent => wrap(Key::Not(Box::new(flag(F::All)))),
        S::Answered => flag(F::Answered),
        S::Deleted => flag(F::Deleted),
        S::Draft => flag(F::Draft),
        S::Flagged => flag(F::Flagged),
        S::Seen => flag(F::Seen),
        S::Unanswered => flag(F::Unanswered),
        S::Undeleted => flag(F::Undeleted),
        S::Undraft => flag(F::Undraft),
        S::Unflagged => flag(F::Unflagged),
        S::Unseen => flag(F::Unseen),
        S::Keyword(k) => wrap(Key::Keyword(k.clone())),
        S::Unkeyword(k) => wrap(Key::Unkeyword(k.clone())),
        S::Bcc(s) => wrap(Key::Bcc(s.clone())),
        S::Cc(s) => wrap(Key::Cc(s.clone())),
        S::From(s) => wrap(Key::From(s.clone())),
        S::To(s) => wrap(Key::To(s.clone())),
        S::Subject(s) => wrap(Key::Subject(s.clone())),
        S::Body(s) => wrap(Key::Body(s.clone())),
        S::Text(s) => wrap(Key::Text(s.clone())),
        S::Header(field, value) => wrap(Key::Header(SearchHeader {
            field: field.clone(),
            value: value.clone(),
        })),
        S::Before(d) => wrap(Key::Before(date(*d))),
        S::On(d) => wrap(Key::On(date(*d))),
        S::Since(d) => wrap(Key::Since(date(*d))),
        S::SentBefore(d) => wrap(Key::SentBefore(date(*d))),
        S::SentOn(d) => wrap(Key::SentOn(date(*d))),
        S::SentSince(d) => wrap(Key::SentSince(date(*d))),
        S::SavedBefore(d) => wrap(Key::SavedBefore(date(*d))),
        S::SavedOn(d) => wrap(Key::SavedOn(date(*d))),
        S::SavedSince(d) => wrap(Key::SavedSince(date(*d))),
        S::Larger(n) => wrap(Key::Larger(*n)),
        S::Smaller(n) => wrap(Key::Smaller(*n)),
        S::Older(n) => wrap(Key::Older(*n)),
        S::Younger(n) => wrap(Key::Younger(*n)),
        S::ModSeq(n) => wrap(Key::Modseq(*n)),
        S::Uid(set) | S::Sequence(set) => {
            let uids = view
                .resolve(set, matches!(key, S::Uid(_)))
                .map_err(set_reply)?;
            wrap(Key::Uid(SearchUidSet {
                ranges: ranges(&uids),
            }))
        }
        S::Not(inner) => wrap(Key::Not(Box::new(to_rpc(inner, view)?))),
        S::Or(a, b) => wrap(Key::Or(Box::new(SearchOr {
            a: Some(Box::new(to_rpc(a, view)?)),
            b: Some(Box::new(to_rpc(b, view)?)),
        }))),
        S::And(keys) => wrap(Key::AllOf(SearchAnd {
            all_of: keys
                .iter()
                .map(|k| to_rpc(k, view))
                .collect::<Result<_, _>>()?,
        })),
    })
}

impl<B: Backend> Session<B> {
    /// SEARCH / UID SEARCH: `* SEARCH` with sequence numbers or UIDs.
    pub(crate) async fn search(
        &mut self,
        uid: bool,
        charset: Option<String>,
        key: &SearchKey,
    ) -> Result<Reply, ImapError> {
        if let Some(cs) = &charset
            && !CHARSETS.contains(&cs.as_str())
        {
            return Ok(Reply::no_code(
                "BADCHARSET (UTF-8 US-ASCII)",
                "Unsupported charset",
            ));
        }
        let Some(view) = &self.view else {
            return Ok(Reply::bad("No mailbox selected"));
        };
        let request = match to_rpc(key, view) {
            Ok(key) => SearchRequest {
                owner: self.owner(),
                mailbox: view.mailbox.clone(),
                uidvalidity: view.uidvalidity,
                key: Some(key),
            },
            Err(reply) => return Ok(reply),
        };
        let ticket = self
            .login
            .as_ref()
            .map(|l| l.ticket.clone())
            .unwrap_or_default();
        let mut fresh = false;
        let found = loop {
            let channel = match self.storage_channel(fresh).await {
                Ok(channel) => channel,
                Err(e) => return Ok(crate::errors::call_reply(&e, Context::Other)),
            };
            let result = SearchClient::new(channel)
                .max_decoding_message_size(mailkeep_storage_rpc::MAX_GRPC_MESSAGE)
                .search(with_ticket(request.clone(), &ticket))
                .await
                .map_err(crate::errors::connection_lost);
            match result {
                Ok(response) => break response.into_inner(),
                Err(status) if status.code() == Code::Unavailable && !fresh => fresh = true,
                Err(status) => return Ok(status_reply(&status, Context::Other)),
            }
        };
        let Some(view) = &self.view else {
            return Ok(Reply::bad("No mailbox selected"));
        };
        let mut line = String::from("* SEARCH");
        for found_uid in found.uids {
            let number = if uid {
                view.seq_of(found_uid).map(|_| found_uid)
            } else {
                view.seq_of(found_uid)
            };
            if let Some(n) = number {
                line.push(' ');
                line.push_str(&n.to_string());
            }
        }
        line.push_str("\r\n");
        self.send(line.as_bytes()).await?;
        Ok(Reply::ok("Search completed."))
    }
}
