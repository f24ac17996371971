//! Logging in (RFC 1939 §7 USER/PASS, RFC 5034 AUTH): the credentials
//! go to auth through the frontend's SASL relay; this file only moves the
//! bytes (`+ base64` out, a base64 line in) and, on success, opens the
//! maildrop. Passwords in the clear are refused where the connection's
//! rule (the same as IMAP's) does not allow them.

use std::io;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use mailkeep_frontend::sasl::{PLAINTEXT_MECHANISMS, login_with_password};
use mailkeep_frontend::{
    AuthFailure, ChannelBinding, ClientFacts, LoggedIn, SaslExchange, SaslStep, Storage,
};

use crate::maildrop::{Maildrop, OpenError};
use crate::reply::{Reply, RespCode};
use crate::session::{Flow, Session, State};

/// What a client answered to a challenge.
enum Answer {
    Data(Vec<u8>),
    Cancel,
    Invalid,
    /// The connection ended or timed out.
    Gone,
}

impl Session {
    /// `USER name`.
    pub(crate) async fn user_command(&mut self, name: String) -> io::Result<Flow> {
        if !self.info.plaintext_login_allowed() {
            self.send(&privacy_required()).await?;
            return Ok(Flow::Continue);
        }
        self.state = State::Authorization(Some(name));
        self.send(&Reply::ok("Send the password")).await?;
        Ok(Flow::Continue)
    }

    /// `PASS password`, after USER.
    pub(crate) async fn pass_command(&mut self, password: Vec<u8>) -> io::Result<Flow> {
        let State::Authorization(user) = &mut self.state else {
            return Ok(Flow::Continue);
        };
        let Some(user) = user.take() else {
            self.send(&Reply::err("No user name given; send USER first"))
                .await?;
            return Ok(Flow::Continue);
        };
        if !self.info.plaintext_login_allowed() {
            self.send(&privacy_required()).await?;
            return Ok(Flow::Continue);
        }
        let step =
            login_with_password(self.process.auth.clone(), &user, &password, self.facts()).await;
        self.finish_login(step).await
    }

    /// `AUTH` (lists the mechanisms) or `AUTH mechanism [initial]`.
    pub(crate) async fn auth_command(
        &mut self,
        mechanism: Option<String>,
        initial: Option<String>,
    ) -> io::Result<Flow> {
        self.state = State::Authorization(None);
        let offered = self.process.mechanisms(&self.info);
        let Some(mechanism) = mechanism else {
            let lines: Vec<String> = offered.iter().map(|m| (*m).to_owned()).collect();
            self.send_multiline(&Reply::ok("Mechanisms follow"), &lines)
                .await?;
            return Ok(Flow::Continue);
        };
        if PLAINTEXT_MECHANISMS.contains(&mechanism.as_str())
            && !self.info.plaintext_login_allowed()
        {
            self.send(&privacy_required()).await?;
            return Ok(Flow::Continue);
        }
        if !offered.contains(&mechanism.as_str()) {
            self.send(&Reply::err("Unsupported authentication mechanism"))
                .await?;
            return Ok(Flow::Continue);
        }
        // RFC 5034 §4: "=" is an empty initial response.
        let initial = match initial.as_deref() {
            None => None,
            Some("=") => Some(Vec::new()),
            Some(text) => match BASE64.decode(text) {
                Ok(data) => Some(data),
                Err(_) => {
                    self.send(&Reply::err("Invalid base64 in the initial response"))
                        .await?;
                    return Ok(Flow::Continue);
                }
            },
        };
        let mut exchange = SaslExchange::new(self.process.auth.clone(), &mechanism, self.facts());
        let mut step = exchange.step(initial).await;
        loop {
            let challenge = match step {
                SaslStep::Challenge(challenge) => challenge,
                SaslStep::Success(ref login) if !login.final_data.is_empty() => {
                    // Additional data with success goes as one more
                    // challenge, answered by an empty line (RFC 5034 §4).
                    match self.answer(&login.final_data).await? {
                        Answer::Data(data) if data.is_empty() => {}
                        Answer::Gone => return Ok(Flow::Close),
                        Answer::Cancel => return self.cancelled().await,
                        Answer::Data(_) | Answer::Invalid => {
                            self.send(&Reply::err("Invalid SASL response")).await?;
                            return Ok(Flow::Continue);
                        }
                    }
                    return self.finish_login(step).await;
                }
                other => return self.finish_login(other).await,
            };
            match self.answer(&challenge).await? {
                Answer::Data(data) => step = exchange.step(Some(data)).await,
                Answer::Cancel => {
                    exchange.abort().await;
                    return self.cancelled().await;
                }
                Answer::Invalid => {
                    exchange.abort().await;
                    self.send(&Reply::err("Invalid SASL response")).await?;
                    return Ok(Flow::Continue);
                }
                Answer::Gone => {
                    exchange.abort().await;
                    return Ok(Flow::Close);
                }
            }
        }
    }

