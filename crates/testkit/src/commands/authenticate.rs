//! AUTHENTICATE (RFC 9051 §6.2.2) with SASL-IR (RFC 4959): challenges and
//! responses travel base64-encoded, one a line.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::client::{Client, ClientError};
use crate::reply::Reply;

/// Standard base64 with padding, as SASL in IMAP uses it.
pub fn base64(data: &[u8]) -> String {
    BASE64.encode(data)
}

/// A SASL PLAIN message: no authorization identity, `user`, `password`.
pub fn plain(user: &str, password: &str) -> Vec<u8> {
    format!("\0{user}\0{password}").into_bytes()
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    /// Runs AUTHENTICATE `mechanism`. `initial`, if given, goes on the
    /// command line (SASL-IR; empty is sent as `=`). Each `+` challenge is
    /// decoded and passed to `respond`, whose answer is sent encoded;
    /// `None` cancels the exchange with `*`.
    pub async fn authenticate(
        &mut self,
        mechanism: &str,
        initial: Option<&[u8]>,
        mut respond: impl FnMut(&[u8]) -> Option<Vec<u8>>,
    ) -> Result<Reply, ClientError> {
        let tag = self.tag();
        let line = match initial {
            None => format!("{tag} AUTHENTICATE {mechanism}\r\n"),
            Some([]) => format!("{tag} AUTHENTICATE {mechanism} =\r\n"),
            Some(data) => format!("{tag} AUTHENTICATE {mechanism} {}\r\n", base64(data)),
        };
        self.send(line.as_bytes()).await?;
        let mut responses = Vec::new();
        loop {
            let r = self.read_response().await?;
            if r.is_tagged(&tag) {
                return Reply::new(responses, r)
                    .ok_or_else(|| ClientError::Unexpected("untagged end of AUTHENTICATE".into()));
            }
            if let Some(text) = r.continuation() {
                let challenge = BASE64.decode(text.trim()).map_err(|e| {
                    ClientError::Unexpected(format!(
                        "a SASL challenge that is not base64 ({e}): {r:?}"
                    ))
                })?;
                let answer = match respond(&challenge) {
                    Some(bytes) => format!("{}\r\n", base64(&bytes)),
                    None => "*\r\n".to_owned(),
                };
                self.send(answer.as_bytes()).await?;
            }
            responses.push(r);
        }
    }

    /// AUTHENTICATE PLAIN with the credentials as initial response.
    pub async fn authenticate_plain(
        &mut self,
        user: &str,
        password: &str,
    ) -> Result<Reply, ClientError> {
        let message = plain(user, password);
        self.authenticate("PLAIN", Some(&message), |_| None).await
    }

    /// AUTHENTICATE LOGIN: the user name, then the password, each after
    /// its challenge.
    pub async fn authenticate_login(
        &mut self,
        user: &str,
        password: &str,
    ) -> Result<Reply, ClientError> {
        let mut answers = [user, password].into_iter();
        self.authenticate("LOGIN", None, |_| {
            answers.next().map(|a| a.as_bytes().to_vec())
        })
        .await
    }
}
