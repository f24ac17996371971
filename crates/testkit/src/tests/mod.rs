//! Unit tests: the parser against responses as RFC 9051 and its
//! extensions show them, and the client against a scripted server on an
//! in-memory stream.

mod client;
mod parser;
