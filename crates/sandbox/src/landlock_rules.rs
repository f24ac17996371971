//! The Landlock ruleset: every access right the kernel can restrict is
//! handled, and none is granted but beneath the directories the
//! [`Allowances`] name, so no other file can be opened, executed, made or
//! removed whatever its permissions say.

use landlock::{
    ABI, Access, AccessFs, AccessNet, CompatLevel, Compatible, NetPort, PathBeneath, PathFd,
    Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus, Scope,
};

use crate::{Allowances, SandboxError};

/// The newest Landlock ABI this code asks for; older kernels enforce what
/// they know of it (best effort).
const ABI_WANTED: ABI = ABI::V6;

/// How far the kernel enforces the ruleset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LandlockOutcome {
    /// Everything asked for is enforced.
    Full,
    /// The kernel has Landlock, but an older ABI: some rights (e.g. TCP,
    /// truncate, scopes) are not restricted by it.
    Partial,
    /// No Landlock in this kernel (or it is disabled).
    Unsupported,
}

/// A handle on `dir` for a rule (opened `O_PATH`: it reads nothing).
fn path_fd(dir: &std::path::Path) -> Result<PathFd, SandboxError> {
    PathFd::new(dir).map_err(|e| SandboxError::Landlock(format!("{}: {e}", dir.display())))
}

/// Restricts the calling thread (and so, before other threads exist, the
/// process) with the empty ruleset; with `allow.tcp_ports`, connecting to
/// those TCP ports is the one right granted.
pub(crate) fn restrict_self(allow: &Allowances) -> Result<LandlockOutcome, SandboxError> {
    let err = |e: landlock::RulesetError| SandboxError::Landlock(e.to_string());
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(AccessFs::from_all(ABI_WANTED))
        .map_err(err)?;
    if !allow.outbound_tcp || !allow.tcp_ports.is_empty() {
        ruleset = ruleset
            .handle_access(AccessNet::from_all(ABI_WANTED))
            .map_err(err)?;
    }
    let mut created = ruleset
        .scope(Scope::from_all(ABI_WANTED))
        .map_err(err)?
        .create()
        .map_err(err)?;
    let read = AccessFs::ReadFile | AccessFs::ReadDir;
    for dir in &allow.read_dirs {
        created = created
            .add_rule(PathBeneath::new(path_fd(dir)?, read))
            .map_err(err)?;
    }
    let write = AccessFs::from_all(ABI_WANTED)
        & !(AccessFs::Execute
            | AccessFs::MakeChar
            | AccessFs::MakeBlock
            | AccessFs::MakeFifo
            | AccessFs::MakeSock
            | AccessFs::MakeSym);
    for dir in &allow.write_dirs {
        created = created
            .add_rule(PathBeneath::new(path_fd(dir)?, write))
            .map_err(err)?;
    }
    if allow.outbound_tcp {
        for &port in &allow.tcp_ports {
            created = created
                .add_rule(NetPort::new(port, AccessNet::ConnectTcp))
                .map_err(err)?;
        }
    }
    let status = created.restrict_self().map_err(err)?;
    Ok(match status.ruleset {
        RulesetStatus::FullyEnforced => LandlockOutcome::Full,
        RulesetStatus::PartiallyEnforced => LandlockOutcome::Partial,
        RulesetStatus::NotEnforced => LandlockOutcome::Unsupported,
    })
}
