//! GETQUOTA, GETQUOTAROOT and SETQUOTA (RFC 9208 §4.1): arguments checked
//! here against the RFC's grammar (the parser hands them over in generic
//! form), answered from the quota service of the owner concerned.
//!
//! A user's own root is `""`. A shared or public mailbox of another owner
//! is in that owner's root, which the user sees as `<owner>:` (Dovecot's
//! `user:root` naming, our root's own name being empty): GETQUOTAROOT of
//! such a mailbox and GETQUOTA of that root ask the owner's storage
//! process with the user's ticket, and it answers only a guest holding
//! `l` or `r` there. SETQUOTA of another owner's root is refused by that
//! storage process.

use mailkeep_frontend::{Retry, StorageError};
use mailkeep_imap_proto::encode::Encoder;
use mailkeep_imap_proto::{Code, ExtensionArg, decode_mutf7};
use mailkeep_plugin_api::{ImapAnswer, ImapCall, Tagged};
use mailkeep_storage_rpc::errors::ErrorReason;

use crate::QuotaProtocolSettings;
use crate::pb;
use crate::pb::quota_client::QuotaClient;

/// The commands this plugin adds.
pub(crate) const COMMANDS: &[&str] = &["GETQUOTA", "GETQUOTAROOT", "SETQUOTA"];

/// The name of a user's one quota root, as the user sees it.
const ROOT: &str = "";

/// What separates an owner's name from the root's in the name of another
/// owner's root, as Dovecot names it (`owner:root`, here `alice:` as the
/// root's own name is empty): never confused with the user's own root.
const OWNER_SEPARATOR: char = ':';

/// A quota root a command names: whose it is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Root {
    /// The user's own (`""`).
    Own,
    /// Another owner's, reached through a shared or public mailbox of
    /// theirs (`<owner>:`).
    Of(String),
}

impl Root {
    /// The root's name as the client sees it.
    fn name(&self) -> String {
        match self {
            Root::Own => ROOT.to_owned(),
            Root::Of(owner) => format!("{owner}{OWNER_SEPARATOR}"),
        }
    }

    /// Whose usage it counts.
    fn owner<'a>(&'a self, user: &'a str) -> &'a str {
        match self {
            Root::Own => user,
            Root::Of(owner) => owner,
        }
    }

    /// The root of a mailbox of `owner`, as `user` sees it.
    fn of_mailbox(owner: &str, user: &str) -> Root {
        if owner == user {
            Root::Own
        } else {
            Root::Of(owner.to_owned())
        }
    }
}

/// Runs one of [`COMMANDS`].
pub(crate) async fn run(settings: &QuotaProtocolSettings, call: ImapCall<'_>) -> ImapAnswer {
    let args = call.command.args.clone();
    let result = match (call.command.name.as_str(), args.as_slice()) {
        ("GETQUOTA", [root]) => get_quota(&call, root).await,
        ("GETQUOTAROOT", [mailbox]) => get_quota_root(&call, mailbox).await,
        ("SETQUOTA", [root, ExtensionArg::List(limits)]) => {
            set_quota(settings, &call, root, limits).await
        }
        ("GETQUOTA", _) => Err(bad("GETQUOTA <quota-root>")),
        ("GETQUOTAROOT", _) => Err(bad("GETQUOTAROOT <mailbox>")),
        ("SETQUOTA", _) => Err(bad("SETQUOTA <quota-root> (<resource> <limit> ...)")),
        (other, _) => Err(bad(&format!("{other} is not a quota command"))),
    };
    result.unwrap_or_else(ImapAnswer::tagged)
}

fn bad(usage: &str) -> Tagged {
    Tagged::Bad(format!("Invalid arguments (expected: {usage})"))
}

/// The root `arg` names for `user`: `""`, or `<owner>:` of another
/// owner (whose storage then decides whether the user may see it).
fn parse_root(arg: &ExtensionArg, user: &str) -> Result<Root, Tagged> {
    let no_such = || Tagged::No(Some(Code::NonExistent), "No such quota root".into());
    match arg.as_str() {
        Some(ROOT) => Ok(Root::Own),
        Some(name) => match name.strip_suffix(OWNER_SEPARATOR) {
            Some(owner) if !owner.is_empty() && owner != user => Ok(Root::Of(owner.to_owned())),
            _ => Err(no_such()),
        },
        None => Err(bad("a quota root as a string")),
    }
}

/// The reply for a failed storage call.
fn refused(e: &StorageError) -> Tagged {
    let (code, text) = match e.reason() {
        ErrorReason::Nonexistent => (Code::NonExistent, "Mailbox does not exist"),
        ErrorReason::NoPermission => (Code::NoPerm, "Permission denied"),
        ErrorReason::Unavailable => (Code::Unavailable, "Storage unavailable, try again"),
        ErrorReason::InvalidName => (Code::Cannot, "Invalid mailbox name"),
        _ => (Code::ServerBug, "Quota could not be read"),
    };
    Tagged::No(Some(code), text.into())
}

