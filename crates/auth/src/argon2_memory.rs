//! The memory an argon2 hash works in (19 MiB at the default cost), kept
//! by each password hashing thread between the hashes of a burst.
//!
//! Why: argon2's blocks are 64-byte aligned, so every hash that allocates
//! its own goes through glibc's `posix_memalign`, which needs a few bytes
//! more than the block it frees. The hole a finished hash leaves is then
//! just too small for the next one, each hash of a burst took fresh pages,
//! and the freed ones stayed resident until the burst was over: auth's
//! peak grew by one block per *admitted* login, not per running hash. A
//! hashing thread now allocates its block once, reuses it for every hash
//! it runs, and frees it when the queue is empty (the gate then trims the
//! heap), so at most one block per hashing thread is ever live. Threads
//! that are not hashing threads (the `user` command, tests) allocate and
//! free per hash, as before.

use std::cell::RefCell;

use argon2::Block;

thread_local! {
    /// `Some` on a hashing thread: its kept blocks (empty when released).
    static KEPT: RefCell<Option<Vec<Block>>> = const { RefCell::new(None) };
}

/// Makes the current thread keep its argon2 memory between hashes, until
/// [`release`]. Called once by each hashing thread of the gate.
pub(crate) fn keep_on_this_thread() {
    KEPT.with(|kept| {
        let mut kept = kept.borrow_mut();
        if kept.is_none() {
            *kept = Some(Vec::new());
        }
    });
}

/// Runs `hash` with at least `count` blocks: this thread's kept ones
/// (grown when too few) on a hashing thread, fresh ones elsewhere.
pub(crate) fn with_blocks<R>(count: usize, hash: impl FnOnce(&mut [Block]) -> R) -> R {
    KEPT.with(|kept| match kept.try_borrow_mut() {
        Ok(mut kept) => match kept.as_mut() {
            Some(blocks) => {
                if blocks.len() < count {
                    // Freed first, so the old and new block are never both live.
                    *blocks = Vec::new();
                    *blocks = vec![Block::default(); count];
                }
                hash(blocks)
            }
            None => hash(&mut vec![Block::default(); count]),
        },
        // A hash inside a hash (never happens): it gets its own memory.
        Err(_) => hash(&mut vec![Block::default(); count]),
    })
}

/// The blocks this thread keeps now (0 when it keeps none).
pub(crate) fn kept_blocks() -> usize {
    KEPT.with(|kept| {
        kept.try_borrow()
            .map_or(0, |k| k.as_ref().map_or(0, Vec::len))
    })
}

/// Frees this thread's kept blocks (it still keeps the next hash's).
/// Returns whether there were any.
pub(crate) fn release() -> bool {
    KEPT.with(|kept| match kept.try_borrow_mut() {
        Ok(mut kept) => match kept.as_mut() {
            Some(blocks) if !blocks.is_empty() => {
                *blocks = Vec::new();
                true
            }
            _ => false,
        },
        Err(_) => false,
    })
}
