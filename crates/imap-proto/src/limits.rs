//! Size limits the parser enforces so that a client cannot make a protocol
//! process buffer unbounded data.

/// Limits on what one command may contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of command text, excluding literal contents (CRLFs count).
    /// For APPEND and REPLACE it applies to each stretch of text between
    /// the literals the caller streams.
    pub max_line: usize,
    /// Total bytes of the literals of one command that the parser buffers
    /// (everything but APPEND's and REPLACE's message literals).
    pub max_inline_literal: u64,
    /// Size of one message of APPEND or REPLACE: its literal, or the sum of
    /// its CATENATE TEXT parts (streamed by the caller, never buffered by
    /// the parser).
    pub max_append: u64,
    /// Size of all the messages of one APPEND together (MULTIAPPEND).
    pub max_append_total: u64,
    /// Size of one SETMETADATA value: a synchronizing literal over it is
    /// refused with `NO [METADATA MAXSIZE n]` before it is sent. The
    /// storage process's limit (it checks every value itself).
    pub max_metadata_value: u64,
}

impl Default for Limits {
    /// 64 KiB of text, 64 KiB of inline literals, 64 MiB messages, 256 MiB
    /// per MULTIAPPEND, 32 KiB metadata values (the storage default).
    fn default() -> Self {
        Limits {
            max_line: 64 * 1024,
            max_inline_literal: 64 * 1024,
            max_append: 64 * 1024 * 1024,
            max_append_total: 256 * 1024 * 1024,
            max_metadata_value: 32 * 1024,
        }
    }
}
