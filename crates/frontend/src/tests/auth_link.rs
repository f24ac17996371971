//! A renewal request as the link builds it: the old ticket sealed to
//! auth's request key, bound to the user and the request's reply key, and
//! nothing of it in clear in the bytes written to the connection.

use mailkeep_ticket_seal::RequestKey;
use prost::Message;

use super::*;

const TICKET: &str =
    "mk2.Y2xhaW1z.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmUtc2lnbmF0dXJlLXNpZ25hdHVyZQ";

#[test]
fn a_renewal_request_carries_the_old_ticket_sealed_to_auths_request_key() {
    let auth = RequestKey::derive(b"auth's signing key material");
    let reply_key = ReplyKey::generate();
    let request =
        renew_request("erin", TICKET, &auth.public_bytes(), &reply_key).expect("a request");
    assert_eq!(request.user, "erin");
    assert_eq!(request.reply_key, reply_key.public_bytes());
    let wire = request.encode_to_vec();
    assert!(!wire.windows(4).any(|w| w == b"mk2."), "a ticket prefix");
    for piece in TICKET.as_bytes().windows(12) {
        assert!(
            !wire.windows(12).any(|w| w == piece),
            "{:?} in clear",
            String::from_utf8_lossy(piece)
        );
    }
    let opened = auth
        .open_renewal(&request.sealed_ticket, "erin", &request.reply_key)
        .expect("auth opens it");
    assert_eq!(opened.as_str(), TICKET);
    assert!(
        auth.open_renewal(&request.sealed_ticket, "frank", &request.reply_key)
            .is_err(),
        "bound to the user"
    );
}

#[test]
fn no_renewal_request_without_a_usable_request_key() {
    let reply_key = ReplyKey::generate();
    for key in [Vec::new(), vec![0; 32], vec![9; 31]] {
        assert_eq!(
            renew_request("erin", TICKET, &key, &reply_key).map(|_| ()),
            Err(SealError::BadReplyKey)
        );
    }
}
