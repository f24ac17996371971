//! A server's whole process tree read from `/proc`: which processes, their
//! memory as PSS (`/proc/PID/smaps_rollup`, so pages shared between the
//! processes of the tree count once in the sum) and the CPU time they used.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// One process of a tree.
#[derive(Debug, Clone)]
pub struct Proc {
    /// Its pid.
    pub pid: u32,
    /// Its parent's pid.
    pub ppid: u32,
    /// What it is: mailkeep's role (`master`, `imap`, `storage`, `auth`)
    /// from its command line, else the command name (`imap`, `imap-login`,
    /// `anvil` for Dovecot).
    pub kind: String,
    /// User and system CPU time of the process and of its children that
    /// it has waited for, in clock ticks.
    pub cpu_ticks: u64,
}

/// Reads `/proc/PID/stat`: `(ppid, cpu_ticks)`. `None` if the process is
/// gone or the file is not as expected.
fn stat(pid: u32) -> Option<(u32, u64, String)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces or ')'.
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_owned();
    let fields: Vec<&str> = text.get(close + 1..)?.split_ascii_whitespace().collect();
    // After the name: state(3) ppid(4) ... utime(14) stime(15) cutime(16)
    // cstime(17); fields[0] is field 3.
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
    let ppid = u32::try_from(field(4)?).ok()?;
    let cpu = field(14)? + field(15)? + field(16)? + field(17)?;
    Some((ppid, cpu, comm))
}

/// mailkeep's role from the command line (`mailkeep role imap ...`), or
/// `master` for `mailkeep serve`.
fn role(pid: u32) -> Option<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let args: Vec<&[u8]> = raw.split(|b| *b == 0).collect();
    let position = args.iter().position(|a| *a == b"role")?;
    args.get(position + 1)
        .map(|r| String::from_utf8_lossy(r).into_owned())
}

/// Every live process.
fn all() -> Vec<Proc> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let (ppid, cpu_ticks, comm) = stat(pid)?;
            // `mailkeep serve` has no role argument: it is the master.
            let kind = role(pid).unwrap_or_else(|| match comm.as_str() {
                "mailkeep" => "master".to_owned(),
                _ => comm,
            });
            Some(Proc {
                pid,
                ppid,
                kind,
                cpu_ticks,
            })
        })
        .collect()
}

/// `root` and all its descendants now.
pub fn tree(root: u32) -> Vec<Proc> {
    let procs = all();
    let mut children: HashMap<u32, Vec<&Proc>> = HashMap::new();
    for p in &procs {
        children.entry(p.ppid).or_default().push(p);
    }
    let mut out: Vec<Proc> = procs.iter().filter(|p| p.pid == root).cloned().collect();
    let mut next = 0;
    while next < out.len() {
        let pid = out[next].pid;
        if let Some(kids) = children.get(&pid) {
            out.extend(kids.iter().map(|p| (*p).clone()));
        }
        next += 1;
    }
    out
}

