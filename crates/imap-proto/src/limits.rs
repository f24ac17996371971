//! Size limits the parser enforces so that a client cannot make a protocol
//! process buffer unbounded data.

/// Limits on what one command may contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of command text, excluding literal contents (CRLFs count).
    pub max_line: usize,
    /// Total bytes of the literals of one command, other than APPEND's
    /// message (the parser buffers these, so they are bounded).
    pub max_inline_literal: u64,
    /// Size of APPEND's message literal (streamed by the caller, never
    /// buffered by the parser).
    pub max_append: u64,
}

impl Default for Limits {
    /// 64 KiB of text, 64 KiB of inline literals, 64 MiB messages.
    fn default() -> Self {
        Limits {
            max_line: 64 * 1024,
            max_inline_literal: 64 * 1024,
            max_append: 64 * 1024 * 1024,
        }
    }
}
