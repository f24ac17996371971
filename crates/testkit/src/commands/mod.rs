//! Commands with more than one step: APPEND with its literal,
//! AUTHENTICATE with its SASL exchange, IDLE with its DONE.

pub mod append;
pub mod authenticate;
pub mod idle;