/// The PSS of process `pid` in KiB; `None` if it is gone.
pub fn pss_kib(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("Pss:"))
        .and_then(|rest| rest.split_ascii_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// The memory of a process tree at one moment.
#[derive(Debug, Clone, Default)]
pub struct TreeMemory {
    /// PSS of all processes of the tree, KiB.
    pub pss_kib: u64,
    /// Per kind of process: how many and their PSS in KiB.
    pub by_kind: BTreeMap<String, (usize, u64)>,
}

impl TreeMemory {
    /// Processes in the tree.
    pub fn processes(&self) -> usize {
        self.by_kind.values().map(|(n, _)| n).sum()
    }

    /// `kind: count × average KiB` for each kind, for the report.
    pub fn breakdown(&self) -> String {
        self.by_kind
            .iter()
            .map(|(kind, (n, kib))| {
                format!(
                    "{kind} {n} × {} KiB = {} MiB",
                    kib / (*n as u64).max(1),
                    kib / 1024
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// The PSS of `root`'s tree now.
pub fn tree_memory(root: u32) -> TreeMemory {
    let mut memory = TreeMemory::default();
    for p in tree(root) {
        if let Some(kib) = pss_kib(p.pid) {
            memory.pss_kib += kib;
            let entry = memory.by_kind.entry(p.kind).or_default();
            entry.0 += 1;
            entry.1 += kib;
        }
    }
    memory
}

/// CPU time used by `root`'s tree so far: every live process's own time
/// plus that of the children it has reaped. The difference of two readings
/// is what the tree used in between, also for processes that ended in
/// between (their time moved to their parent's reaped-children count).
pub fn tree_cpu(root: u32) -> Duration {
    tree_cpu_by_kind(root).values().sum()
}

/// [`tree_cpu`] per kind of process (`imap`, `storage`, ...). The time of
/// processes that ended is counted under their parent's kind.
pub fn tree_cpu_by_kind(root: u32) -> BTreeMap<String, Duration> {
    let per_second = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|t| *t > 0)
        .unwrap_or(100) as u64;
    let mut ticks: BTreeMap<String, u64> = BTreeMap::new();
    for p in tree(root) {
        *ticks.entry(p.kind).or_default() += p.cpu_ticks;
    }
    ticks
        .into_iter()
        .map(|(kind, t)| (kind, Duration::from_secs_f64(t as f64 / per_second as f64)))
        .collect()
}

/// What each kind used between two readings of [`tree_cpu_by_kind`].
pub fn cpu_used(
    before: &BTreeMap<String, Duration>,
    after: &BTreeMap<String, Duration>,
) -> BTreeMap<String, Duration> {
    after
        .iter()
        .map(|(kind, t)| {
            let was = before.get(kind).copied().unwrap_or_default();
            (kind.clone(), t.saturating_sub(was))
        })
        .collect()
}

/// CPU time (user and system) this process, the load generator, used so
/// far: it shares the machine's cores with the server under test, so a
/// report shows it beside the server's.
pub fn own_cpu() -> Duration {
    use nix::sys::resource::{UsageWho, getrusage};
    getrusage(UsageWho::RUSAGE_SELF)
        .map(|u| {
            let t = |tv: nix::sys::time::TimeVal| {
                Duration::new(
                    u64::try_from(tv.tv_sec()).unwrap_or(0),
                    u32::try_from(tv.tv_usec()).unwrap_or(0) * 1000,
                )
            };
            t(u.user_time()) + t(u.system_time())
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tree_of_this_process_holds_its_child() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let me = std::process::id();
        let procs = tree(me);
        let found = procs.iter().any(|p| p.pid == child.id() && p.ppid == me);
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(found, "{procs:?}");
        assert_eq!(procs[0].pid, me);
    }

    #[test]
    fn this_process_has_a_pss() {
        let memory = tree_memory(std::process::id());
        assert!(memory.pss_kib > 0);
        assert!(memory.processes() >= 1);
    }

    #[test]
    fn cpu_time_grows_with_work() {
        let me = std::process::id();
        let before = tree_cpu(me);
        // Work until a clock tick has been charged (bounded: a tick is
        // 10 ms of CPU; 20 s of wall time is far more than any load).
        let started = std::time::Instant::now();
        let mut x = 0u64;
        let mut grew = false;
        while !grew && started.elapsed() < Duration::from_secs(20) {
            for _ in 0..1_000_000 {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            }
            grew = tree_cpu(me) > before;
        }
        std::hint::black_box(x);
        assert!(grew, "no CPU time was charged to this process");
    }

    #[test]
    fn cpu_used_is_the_growth_per_kind() {
        let at = |pairs: &[(&str, u64)]| -> BTreeMap<String, Duration> {
            pairs
                .iter()
                .map(|(k, ms)| ((*k).to_owned(), Duration::from_millis(*ms)))
                .collect()
        };
        let used = cpu_used(
            &at(&[("imap", 100), ("storage", 50)]),
            &at(&[("imap", 160), ("storage", 50), ("auth", 7)]),
        );
        assert_eq!(used, at(&[("auth", 7), ("imap", 60), ("storage", 0)]));
    }
}

/// A figure of `/proc/PID/status` in KiB (`VmRSS`, `VmHWM`); `None` if
/// the process is gone.
fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.split_ascii_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// A mark from which [`PeakWatch::grown_kib`] tells how far the
/// resident memory of any process of a tree rose: what a step costs in
/// memory at its peak, not only what it leaves behind.
#[derive(Debug)]
pub struct PeakWatch {
    /// Each process's resident memory at the mark, KiB.
    resident: Vec<(u32, u64)>,
}

impl PeakWatch {
    /// Resets the peak (`VmHWM`) of every process of `root`'s tree to its
    /// resident memory now (writing `5` to `/proc/PID/clear_refs`, which
    /// takes the right to trace the process: root, or its owner); `Err`
    /// names a process whose peak could not be reset.
    pub fn start(root: u32) -> Result<PeakWatch, String> {
        let mut resident = Vec::new();
        for p in tree(root) {
            std::fs::write(format!("/proc/{}/clear_refs", p.pid), "5")
                .map_err(|e| format!("resetting the peak memory of {} {}: {e}", p.kind, p.pid))?;
            if let Some(kib) = status_kib(p.pid, "VmRSS:") {
                resident.push((p.pid, kib));
            }
        }
        Ok(PeakWatch { resident })
    }

    /// The most any process of the tree (present at the mark) rose above
    /// its resident memory at the mark, KiB.
    pub fn grown_kib(&self) -> u64 {
        self.resident
            .iter()
            .filter_map(|&(pid, at_mark)| {
                status_kib(pid, "VmHWM:").map(|peak| peak.saturating_sub(at_mark))
            })
            .max()
            .unwrap_or(0)
    }
}