    /// Sends a challenge and reads the client's one-line answer.
    async fn answer(&mut self, challenge: &[u8]) -> io::Result<Answer> {
        let mut out = b"+ ".to_vec();
        out.extend_from_slice(BASE64.encode(challenge).as_bytes());
        out.extend_from_slice(b"\r\n");
        self.writer.write(&out).await?;
        self.writer.flush().await?;
        let Some(line) = self.sasl_line().await? else {
            return Ok(Answer::Gone);
        };
        let line = line
            .strip_suffix(b"\n")
            .map_or(&line[..], |l| l.strip_suffix(b"\r").unwrap_or(l));
        if line == b"*" {
            return Ok(Answer::Cancel);
        }
        Ok(match BASE64.decode(line) {
            Ok(data) => Answer::Data(data),
            Err(_) => Answer::Invalid,
        })
    }

    async fn cancelled(&mut self) -> io::Result<Flow> {
        self.send(&Reply::err("Authentication cancelled")).await?;
        Ok(Flow::Continue)
    }

    /// What auth learns about this client: its address as the limits know
    /// it, the protocol, and the TLS channel binding.
    fn facts(&self) -> ClientFacts {
        ClientFacts {
            remote_ip: self
                .admission
                .client_address()
                .map(|ip| ip.to_string())
                .unwrap_or_else(|| "local".into()),
            protocol: "pop3".into(),
            channel_binding: self.info.channel_binding().map(|data| ChannelBinding {
                kind: "tls-exporter".into(),
                data: data.to_vec(),
            }),
        }
    }

    /// The end of a login: the maildrop opened, or the -ERR that says why
    /// not (the session stays in AUTHORIZATION).
    async fn finish_login(&mut self, step: SaslStep) -> io::Result<Flow> {
        let reply = match step {
            SaslStep::Success(login) => self.logged_in(&login).await,
            SaslStep::Failure(failure) => failed(failure),
            SaslStep::Challenge(_) => failed(AuthFailure::Rejected),
        };
        self.send(&reply).await?;
        Ok(Flow::Continue)
    }

    /// A successful login: the per-user limit, then the maildrop (and its
    /// lock, with `lock_session`).
    async fn logged_in(&mut self, login: &LoggedIn) -> Reply {
        if let Err(refused) = self.admission.log_in(&login.user) {
            tracing::warn!(user = %login.user, %refused, "login refused: per-user-and-address limit");
            return Reply::err("Too many connections for this user from your address")
                .code(RespCode::SysTemp);
        }
        let storage = Storage::new(self.process.auth.clone(), login, self.process.clock.clone());
        // The maildrop's opening may go out on a warm channel while the
        // broker is asked for the user's storage.
        storage.attach_ahead();
        let lock = self.process.settings.lock_session;
        match Maildrop::open(storage, lock).await {
            Ok(maildrop) => {
                // At debug: auth's audit line records the login.
                tracing::debug!(user = %login.user, peer = ?self.info.peer, "logged in");
                let (count, size) = maildrop.stat();
                self.user = Some(login.user.clone());
                self.state = State::Transaction(Box::new(maildrop));
                Reply::ok(format!("Logged in, {count} messages ({size} octets)."))
            }
            Err(e) => {
                self.admission.log_out();
                match e {
                    OpenError::InUse => {
                        Reply::err("The maildrop is in use by another POP3 session")
                            .code(RespCode::InUse)
                    }
                    OpenError::Unavailable(why) => {
                        tracing::warn!(user = %login.user, error = %why, "maildrop not opened");
                        Reply::err("The maildrop cannot be opened now; try again later")
                            .code(RespCode::SysTemp)
                    }
                }
            }
        }
    }
}

/// A password may not travel in clear here (Dovecot's wording).
fn privacy_required() -> Reply {
    Reply::err("Plaintext authentication disallowed on non-secure (SSL/TLS) connections; use STLS")
        .code(RespCode::Auth)
}

/// The -ERR for a login that did not succeed (RFC 3206 codes).
fn failed(failure: AuthFailure) -> Reply {
    match failure {
        AuthFailure::Rejected | AuthFailure::Malformed => {
            Reply::err("Authentication failed.").code(RespCode::Auth)
        }
        AuthFailure::Temporary => {
            Reply::err("Authentication service unavailable, try again").code(RespCode::SysTemp)
        }
        AuthFailure::ContactAdmin(reason) => Reply::err(reason).code(RespCode::SysPerm),
        AuthFailure::MechanismUnavailable => {
            Reply::err("This mechanism cannot be used with this account").code(RespCode::Auth)
        }
    }
}