/// `* QUOTA <root> (STORAGE used limit MESSAGE used limit)` for the
/// resources that have a limit; `None` when none has (the root then does
/// not exist, as the grammar wants at least one resource).
fn quota_line(encoder: Encoder, root: &Root, reply: &pb::QuotaReply) -> Option<Vec<u8>> {
    let mut resources = Vec::new();
    if reply.storage_limit > 0 {
        resources.push(format!(
            "STORAGE {} {}",
            reply.bytes / 1024,
            reply.storage_limit / 1024
        ));
    }
    if reply.message_limit > 0 {
        resources.push(format!(
            "MESSAGE {} {}",
            reply.messages, reply.message_limit
        ));
    }
    if resources.is_empty() {
        return None;
    }
    let mut out = b"* QUOTA ".to_vec();
    encoder.astring(&mut out, root.name().as_bytes());
    out.extend_from_slice(format!(" ({})\r\n", resources.join(" ")).as_bytes());
    Some(out)
}

/// The usage and limits of `owner`'s root from the owner's quota
/// service, for `mailbox` of theirs (which must exist) when one is named.
/// A guest is let read them by the owner's storage process only with
/// `l` or `r` on that mailbox (or on some mailbox, none named).
async fn fetch(
    call: &ImapCall<'_>,
    owner: &str,
    mailbox: &str,
) -> Result<pb::QuotaReply, StorageError> {
    let (owner, mailbox) = (owner.to_owned(), mailbox.to_owned());
    call.storage
        .call(&owner, Retry::Idempotent, |rpc| {
            let request = rpc.request(pb::GetQuotaRequest {
                owner: owner.clone(),
                mailbox: mailbox.clone(),
            });
            async move { QuotaClient::new(rpc.channel()).get_quota(request).await }
        })
        .await
}

async fn get_quota(call: &ImapCall<'_>, arg: &ExtensionArg) -> Result<ImapAnswer, Tagged> {
    let root = parse_root(arg, call.user)?;
    let no_such = |text: &str| Tagged::No(Some(Code::NonExistent), text.into());
    let reply = match fetch(call, root.owner(call.user), "").await {
        Ok(reply) => reply,
        Err(e) if root == Root::Own || e.reason() == ErrorReason::Unavailable => {
            return Err(refused(&e));
        }
        // Another owner's root that this user may not see (or no such
        // owner): as if it did not exist.
        Err(_) => return Err(no_such("No such quota root")),
    };
    match quota_line(call.encoder, &root, &reply) {
        Some(line) => Ok(ImapAnswer {
            untagged: line,
            tagged: Tagged::Ok("Getquota completed.".into()),
        }),
        None => Err(no_such("No quota applies to this root")),
    }
}

/// A mailbox argument as storage names it (modified UTF-7 decoded unless
/// UTF-8 is on; INBOX in any case is INBOX).
fn mailbox_name(call: &ImapCall<'_>, arg: &ExtensionArg) -> Result<String, Tagged> {
    let ExtensionArg::String(raw) = arg else {
        return Err(bad("GETQUOTAROOT <mailbox>"));
    };
    let name = if call.utf8 {
        String::from_utf8(raw.clone()).map_err(|_| bad("a mailbox name in UTF-8"))?
    } else {
        decode_mutf7(raw).map_err(|_| bad("a mailbox name in modified UTF-7"))?
    };
    Ok(if name.eq_ignore_ascii_case("INBOX") {
        "INBOX".into()
    } else {
        name
    })
}

async fn get_quota_root(call: &ImapCall<'_>, mailbox: &ExtensionArg) -> Result<ImapAnswer, Tagged> {
    let name = mailbox_name(call, mailbox)?;
    // RFC 9208 §4.1.2: a mailbox that does not exist (or that the user
    // may not see) has no root; the owner's storage says which.
    let Some(at) = call
        .namespaces
        .resolve(&name)
        .await
        .map_err(|e| refused(&e))?
    else {
        return Err(Tagged::No(
            Some(Code::NonExistent),
            "Mailbox does not exist".into(),
        ));
    };
    let reply = fetch(call, &at.owner, &at.name)
        .await
        .map_err(|e| refused(&e))?;
    let root = Root::of_mailbox(&at.owner, call.user);
    let mut untagged = b"* QUOTAROOT ".to_vec();
    // The user's own mailbox by its storage name (INBOX in one spelling),
    // another owner's as the client named it.
    let shown = if root == Root::Own { &at.name } else { &name };
    call.encoder.mailbox(&mut untagged, shown);
    let line = quota_line(call.encoder, &root, &reply);
    if line.is_some() {
        untagged.push(b' ');
        call.encoder.astring(&mut untagged, root.name().as_bytes());
    }
    untagged.extend_from_slice(b"\r\n");
    untagged.extend(line.unwrap_or_default());
    Ok(ImapAnswer {
        untagged,
        tagged: Tagged::Ok("Getquotaroot completed.".into()),
    })
}

