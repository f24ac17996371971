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
}
