//! GETQUOTA, GETQUOTAROOT and SETQUOTA (RFC 9208 §4.1): arguments checked
//! here against the RFC's grammar (the parser hands them over in generic
//! form), answered from the quota service.

use mailkeep_frontend::{Retry, StorageError};
use mailkeep_imap_proto::encode::Encoder;
use mailkeep_imap_proto::{Code, ExtensionArg, decode_mutf7};
use mailkeep_plugin_api::{ImapAnswer, ImapCall, Tagged};
use mailkeep_storage_rpc::errors::ErrorReason;
use mailkeep_storage_rpc::storage::MailboxStatusRequest;

use crate::QuotaProtocolSettings;
use crate::pb;
use crate::pb::quota_client::QuotaClient;

/// The commands this plugin adds.
pub(crate) const COMMANDS: &[&str] = &["GETQUOTA", "GETQUOTAROOT", "SETQUOTA"];

/// The one quota root of a user.
const ROOT: &str = "";

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

/// The root named by `arg`, which must be ours.
fn our_root(arg: &ExtensionArg) -> Result<(), Tagged> {
    match arg.as_str() {
        Some(ROOT) => Ok(()),
        Some(_) => Err(Tagged::No(
            Some(Code::NonExistent),
            "No such quota root".into(),
        )),
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

/// `* QUOTA "" (STORAGE used limit MESSAGE used limit)` for the resources
/// that have a limit; `None` when none has (the root then does not exist,
/// as the grammar wants at least one resource).
fn quota_line(encoder: Encoder, reply: &pb::QuotaReply) -> Option<Vec<u8>> {
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
    encoder.astring(&mut out, ROOT.as_bytes());
    out.extend_from_slice(format!(" ({})\r\n", resources.join(" ")).as_bytes());
    Some(out)
}

/// The owner's usage and limits from the quota service.
async fn fetch(call: &ImapCall<'_>) -> Result<pb::QuotaReply, Tagged> {
    let owner = call.user.to_owned();
    call.storage
        .call(&owner, Retry::Idempotent, |rpc| {
            let request = rpc.request(pb::GetQuotaRequest {
                owner: owner.clone(),
            });
            async move { QuotaClient::new(rpc.channel()).get_quota(request).await }
        })
        .await
        .map_err(|e| refused(&e))
}

async fn get_quota(call: &ImapCall<'_>, root: &ExtensionArg) -> Result<ImapAnswer, Tagged> {
    our_root(root)?;
    let reply = fetch(call).await?;
    match quota_line(call.encoder, &reply) {
        Some(line) => Ok(ImapAnswer {
            untagged: line,
            tagged: Tagged::Ok("Getquota completed.".into()),
        }),
        None => Err(Tagged::No(
            Some(Code::NonExistent),
            "No quota applies to this user".into(),
        )),
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
    // RFC 9208 §4.1.2: a mailbox that does not exist has no root.
    let owner = call.user.to_owned();
    call.storage
        .call(&owner, Retry::Idempotent, |rpc| {
            let request = rpc.request(MailboxStatusRequest {
                owner: owner.clone(),
                name: name.clone(),
            });
            async move { rpc.storage().mailbox_status(request).await }
        })
        .await
        .map_err(|e| refused(&e))?;
    let reply = fetch(call).await?;
    let mut untagged = b"* QUOTAROOT ".to_vec();
    call.encoder.mailbox(&mut untagged, &name);
    let line = quota_line(call.encoder, &reply);
    if line.is_some() {
        untagged.push(b' ');
        call.encoder.astring(&mut untagged, ROOT.as_bytes());
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
    our_root(root)?;
    let owner = call.user.to_owned();
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
        untagged: quota_line(call.encoder, &reply).unwrap_or_default(),
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
            quota_line(Encoder::ASCII, &reply).unwrap(),
            b"* QUOTA \"\" (STORAGE 4 10)\r\n"
        );
        let unlimited = pb::QuotaReply {
            storage_limit: 0,
            ..reply
        };
        assert_eq!(quota_line(Encoder::ASCII, &unlimited), None);
    }
}
