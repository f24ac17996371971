//! Authentication for mailkeep (DESIGN §1, §2): the passwd-file as passdb
//! and userdb, password schemes (Dovecot's, SCRAM records included), SASL
//! PLAIN, LOGIN, SCRAM-SHA-1, SCRAM-SHA-256 and SCRAM-SHA-256-PLUS, and the
//! auth process's gRPC service that turns a successful login into a signed
//! session ticket. Failed logins are penalised per address, network and
//! account before anything is hashed, and password hashing runs on a
//! bounded pool that sheds load with a temporary failure. Master users
//! (`auth.master_users`) may log in as any other account with their own
//! password (`user*master`, or PLAIN's authorization identity).
//!
//! The master uses [`userdb`] (owner lookups) and [`edit`] (the
//! `mailkeep user` commands); the auth role runs [`serve`].

pub mod edit;
pub mod penalty;
pub mod reload;
pub mod sasl;
pub mod scheme;
pub mod scram;
pub mod userdb;

mod argon2_memory;
mod audit;
mod chains;
mod conn;
mod error;
mod exchanges;
mod hashing;
mod master;
mod passdb;
mod serve;
mod service;
mod settings;
mod tickets;
mod vouch;

pub use edit::{
    add_user, add_user_with_scheme, delete_user, list_users, set_password, set_password_with_scheme,
};
pub use error::AuthError;
pub use hashing::HashLimits;
pub use reload::WatchedPasswdFile;
pub use scheme::{PasswordScheme, SchemeError, hash_password, verify_password};
pub use serve::serve;
pub use settings::AuthSettings;
pub use userdb::{PasswdFile, UserEntry, validate_name};
