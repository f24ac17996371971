//! Capabilities of a shared-mode storage process, thread by thread.
//!
//! On Linux the capability sets (and the bounding set) belong to each
//! thread, and a new thread starts with a copy of its creator's. A
//! shared-mode process is started as root; while it still is, and before
//! it starts any other thread, it shrinks its bounding set to
//! [`SWITCH_CAPS`], so that no thread can ever hold more, and becomes its
//! own unprivileged uid keeping those two (see `spawner.rs`). The threads
//! that decode requests end with no capability at all. Only the spawner
//! thread and, for a moment, each per-uid worker hold [`SWITCH_CAPS`].

use rustix::thread::{
    CapabilitySet, CapabilitySets, capabilities, clear_ambient_capability_set,
    remove_capability_from_bounding_set, set_capabilities,
};

/// What a worker thread needs to take an owner's file-system credentials
/// (setgroups and setfsgid need CAP_SETGID, setfsuid CAP_SETUID), and
/// nothing else: homes exist already (the master makes them), and every
/// file is reached as its owner.
pub(crate) const SWITCH_CAPS: CapabilitySet = CapabilitySet::SETUID.union(CapabilitySet::SETGID);

/// Why a thread's capabilities could not be set.
#[derive(Debug, thiserror::Error)]
#[error("{step}: {source}")]
pub struct CapsError {
    /// The step that failed.
    step: &'static str,
    /// What the kernel said.
    #[source]
    source: std::io::Error,
}

impl CapsError {
    /// A failure of `step` that the standard library reported.
    pub(crate) fn thread(step: &'static str, source: std::io::Error) -> CapsError {
        CapsError { step, source }
    }
}

fn failed(step: &'static str) -> impl FnOnce(rustix::io::Errno) -> CapsError {
    move |e| CapsError {
        step,
        source: e.into(),
    }
}

impl CapsError {
    /// A failure of `step` for a reason the kernel did not give.
    pub(crate) fn other(step: &'static str, why: String) -> CapsError {
        CapsError {
            step,
            source: std::io::Error::other(why),
        }
    }
}

/// Removes every capability but `keep` from the calling thread's bounding
/// set (and so from every thread it starts later), empties its ambient and
/// inheritable sets, and leaves `keep` alone in its effective and
/// permitted sets. Needs CAP_SETPCAP (root); call it before any other
/// thread exists.
pub(crate) fn shrink_to(keep: CapabilitySet) -> Result<(), CapsError> {
    for bit in 0..u64::BITS {
        let cap = CapabilitySet::from_bits_retain(1 << bit);
        if keep.contains(cap) {
            continue;
        }
        match remove_capability_from_bounding_set(cap) {
            Ok(()) => {}
            // A number this kernel has no capability for.
            Err(rustix::io::Errno::INVAL) => {}
            Err(e) => return Err(failed("dropping from the bounding set")(e)),
        }
    }
    clear_ambient_capability_set().map_err(failed("clearing the ambient set"))?;
    set_thread_caps(keep)
}

/// Leaves the calling thread with exactly `keep` in its effective and
/// permitted sets and an empty inheritable set (a thread can only lose
/// capabilities this way).
pub(crate) fn set_thread_caps(keep: CapabilitySet) -> Result<(), CapsError> {
    set_capabilities(
        None,
        CapabilitySets {
            effective: keep,
            permitted: keep,
            inheritable: CapabilitySet::empty(),
        },
    )
    .map_err(failed("setting this thread's capabilities"))?;
    let now = capabilities(None).map_err(failed("reading this thread's capabilities"))?;
    if now.effective != keep || now.permitted != keep {
        return Err(CapsError {
            step: "checking this thread's capabilities",
            source: std::io::Error::other(format!(
                "effective {:?}, permitted {:?}",
                now.effective, now.permitted
            )),
        });
    }
    Ok(())
}

/// Drops every capability of the calling thread for good (effective,
/// permitted and inheritable sets emptied): for the runtime's threads of a
/// shared-mode process (`on_thread_start`), which decode requests from the
/// protocol processes and need no privilege.
pub fn drop_thread_capabilities() -> Result<(), CapsError> {
    set_thread_caps(CapabilitySet::empty())
}
