//! AUTHENTICATE (RFC 9051 §6.2.2, SASL-IR RFC 4959): each step of the
//! client's SASL exchange is relayed to auth; this file only moves the
//! bytes (`+ base64` out, a base64 line in).

use mailkeep_frontend::{SaslExchange, SaslStep};
use mailkeep_imap_proto::{Authenticate, Parser, SaslResponse, base64_encode, continuation};
use tokio::time::Instant;

use crate::cmd::login::{client_facts, finish_login, privacy_required};
use crate::cmd::{Command, Cx, Done, Runs, Spec};
use crate::errors::ImapError;
use crate::io::ReadError;
use crate::reply::Reply;
use crate::session::state::{NotAuthenticated, Transition};

/// What the client answered to a challenge.
enum Answer {
    Data(Vec<u8>),
    Cancel,
    Invalid,
    /// The connection ended or timed out; the session closes.
    Gone,
}

impl Command for Authenticate {
    type State = NotAuthenticated;

    const SPEC: Spec = Spec {
        name: "AUTHENTICATE",
        runs: Runs::Exclusive,
        capability: None,
    };

    async fn run(self, mut cx: Cx, _state: NotAuthenticated) -> Result<Done, ImapError> {
        let mechanism = self.mechanism.to_ascii_uppercase();
        let plaintext = mailkeep_frontend::sasl::PLAINTEXT_MECHANISMS.contains(&mechanism.as_str());
        if plaintext && !cx.process.plaintext_allowed(&cx.conn) {
            return Ok(Done::reply_with_input(privacy_required(), &mut cx));
        }
        if !cx
            .process
            .mechanisms(&cx.conn)
            .contains(&mechanism.as_str())
        {
            let reply = Reply::no("Unsupported authentication mechanism");
            return Ok(Done::reply_with_input(reply, &mut cx));
        }
        let mut exchange =
            SaslExchange::new(cx.process.auth.clone(), &mechanism, client_facts(&cx));
        let mut step = exchange.step(self.initial_response).await;
        loop {
            let challenge = match step {
                SaslStep::Challenge(challenge) => challenge,
                SaslStep::Success(ref login) if !login.final_data.is_empty() => {
                    // Additional data with success goes as one more
                    // challenge, answered by an empty line (RFC 9051 §6.2.2).
                    match answer(&mut cx, &login.final_data).await? {
                        Answer::Data(data) if data.is_empty() => {}
                        Answer::Gone => return Ok(gone(cx)),
                        Answer::Cancel => return Ok(cancelled(cx)),
                        Answer::Data(_) | Answer::Invalid => {
                            return Ok(Done::reply_with_input(
                                Reply::bad("Invalid SASL response"),
                                &mut cx,
                            ));
                        }
                    }
                    let mut done = finish_login(&cx, step);
                    done.input = cx.input.take();
                    return Ok(done);
                }
                other => {
                    let mut done = finish_login(&cx, other);
                    done.input = cx.input.take();
                    return Ok(done);
                }
            };
            match answer(&mut cx, &challenge).await? {
                Answer::Data(data) => step = exchange.step(Some(data)).await,
                Answer::Cancel => {
                    exchange.abort().await;
                    return Ok(cancelled(cx));
                }
                Answer::Invalid => {
                    exchange.abort().await;
                    return Ok(Done::reply_with_input(
                        Reply::bad("Invalid SASL response"),
                        &mut cx,
                    ));
                }
                Answer::Gone => {
                    exchange.abort().await;
                    return Ok(gone(cx));
                }
            }
        }
    }
}

/// Sends a challenge and reads the client's one-line answer.
async fn answer(cx: &mut Cx, challenge: &[u8]) -> Result<Answer, ImapError> {
    let mut out = Vec::new();
    if challenge.is_empty() {
        out.extend_from_slice(b"+ \r\n");
    } else {
        continuation(&mut out, &base64_encode(challenge));
    }
    cx.out.send(&out).await?;
    cx.out.flush().await?;
    let max = cx.process.settings.limits.max_line;
    let deadline = Instant::now() + cx.process.settings.login_timeout;
    let Some(input) = cx.input.as_mut() else {
        return Ok(Answer::Gone);
    };
    let line = match input.reader.read_line(max, deadline).await {
        Ok(Some(line)) => line,
        Ok(None) => return Ok(Answer::Invalid),
        Err(ReadError::Io(e)) => return Err(e.into()),
        Err(ReadError::Timeout | ReadError::Eof) => return Ok(Answer::Gone),
    };
    Ok(match Parser::parse_sasl_response(&line) {
        Ok(SaslResponse::Data(data)) => Answer::Data(data),
        Ok(SaslResponse::Cancel) => Answer::Cancel,
        Err(_) => Answer::Invalid,
    })
}

/// The client cancelled with `*`.
fn cancelled(mut cx: Cx) -> Done {
    Done::reply_with_input(Reply::bad("Authentication cancelled"), &mut cx)
}

/// The client went away mid-exchange: end the session.
fn gone(mut cx: Cx) -> Done {
    Done::reply_with_input(Reply::no("Authentication abandoned"), &mut cx).with(Transition::Logout)
}
