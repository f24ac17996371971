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
    let value = MetadataValue::try_from(ticket).unwrap_or_else(|_| MetadataValue::from_static(""));
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
