//! Error types of the few fallible functions that are not driven by
//! [`crate::Parser::next`] (which reports problems as an `Outcome::Error`).

/// Why a piece of client input could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The input does not follow the grammar; the text says what was expected.
    #[error("{0}")]
    Syntax(String),
    /// The input is not valid base64.
    #[error("Invalid base64 data")]
    InvalidBase64,
}
