//! Mailbox commands: LIST, LSUB, CREATE, DELETE, RENAME, STATUS, SELECT,
//! EXAMINE, CLOSE, UNSELECT, EXPUNGE and UID EXPUNGE.

use std::collections::BTreeMap;

use mailkeep_imap_proto::{
    SequenceSet, StatusItem, StatusKind, exists, flag_list, flags_line, list_line, lsub_line,
    recent, status_line,
};
use mailkeep_storage_rpc::metadata::with_ticket;
use mailkeep_storage_rpc::storage::{
    CreateMailboxRequest, DeleteMailboxRequest, ExpungeRequest, ListMailboxesRequest,
    MailboxStatusRequest, RenameMailboxRequest, SelectMailboxRequest, UidRange,
};

use crate::backend::Backend;
use crate::errors::{CallError, Context, ImapError, Reply, call_reply};
use crate::pattern;
use crate::response;
use crate::session::Session;
use crate::view::{SetError, View, uid_ranges};

/// The hierarchy delimiter.
pub(crate) const DELIMITER: char = '.';

/// The system flags every mailbox supports.
pub(crate) const SYSTEM_FLAGS: &[&str] =
    &["\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"];

/// A mailbox name as storage wants it: `INBOX` in any case is `INBOX`, and
/// a trailing delimiter is dropped.
pub(crate) fn normalize(name: &str) -> String {
    let name = name.strip_suffix(DELIMITER).unwrap_or(name);
    if name.eq_ignore_ascii_case("INBOX") {
        "INBOX".to_string()
    } else {
        name.to_string()
    }
}

/// The reply for a sequence set that cannot be resolved.
pub(crate) fn set_reply(error: SetError) -> Reply {
    match error {
        SetError::InvalidSequence => Reply::bad("Invalid sequence number"),
        SetError::Saved => Reply::bad("No saved search result"),
    }
}

/// UID ranges for a storage request.
pub(crate) fn ranges(uids: &[u32]) -> Vec<UidRange> {
    uid_ranges(uids)
        .into_iter()
        .map(|(first, last)| UidRange { first, last })
        .collect()
}

impl<B: Backend> Session<B> {
    /// LIST / LSUB. LSUB answers like LIST for now: subscriptions are not
    /// implemented yet, so every mailbox counts as subscribed.
    pub async fn list(
        &mut self,
        reference: &str,
        pattern: &str,
        lsub: bool,
    ) -> Result<Reply, ImapError> {
        let line = if lsub { lsub_line } else { list_line };
        if pattern.is_empty() {
            let mut out = Vec::new();
            line(&mut out, &["\\Noselect"], Some(DELIMITER), "");
            self.send(&out).await?;
            return Ok(Reply::ok("List completed."));
        }
        let owner = self.owner();
        let result = self
            .call(true, |mut client, ticket| {
                let request = with_ticket(
                    ListMailboxesRequest {
                        owner: owner.clone(),
                    },
                    ticket,
                );
                async move { client.list_mailboxes(request).await }
            })
            .await;
        let listing = match result {
            Ok(listing) => listing,
            Err(e) => return Ok(call_reply(&e, Context::Other)),
        };
        let delimiter = listing.delimiter.chars().next().unwrap_or(DELIMITER);
        let pattern = pattern::simplify(&pattern::canonical(reference, pattern));
        let mut found: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let names: std::collections::HashSet<&str> =
            listing.mailboxes.iter().map(|m| m.name.as_str()).collect();
        for mailbox in &listing.mailboxes {
            if pattern::matches(&pattern, &mailbox.name, delimiter) {
                found.insert(mailbox.name.clone(), mailbox.attributes.clone());
            }
            // A `%` can match a level that is not itself a mailbox.
            if pattern.contains('%') {
                for parent in pattern::parents(&mailbox.name, delimiter) {
                    if !names.contains(parent) && pattern::matches(&pattern, parent, delimiter) {
                        found.entry(parent.to_string()).or_insert_with(|| {
                            vec!["\\Noselect".to_string(), "\\HasChildren".to_string()]
                        });
                    }
                }
            }
        }
        let mut out = Vec::new();
        for (name, attributes) in &found {
            let attributes: Vec<&str> = attributes.iter().map(String::as_str).collect();
            line(&mut out, &attributes, Some(delimiter), name);
        }
        self.send(&out).await?;
        Ok(Reply::ok(if lsub {
            "Lsub completed (no subscriptions yet: every mailbox is listed)."
        } else {
            "List completed."
        }))
    }

    /// CREATE.
    pub async fn create(&mut self, mailbox: &str) -> Result<Reply, ImapError> {
        let request = CreateMailboxRequest {
            owner: self.owner(),
            name: normalize(mailbox),
        };
        if request.name.is_empty() {
            return Ok(Reply::no_code("CANNOT", "Invalid mailbox name"));
        }
        let result = self
            .call(true, |mut client, ticket| {
                let request = with_ticket(request.clone(), ticket);
                async move { client.create_mailbox(request).await }
            })
            .await;
        Ok(match result {
            Ok(_) => Reply::ok("Create completed."),
            Err(e) => call_reply(&e, Context::Other),
        })
    }

