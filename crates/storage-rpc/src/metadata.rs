//! The ticket in call metadata: every storage call carries the caller's
//! ticket so that one connection can serve many sessions.

use tonic::metadata::MetadataValue;

/// The metadata key under which the ticket travels.
pub const TICKET_KEY: &str = "x-mailkeep-ticket";

/// Wraps a request message with the ticket in its metadata.
///
/// Tickets are ASCII by construction; a ticket that is not (a bug or a
/// forgery) is sent empty and so refused by the server.
pub fn with_ticket<T>(message: T, ticket: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    let mut value =
        MetadataValue::try_from(ticket).unwrap_or_else(|_| MetadataValue::from_static(""));
    // Never indexed by HPACK: a ticket must not stay in either end's
    // header table (memory nobody wipes) after its session ended.
    value.set_sensitive(true);
    request.metadata_mut().insert(TICKET_KEY, value);
    request
}

/// The metadata key under which a Watch response of one mailbox tells
/// the mailbox's state when the watcher was subscribed.
pub const WATCH_START_KEY: &str = "x-mailkeep-watch-start";

/// A watched mailbox's state read once its watcher was subscribed: every
/// change after it comes as an event of the stream, so a watcher whose
/// view is at this MODSEQ (and UIDVALIDITY) missed nothing before the
/// stream began and need not ask for changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchStart {
    /// The mailbox's UIDVALIDITY.
    pub uidvalidity: u32,
    /// The mailbox's HIGHESTMODSEQ.
    pub highest_modseq: u64,
}

/// Puts `start` in a Watch response's metadata.
pub fn set_watch_start<T>(response: &mut tonic::Response<T>, start: WatchStart) {
    let text = format!("{}/{}", start.uidvalidity, start.highest_modseq);
    if let Ok(value) = MetadataValue::try_from(text.as_str()) {
        response.metadata_mut().insert(WATCH_START_KEY, value);
    }
}

/// The mailbox state a Watch response tells, if it tells one (a storage
/// process of an older build, or a watch of every mailbox, tells none).
pub fn watch_start_of<T>(response: &tonic::Response<T>) -> Option<WatchStart> {
    let text = response.metadata().get(WATCH_START_KEY)?.to_str().ok()?;
    let (uidvalidity, modseq) = text.split_once('/')?;
    Some(WatchStart {
        uidvalidity: uidvalidity.parse().ok()?,
        highest_modseq: modseq.parse().ok()?,
    })
}

/// The ticket a request carries, if any.
pub fn ticket_of<T>(request: &tonic::Request<T>) -> Option<&str> {
    request
        .metadata()
        .get(TICKET_KEY)
        .and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ticket_travels_as_a_header_hpack_never_indexes() {
        let request = with_ticket((), "mk2.claims.signature");
        let value = request.metadata().get(TICKET_KEY).expect("ticket header");
        assert!(value.is_sensitive());
        assert_eq!(ticket_of(&request), Some("mk2.claims.signature"));
    }

    #[test]
    fn a_watch_start_travels_in_the_response_metadata() {
        let mut response = tonic::Response::new(());
        assert_eq!(watch_start_of(&response), None);
        let start = WatchStart {
            uidvalidity: 1_700_000_000,
            highest_modseq: u64::MAX,
        };
        set_watch_start(&mut response, start);
        assert_eq!(watch_start_of(&response), Some(start));
        for bad in ["", "1", "1/", "/2", "x/2", "1/2/3", "-1/2"] {
            let mut response = tonic::Response::new(());
            response.metadata_mut().insert(
                WATCH_START_KEY,
                MetadataValue::try_from(bad).expect("ascii"),
            );
            assert_eq!(watch_start_of(&response), None, "{bad:?}");
        }
    }
}