/// The limits a SETQUOTA list asks for: `(STORAGE n MESSAGE m)`, each
/// resource at most once; STORAGE in units of 1024 octets.
fn requested_limits(list: &[ExtensionArg]) -> Result<(Option<u64>, Option<u64>), Tagged> {
    let usage = "SETQUOTA <quota-root> (<resource> <limit> ...)";
    if !list.len().is_multiple_of(2) {
        return Err(bad(usage));
    }
    let (mut storage, mut messages) = (None, None);
    for pair in list.chunks(2) {
        let (Some(resource), Some(limit)) = (pair[0].as_str(), pair[1].as_str()) else {
            return Err(bad(usage));
        };
        let limit: u64 = limit.parse().map_err(|_| bad("a limit as a number"))?;
        let slot = match resource.to_ascii_uppercase().as_str() {
            "STORAGE" => &mut storage,
            "MESSAGE" => &mut messages,
            _ => {
                return Err(Tagged::No(
                    Some(Code::Cannot),
                    format!("Resource {resource} is not supported"),
                ));
            }
        };
        if slot.is_some() {
            return Err(bad("each resource once"));
        }
        *slot = Some(limit);
    }
    Ok((storage.map(|kb| kb.saturating_mul(1024)), messages))
}

async fn set_quota(
    settings: &QuotaProtocolSettings,
    call: &ImapCall<'_>,
    root: &ExtensionArg,
    list: &[ExtensionArg],
) -> Result<ImapAnswer, Tagged> {
    let (storage_limit, message_limit) = requested_limits(list)?;
    if !settings.admins.iter().any(|a| a == call.user) {
        return Err(Tagged::No(
            Some(Code::NoPerm),
            "Only quota admins may set quotas".into(),
        ));
    }
    // Another owner's root goes to that owner's storage, which refuses a
    // guest's SetQuota (only the owner's session or an admin may).
    let root = parse_root(root, call.user)?;
    let owner = root.owner(call.user).to_owned();
    let reply = call
        .storage
        .call(&owner, Retry::Idempotent, |rpc| {
            let request = rpc.request(pb::SetQuotaRequest {
                owner: owner.clone(),
                storage_limit,
                message_limit,
            });
            async move { QuotaClient::new(rpc.channel()).set_quota(request).await }
        })
        .await
        .map_err(|e| refused(&e))?;
    Ok(ImapAnswer {
        untagged: quota_line(call.encoder, &root, &reply).unwrap_or_default(),
        tagged: Tagged::Ok("Setquota completed.".into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(t: &str) -> ExtensionArg {
        ExtensionArg::String(t.as_bytes().to_vec())
    }

    #[test]
    fn setquota_lists_are_checked_against_the_grammar() {
        assert_eq!(
            requested_limits(&[s("storage"), s("10"), s("MESSAGE"), s("5")]),
            Ok((Some(10 * 1024), Some(5)))
        );
        assert_eq!(requested_limits(&[]), Ok((None, None)));
        assert!(matches!(
            requested_limits(&[s("STORAGE")]),
            Err(Tagged::Bad(_))
        ));
        assert!(matches!(
            requested_limits(&[s("STORAGE"), s("x")]),
            Err(Tagged::Bad(_))
        ));
        assert!(matches!(
            requested_limits(&[s("STORAGE"), s("1"), s("STORAGE"), s("2")]),
            Err(Tagged::Bad(_))
        ));
        assert!(matches!(
            requested_limits(&[s("WIDGETS"), s("1")]),
            Err(Tagged::No(Some(Code::Cannot), _))
        ));
    }

    #[test]
    fn quota_lines_list_only_limited_resources_in_kilobytes() {
        let reply = pb::QuotaReply {
            bytes: 5000,
            messages: 3,
            storage_limit: 10 * 1024,
            message_limit: 0,
            overridden: false,
        };
        assert_eq!(
            quota_line(Encoder::ASCII, &Root::Own, &reply).unwrap(),
            b"* QUOTA \"\" (STORAGE 4 10)\r\n"
        );
        assert_eq!(
            quota_line(Encoder::ASCII, &Root::Of("alice".into()), &reply).unwrap(),
            b"* QUOTA alice: (STORAGE 4 10)\r\n"
        );
        let unlimited = pb::QuotaReply {
            storage_limit: 0,
            ..reply
        };
        assert_eq!(quota_line(Encoder::ASCII, &Root::Own, &unlimited), None);
    }

    #[test]
    fn roots_are_ours_or_named_after_another_owner() {
        assert_eq!(parse_root(&s(""), "bob"), Ok(Root::Own));
        assert_eq!(
            parse_root(&s("alice:"), "bob"),
            Ok(Root::Of("alice".into()))
        );
        assert_eq!(
            parse_root(&s("alice@example.com:"), "bob"),
            Ok(Root::Of("alice@example.com".into()))
        );
        for other in ["alice", ":", "bob:", "User quota"] {
            assert!(
                matches!(
                    parse_root(&s(other), "bob"),
                    Err(Tagged::No(Some(Code::NonExistent), _))
                ),
                "{other}"
            );
        }
        assert_eq!(Root::of_mailbox("bob", "bob"), Root::Own);
        assert_eq!(Root::of_mailbox("alice", "bob").name(), "alice:");
    }
}
