//! A SCRAM client for tests (RFC 5802 §3, RFC 7677, channel binding of
//! RFC 9266), written straight on RustCrypto rather than on auth's own
//! SCRAM code, so that the two check each other.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// SCRAM's hash function.
#[derive(Debug, Clone, Copy)]
pub enum Hash {
    /// SCRAM-SHA-1
    Sha1,
    /// SCRAM-SHA-256
    Sha256,
}

impl Hash {
    fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        match self {
            Hash::Sha1 => {
                let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(key).unwrap();
                mac.update(data);
                mac.finalize().into_bytes().to_vec()
            }
            Hash::Sha256 => {
                let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap();
                mac.update(data);
                mac.finalize().into_bytes().to_vec()
            }
        }
    }

    fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Hash::Sha1 => Sha1::digest(data).to_vec(),
            Hash::Sha256 => Sha256::digest(data).to_vec(),
        }
    }

    fn salted_password(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            Hash::Sha1 => {
                pbkdf2::pbkdf2_hmac_array::<Sha1, 20>(password, salt, iterations).to_vec()
            }
            Hash::Sha256 => {
                pbkdf2::pbkdf2_hmac_array::<Sha256, 32>(password, salt, iterations).to_vec()
            }
        }
    }
}

/// One client side of an exchange.
pub struct ScramClient {
    hash: Hash,
    password: Vec<u8>,
    gs2_header: String,
    cbind_data: Vec<u8>,
    bare: String,
    server_signature: Vec<u8>,
    /// The salt the server sent (base64), once it has.
    pub salt_b64: String,
}

impl ScramClient {
    /// A client for `user`, sending `gs2_header` (e.g. `n,,` or
    /// `p=tls-exporter,,`) and binding `cbind_data` after it.
    pub fn new(
        hash: Hash,
        user: &str,
        password: &str,
        gs2_header: &str,
        cbind_data: &[u8],
    ) -> Self {
        let nonce = STANDARD.encode(rand::random::<[u8; 15]>());
        ScramClient {
            hash,
            password: password.as_bytes().to_vec(),
            gs2_header: gs2_header.to_owned(),
            cbind_data: cbind_data.to_vec(),
            bare: format!("n={user},r={nonce}"),
            server_signature: Vec::new(),
            salt_b64: String::new(),
        }
    }

    /// client-first-message.
    pub fn first_message(&self) -> Vec<u8> {
        format!("{}{}", self.gs2_header, self.bare).into_bytes()
    }

    /// client-final-message for the server's `server_first`.
    pub fn final_message(&mut self, server_first: &[u8]) -> Vec<u8> {
        let server_first = std::str::from_utf8(server_first).unwrap();
        let mut nonce = "";
        let mut iterations = 0;
        for attribute in server_first.split(',') {
            let (name, value) = attribute.split_at(2);
            match name {
                "r=" => nonce = value,
                "s=" => self.salt_b64 = value.to_owned(),
                "i=" => iterations = value.parse().unwrap(),
                _ => panic!("unexpected attribute in {server_first}"),
            }
        }
        let client_nonce = self.bare.split_once(",r=").unwrap().1;
        assert!(nonce.starts_with(client_nonce), "{server_first}");
        let salt = STANDARD.decode(&self.salt_b64).unwrap();
        let salted = self.hash.salted_password(&self.password, &salt, iterations);
        let client_key = self.hash.hmac(&salted, b"Client Key");
        let stored_key = self.hash.digest(&client_key);
        let server_key = self.hash.hmac(&salted, b"Server Key");
        let mut binding = self.gs2_header.as_bytes().to_vec();
        binding.extend_from_slice(&self.cbind_data);
        let without_proof = format!("c={},r={nonce}", STANDARD.encode(binding));
        let auth_message = format!("{},{server_first},{without_proof}", self.bare);
        let signature = self.hash.hmac(&stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&signature)
            .map(|(k, s)| k ^ s)
            .collect();
        self.server_signature = self.hash.hmac(&server_key, auth_message.as_bytes());
        format!("{without_proof},p={}", STANDARD.encode(proof)).into_bytes()
    }

    /// The server-final message a server that knows the keys must send.
    pub fn expected_server_final(&self) -> Vec<u8> {
        format!("v={}", STANDARD.encode(&self.server_signature)).into_bytes()
    }
}
