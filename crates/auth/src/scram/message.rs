//! The client's SCRAM messages (RFC 5802 §7), parsed strictly: anything
//! outside the grammar is an error naming what is wrong, never a panic.
//!
//! ```text
//! client-first-message = gs2-header client-first-message-bare
//! gs2-header           = gs2-cbind-flag "," [ authzid ] ","
//! gs2-cbind-flag       = ("p=" cb-name) / "n" / "y"
//! client-first-message-bare = [reserved-mext ","] username "," nonce ["," extensions]
//! client-final-message = channel-binding "," nonce ["," extensions] "," proof
//! ```

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// What the client says about channel binding (the gs2-cbind-flag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CbindFlag {
    /// `n`: the client does not support channel binding.
    NotSupported,
    /// `y`: the client supports it but thinks the server does not.
    ClientOnly,
    /// `p=<name>`: the client binds to this channel binding type.
    Used(String),
}

/// A parsed client-first-message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClientFirst {
    /// The gs2-header as sent, including its final `,`: the client-final
    /// message must echo it (base64, with the binding data after it).
    pub(crate) gs2_header: String,
    pub(crate) cbind: CbindFlag,
    /// The authorization identity, unescaped, if the client gave one.
    pub(crate) authzid: Option<String>,
    /// The user name, unescaped.
    pub(crate) username: String,
    /// The client's nonce.
    pub(crate) nonce: String,
    /// client-first-message-bare as sent: the first part of AuthMessage.
    pub(crate) bare: String,
}

/// A parsed client-final-message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClientFinal {
    /// The decoded `c=` value: the gs2-header and any binding data.
    pub(crate) channel_binding: Vec<u8>,
    /// The whole nonce (client's then server's).
    pub(crate) nonce: String,
    /// client-final-message-without-proof as sent: the end of AuthMessage.
    pub(crate) without_proof: String,
    /// The decoded ClientProof.
    pub(crate) proof: Vec<u8>,
}

/// Parses a client-first-message.
pub(crate) fn parse_client_first(data: &[u8]) -> Result<ClientFirst, &'static str> {
    let text = std::str::from_utf8(data).map_err(|_| "client-first message is not UTF-8")?;
    let (flag, rest) = text
        .split_once(',')
        .ok_or("client-first message has no GS2 header")?;
    let (authzid, bare) = rest
        .split_once(',')
        .ok_or("GS2 header does not end in ','")?;
    let gs2_len = flag.len() + 1 + authzid.len() + 1;
    let gs2_header = text.get(..gs2_len).ok_or("GS2 header")?.to_owned();
    let cbind = match flag {
        "n" => CbindFlag::NotSupported,
        "y" => CbindFlag::ClientOnly,
        _ => {
            let name = flag
                .strip_prefix("p=")
                .ok_or("channel binding flag is not n, y or p=")?;
            let valid = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
            if !valid {
                return Err("malformed channel binding type name");
            }
            CbindFlag::Used(name.to_owned())
        }
    };
    let authzid = match authzid {
        "" => None,
        _ => {
            let name = authzid
                .strip_prefix("a=")
                .ok_or("authzid does not start with a=")?;
            Some(unescape_saslname(name)?)
        }
    };
    let mut attributes = bare.split(',');
    let username = attributes.next().unwrap_or_default();
    if username.starts_with("m=") {
        return Err("mandatory extension not supported");
    }
    let username = username
        .strip_prefix("n=")
        .ok_or("user name attribute n= missing")?;
    let username = unescape_saslname(username)?;
    let nonce = attributes
        .next()
        .and_then(|a| a.strip_prefix("r="))
        .ok_or("nonce attribute r= missing")?;
    check_nonce(nonce)?;
    // Further attributes are extensions, which RFC 5802 says to ignore.
    Ok(ClientFirst {
        gs2_header,
        cbind,
        authzid,
        username,
        nonce: nonce.to_owned(),
        bare: bare.to_owned(),
    })
}

/// Parses a client-final-message.
pub(crate) fn parse_client_final(data: &[u8]) -> Result<ClientFinal, &'static str> {
    let text = std::str::from_utf8(data).map_err(|_| "client-final message is not UTF-8")?;
    let (without_proof, proof) = text
        .rsplit_once(',')
        .ok_or("client-final message is too short")?;
    let proof = proof
        .strip_prefix("p=")
        .ok_or("proof attribute p= missing or not last")?;
    let proof = STANDARD.decode(proof).map_err(|_| "proof is not base64")?;
    if proof.is_empty() {
        return Err("empty proof");
    }
    let mut attributes = without_proof.split(',');
    let channel_binding = attributes
        .next()
        .and_then(|a| a.strip_prefix("c="))
        .ok_or("channel binding attribute c= missing")?;
    let channel_binding = STANDARD
        .decode(channel_binding)
        .map_err(|_| "channel binding is not base64")?;
    let nonce = attributes
        .next()
        .and_then(|a| a.strip_prefix("r="))
        .ok_or("nonce attribute r= missing")?;
    check_nonce(nonce)?;
    Ok(ClientFinal {
        channel_binding,
        nonce: nonce.to_owned(),
        without_proof: without_proof.to_owned(),
        proof,
    })
}

/// A nonce is one or more printable ASCII characters other than `,`.
fn check_nonce(nonce: &str) -> Result<(), &'static str> {
    if nonce.is_empty()
        || !nonce
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b',')
    {
        return Err("malformed nonce");
    }
    Ok(())
}

/// Undoes saslname escaping (`=2C` is `,`, `=3D` is `=`); any other `=` is
/// an error (RFC 5802 §5.1: the server MUST fail), as is an empty name.
fn unescape_saslname(name: &str) -> Result<String, &'static str> {
    if name.is_empty() {
        return Err("empty user name");
    }
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(at) = rest.find('=') {
        out.push_str(&rest[..at]);
        let escape = rest.get(at..at + 3);
        match escape {
            Some("=2C") => out.push(','),
            Some("=3D") => out.push('='),
            _ => return Err("bad '=' escape in a name"),
        }
        rest = &rest[at + 3..];
    }
    out.push_str(rest);
    if out.contains('\0') {
        return Err("NUL in a name");
    }
    Ok(out)
}

#[cfg(test)]
#[path = "../tests/scram_message.rs"]
mod tests;
