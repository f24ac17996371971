//! SASL exchanges as auth runs them (`mailkeep_auth::sasl::Exchange`) on
//! what a protocol process relays from its client: auth holds the
//! ticket-signing key, so this is the input that reaches the most trusted
//! process a client can talk to (DESIGN.md §3).
//!
//! Input: the first byte picks the mechanism (low bits), whether the
//! client sends no initial response (0x08) and whether the connection has
//! channel-binding data (0x80); the rest, split at LF, are the responses.
//!
//! Properties checked:
//! * every step of every mechanism is answered, in any order and after the
//!   end (then with `Finished`), without panicking;
//! * credentials PLAIN or LOGIN hand out are the ones a client sending
//!   them plainly gets, and their Debug form never shows the password;
//! * the user a SCRAM client-first names is the one the exchange reports.

use mailkeep_auth::sasl::{ChannelBinding, Credentials, Exchange, Mechanism, SaslError, SaslStep};

/// Runs one exchange from the input.
pub fn exchange(data: &[u8]) {
    let Some((&options, rest)) = data.split_first() else {
        return;
    };
    let mechanism = Mechanism::ALL[usize::from(options & 0x07) % Mechanism::ALL.len()];
    let binding = if options & 0x80 != 0 {
        ChannelBinding::TlsExporter(vec![0x5a; 32])
    } else {
        ChannelBinding::None
    };
    let mut exchange = Exchange::new(mechanism, binding);
    let mut responses: Vec<Option<&[u8]>> = rest.split(|&b| b == b'\n').take(6).map(Some).collect();
    if options & 0x08 != 0 {
        responses.insert(0, None);
    }
    let mut over = false;
    for response in responses {
        let step = exchange.step(response);
        if over {
            assert_eq!(
                step,
                SaslStep::Fail(SaslError::Finished),
                "a step after the end"
            );
        }
        match &step {
            SaslStep::Challenge(_) => {}
            SaslStep::Verify(credentials) => {
                assert_eq!(plainly(mechanism, credentials), step);
                let shown = format!("{credentials:?}");
                assert!(shown.contains("<redacted>"), "{shown}");
                over = true;
            }
            SaslStep::NeedScramCredentials { user, .. } => {
                assert_eq!(exchange.user(), Some(user.as_str()));
            }
            SaslStep::Authenticated { .. } => {
                panic!("SCRAM authenticated without the server's keys");
            }
            SaslStep::Fail(_) => over = true,
        }
    }
}

/// What a fresh exchange of `mechanism` gives for `credentials` sent the
/// simplest way.
fn plainly(mechanism: Mechanism, credentials: &Credentials) -> SaslStep {
    let mut exchange = Exchange::new(mechanism, ChannelBinding::None);
    match mechanism {
        Mechanism::Plain => {
            // An authzid other than the authcid is handed out as sent
            // (auth allows it to master users only).
            let mut response = credentials.authzid.clone().unwrap_or_default().into_bytes();
            response.push(0);
            response.extend_from_slice(credentials.authcid.as_bytes());
            response.push(0);
            response.extend_from_slice(&credentials.password);
            exchange.step(Some(&response))
        }
        Mechanism::Login => {
            exchange.step(None);
            exchange.step(Some(credentials.authcid.as_bytes()));
            exchange.step(Some(&credentials.password))
        }
        other => panic!("{other:?} handed out credentials to verify"),
    }
}

/// Pieces of SASL responses.
pub static DICTIONARY: &[&[u8]] = &[
    b"\0",
    b"\n",
    b"alice",
    b"secret",
    b"n,,",
    b"y,,",
    b"p=tls-exporter,,",
    b"n,a=alice,",
    b"n=alice,r=fyko+d2lbbFgONRv9qkxdawL",
    b"n==2Cx=3D,r=abc",
    b",m=ext",
    b"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
    b"c=eSws,",
    b"=2C",
    b"=3D",
    b"\xff",
];
