//! Rules for the name of a mailbox about to be created (CREATE, RENAME's
//! target, APPEND/COPY with auto-create): what a name may not contain
//! whatever the storage underneath.

/// The longest mailbox name accepted for a new mailbox, in bytes, both as
/// UTF-8 and as modified UTF-7. A Maildir++ mailbox is the one directory
/// `.<name>`, a single file-name component of at most 255 bytes, and
/// Dovecot's layout spells that component in modified UTF-7.
pub const MAX_MAILBOX_NAME_LEN: usize = 254;

/// Why a name cannot be given to a new mailbox. The text is the reason
/// to send with the NO (`NO [CANNOT] <reason>` is what Dovecot answers).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailboxNameError {
    /// The name is empty.
    #[error("Mailbox name is empty")]
    Empty,
    /// The name is longer than [`MAX_MAILBOX_NAME_LEN`].
    #[error("Mailbox name is longer than {max} bytes")]
    TooLong {
        /// The limit.
        max: usize,
    },
    /// The name holds `*` or `%`, which LIST could never match literally.
    #[error("Mailbox name contains the wildcard '{0}'")]
    Wildcard(char),
    /// The name holds a control character (or NUL).
    #[error("Mailbox name contains a control character")]
    Control,
    /// The name starts or ends with the hierarchy delimiter, or has two in
    /// a row: a level would have no name.
    #[error("Mailbox name has an empty hierarchy level (delimiter '{0}')")]
    EmptyLevel(char),
}

/// Checks `name` (UTF-8, as the parser decoded it) for a new mailbox whose
/// hierarchy delimiter is `delimiter`.
pub fn check_new_mailbox_name(name: &str, delimiter: char) -> Result<(), MailboxNameError> {
    if name.is_empty() {
        return Err(MailboxNameError::Empty);
    }
    if let Some(w) = name.chars().find(|c| matches!(c, '*' | '%')) {
        return Err(MailboxNameError::Wildcard(w));
    }
    if name.chars().any(char::is_control) {
        return Err(MailboxNameError::Control);
    }
    if name.starts_with(delimiter)
        || name.ends_with(delimiter)
        || name.split(delimiter).any(str::is_empty)
    {
        return Err(MailboxNameError::EmptyLevel(delimiter));
    }
    let too_long = name.len() > MAX_MAILBOX_NAME_LEN
        || crate::mutf7::encode_mutf7(name).len() > MAX_MAILBOX_NAME_LEN;
    if too_long {
        return Err(MailboxNameError::TooLong {
            max: MAX_MAILBOX_NAME_LEN,
        });
    }
    Ok(())
}