    /// DELETE. The selected mailbox cannot be deleted by its own session.
    pub async fn delete(&mut self, mailbox: &str) -> Result<Reply, ImapError> {
        let request = DeleteMailboxRequest {
            owner: self.owner(),
            name: normalize(mailbox),
        };
        if self
            .view
            .as_ref()
            .is_some_and(|v| v.mailbox == request.name)
        {
            return Ok(Reply::no_code(
                "INUSE",
                "Cannot delete the selected mailbox; close it first",
            ));
        }
        let result = self
            .call(true, |mut client, ticket| {
                let request = with_ticket(request.clone(), ticket);
                async move { client.delete_mailbox(request).await }
            })
            .await;
        Ok(match result {
            Ok(_) => Reply::ok("Delete completed."),
            Err(e) => call_reply(&e, Context::Other),
        })
    }

    /// RENAME. The view follows a renamed selected mailbox (or parent).
    pub async fn rename(&mut self, from: &str, to: &str) -> Result<Reply, ImapError> {
        let request = RenameMailboxRequest {
            owner: self.owner(),
            from: normalize(from),
            to: normalize(to),
        };
        let result = self
            .call(true, |mut client, ticket| {
                let request = with_ticket(request.clone(), ticket);
                async move { client.rename_mailbox(request).await }
            })
            .await;
        if let Err(e) = result {
            return Ok(call_reply(&e, Context::Other));
        }
        if request.from != "INBOX"
            && let Some(view) = self.view.as_mut()
        {
            let prefix = format!("{}{DELIMITER}", request.from);
            if view.mailbox == request.from {
                view.mailbox = request.to.clone();
            } else if let Some(rest) = view.mailbox.strip_prefix(&prefix) {
                view.mailbox = format!("{}{DELIMITER}{rest}", request.to);
            }
        }
        Ok(Reply::ok("Rename completed."))
    }

    /// STATUS.
    pub async fn status(
        &mut self,
        mailbox: &str,
        items: &[StatusItem],
    ) -> Result<Reply, ImapError> {
        let request = MailboxStatusRequest {
            owner: self.owner(),
            name: normalize(mailbox),
        };
        let result = self
            .call(true, |mut client, ticket| {
                let request = with_ticket(request.clone(), ticket);
                async move { client.mailbox_status(request).await }
            })
            .await;
        let status = match result {
            Ok(response) => response.status.unwrap_or_default(),
            Err(e) => return Ok(call_reply(&e, Context::Other)),
        };
        let values: Vec<(StatusItem, u64)> = items
            .iter()
            .map(|&item| {
                let value = match item {
                    StatusItem::Messages => u64::from(status.messages),
                    StatusItem::Recent => 0,
                    StatusItem::UidNext => u64::from(status.uidnext),
                    StatusItem::UidValidity => u64::from(status.uidvalidity),
                    StatusItem::Unseen => u64::from(status.unseen),
                    StatusItem::Deleted => u64::from(status.deleted),
                    StatusItem::Size => status.size,
                    StatusItem::HighestModSeq => status.highestmodseq,
                };
                (item, value)
            })
            .collect();
        let mut out = Vec::new();
        status_line(&mut out, &request.name, &values);
        self.send(&out).await?;
        Ok(Reply::ok("Status completed."))
    }

