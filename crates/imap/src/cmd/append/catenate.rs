//! CATENATE's URL parts (RFC 4469 §3): a part of a message the user has
//! already, named by an IMAP URL, cut by the storage process and copied
//! into the message being appended without passing through the client.

use mailkeep_frontend::Retry;
use mailkeep_imap_proto::{Code, parse_imap_url};

use super::Call;
use crate::cmd::fetch::plan::cut;
use crate::errors::Target;
use crate::namespace::Names;
use crate::reply::Reply;
use crate::session::state::Authed;

/// Appends the part `url` names to the message being appended; the
/// `NO [BADURL url]` reply when the URL is not one this user can use.
pub(super) async fn url_part(call: &mut Call, authed: &Authed, url: &str) -> Result<(), Reply> {
    let bad = |why: &str| Reply::no(format!("Bad URL: {why}")).code(Code::BadUrl(url.to_owned()));
    let parsed = parse_imap_url(url).map_err(|e| bad(&e.to_string()))?;
    if parsed
        .user
        .as_deref()
        .is_some_and(|user| user != authed.user())
    {
        return Err(bad("it names another user"));
    }
    let section = parsed.section.unwrap_or_default();
    let mut what = cut(&section.part, section.text.as_ref(), false, None);
    if let Some((offset, length)) = parsed.partial {
        what.partial = Some((offset, length.unwrap_or(u64::MAX)));
    }
    // The part may come from any mailbox the user can read, shared ones
    // included: its owner's storage cuts it.
    let source = Names::new(authed)
        .mailbox(&parsed.mailbox, Target::Other)
        .await
        .map_err(|reply| bad(&reply.text))?;
    let request = what.section_request(
        source.owner.clone(),
        source.name.clone(),
        parsed.uidvalidity.unwrap_or(0),
        parsed.uid,
    );
    let mut stream = authed
        .call(&source.owner, Retry::Idempotent, |rpc| {
            let request = rpc.request(request.clone());
            async move { rpc.content().fetch_section(request).await }
        })
        .await
        .map_err(|e| bad(&e.to_string()))?;
    loop {
        match stream.message().await {
            Ok(Some(chunk)) => {
                if !chunk.data.is_empty() {
                    call.chunk(chunk.data).await;
                }
            }
            Ok(None) => return Ok(()),
            Err(status) => return Err(bad(status.message())),
        }
    }
}