    /// SELECT / EXAMINE.
    pub async fn select(&mut self, mailbox: &str, read_only: bool) -> Result<Reply, ImapError> {
        if self.view.take().is_some() {
            self.untagged(StatusKind::Ok, Some("CLOSED"), "Previous mailbox closed.")
                .await?;
        }
        let request = SelectMailboxRequest {
            owner: self.owner(),
            name: normalize(mailbox),
            with_object_ids: false,
        };
        let result = self
            .call(true, |mut client, ticket| {
                let request = with_ticket(request.clone(), ticket);
                async move { client.select_mailbox(request).await }
            })
            .await;
        let selected = match result {
            Ok(selected) => selected,
            Err(e) => return Ok(call_reply(&e, Context::Other)),
        };
        let status = selected.status.unwrap_or_default();
        let messages = selected
            .messages
            .into_iter()
            .map(|m| (m.uid, m.flags))
            .collect();
        let view = View::new(
            request.name,
            read_only,
            status.uidvalidity,
            status.highestmodseq,
            messages,
        );

        let mut flags: Vec<String> = SYSTEM_FLAGS.iter().map(|f| f.to_string()).collect();
        for keyword in selected.keywords {
            if !flags.iter().any(|f| f.eq_ignore_ascii_case(&keyword)) {
                flags.push(keyword);
            }
        }
        let mut out = Vec::new();
        flags_line(&mut out, &flags);
        let mut permanent = Vec::new();
        if !read_only {
            let mut list = flags.clone();
            list.push("\\*".into());
            flag_list(&mut permanent, &list);
        } else {
            permanent.extend_from_slice(b"()");
        }
        let permanent = format!("PERMANENTFLAGS {}", String::from_utf8_lossy(&permanent));
        mailkeep_imap_proto::status_response(
            &mut out,
            None,
            StatusKind::Ok,
            Some(&permanent),
            "Flags permitted.",
        );
        exists(&mut out, view.exists());
        recent(&mut out, 0);
        if let Some(unseen) = view.first_unseen() {
            let code = format!("UNSEEN {unseen}");
            mailkeep_imap_proto::status_response(
                &mut out,
                None,
                StatusKind::Ok,
                Some(&code),
                "First unseen.",
            );
        }
        let codes = [
            (format!("UIDVALIDITY {}", status.uidvalidity), "UIDs valid."),
            (format!("UIDNEXT {}", status.uidnext), "Predicted next UID."),
            (
                format!("HIGHESTMODSEQ {}", status.highestmodseq),
                "Highest modseq.",
            ),
        ];
        for (code, text) in &codes {
            mailkeep_imap_proto::status_response(&mut out, None, StatusKind::Ok, Some(code), text);
        }
        self.send(&out).await?;
        self.view = Some(view);
        Ok(if read_only {
            Reply::ok_code("READ-ONLY", "Examine completed.")
        } else {
            Reply::ok_code("READ-WRITE", "Select completed.")
        })
    }

    /// CLOSE (`expunge`: removes \Deleted messages silently when
    /// read-write) and UNSELECT.
    pub async fn close(&mut self, expunge: bool) -> Result<Reply, ImapError> {
        let Some(view) = self.view.take() else {
            return Ok(Reply::bad("No mailbox selected"));
        };
        if expunge && !view.read_only {
            let request = ExpungeRequest {
                owner: self.owner(),
                mailbox: view.mailbox.clone(),
                uidvalidity: view.uidvalidity,
                uids: Vec::new(),
            };
            let result = self
                .call(false, |mut client, ticket| {
                    let request = with_ticket(request.clone(), ticket);
                    async move { client.expunge(request).await }
                })
                .await;
            if let Err(e) = result {
                tracing::warn!(?e, "expunge on CLOSE failed");
            }
        }
        Ok(Reply::ok(if expunge {
            "Close completed."
        } else {
            "Unselect completed."
        }))
    }

    /// EXPUNGE, or UID EXPUNGE with a set.
    pub async fn expunge(&mut self, set: Option<SequenceSet>) -> Result<Reply, ImapError> {
        let Some(view) = &self.view else {
            return Ok(Reply::bad("No mailbox selected"));
        };
        if view.read_only {
            return Ok(Reply::no_code("CANNOT", "Mailbox is read-only"));
        }
        let uids = match &set {
            Some(set) => match view.resolve(set, true) {
                Ok(uids) if uids.is_empty() => return Ok(Reply::ok("Expunge completed.")),
                Ok(uids) => ranges(&uids),
                Err(e) => return Ok(set_reply(e)),
            },
            None => Vec::new(),
        };
        let request = ExpungeRequest {
            owner: self.owner(),
            mailbox: view.mailbox.clone(),
            uidvalidity: view.uidvalidity,
            uids,
        };
        let result = self
            .call(false, |mut client, ticket| {
                let request = with_ticket(request.clone(), ticket);
                async move { client.expunge(request).await }
            })
            .await;
        let response = match result {
            Ok(response) => response,
            Err(CallError::Status(status))
                if matches!(
                    status.code(),
                    tonic::Code::FailedPrecondition | tonic::Code::NotFound
                ) =>
            {
                self.view_lost().await?;
                return Ok(Reply::no("Mailbox lost"));
            }
            Err(e) => return Ok(call_reply(&e, Context::Other)),
        };
        let updates = match self.view.as_mut() {
            Some(view) => view.expunge(&response.expunged),
            None => Vec::new(),
        };
        let mut out = Vec::new();
        response::updates(&mut out, &updates);
        self.send(&out).await?;
        Ok(Reply::ok("Expunge completed."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalized() {
        assert_eq!(normalize("inbox"), "INBOX");
        assert_eq!(normalize("Sent."), "Sent");
        assert_eq!(normalize("a.b"), "a.b");
        assert_eq!(normalize("INBOX.x"), "INBOX.x");
    }

    #[test]
    fn ranges_cover_only_given_uids() {
        let r = ranges(&[1, 2, 5]);
        assert_eq!(
            r,
            vec![
                UidRange { first: 1, last: 2 },
                UidRange { first: 5, last: 5 }
            ]
        );
    }
}
