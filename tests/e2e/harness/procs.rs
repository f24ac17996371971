//! Processes as `/proc` shows them: the server's children, their roles,
//! ids and states.

use std::fs;

/// What `/proc` says about a process.
#[derive(Debug, Clone)]
pub struct ProcInfo {
    /// Its pid.
    pub pid: i32,
    /// Its parent's pid.
    pub ppid: i32,
    /// The state letter from `/proc/PID/stat` (`Z` for a zombie).
    pub state: char,
    /// Its argv (empty for zombies and kernel threads).
    pub argv: Vec<String>,
}

impl ProcInfo {
    /// The role name if this is `mailkeep role NAME ...`.
    pub fn role(&self) -> Option<&str> {
        let i = self.argv.iter().position(|a| a == "role")?;
        self.argv.get(i + 1).map(String::as_str)
    }

    /// The value after `flag` in argv (`--owner alice` → `alice`).
    pub fn flag(&self, flag: &str) -> Option<&str> {
        let i = self.argv.iter().position(|a| a == flag)?;
        self.argv.get(i + 1).map(String::as_str)
    }

    /// Whether it has exited but not been reaped.
    pub fn is_zombie(&self) -> bool {
        self.state == 'Z' || self.state == 'X'
    }

    /// `/proc/PID/status`.
    pub fn status(&self) -> String {
        fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap_or_default()
    }

    /// The numbers of a `/proc/PID/status` line such as `Uid:` (real,
    /// effective, saved, filesystem) or `Groups:`.
    pub fn status_numbers(&self, field: &str) -> Vec<u32> {
        status_numbers(&self.status(), field)
    }
}

/// The numbers on the line starting with `field` (e.g. "Uid:") of a
/// `/proc/PID/status` text.
pub fn status_numbers(status: &str, field: &str) -> Vec<u32> {
    status
        .lines()
        .find(|l| l.starts_with(field))
        .map(|l| {
            l[field.len()..]
                .split_whitespace()
                .filter_map(|n| n.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Reads `/proc/PID/stat` and `/proc/PID/cmdline`; `None` if it is gone.
pub fn proc_info(pid: i32) -> Option<ProcInfo> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    let after = &stat[stat.rfind(')')? + 1..];
    let mut fields = after.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let argv = cmdline
        .split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect();
    Some(ProcInfo {
        pid,
        ppid,
        state,
        argv,
    })
}

/// The live (non-zombie) children of `ppid`.
pub fn children_of(ppid: i32) -> Vec<ProcInfo> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(proc_info)
        .filter(|p| p.ppid == ppid && !p.is_zombie())
        .collect()
}

/// Whether `pid` still runs (exists and is not a zombie).
pub fn alive(pid: i32) -> bool {
    proc_info(pid).is_some_and(|p| !p.is_zombie())
}

/// CAP_SETGID (6) and CAP_SETUID (7): all a shared-mode storage
/// process's spawner thread may hold.
pub const SWITCH_CAPS: u64 = (1 << 6) | (1 << 7);

/// The spawner thread's name (`mailkeep_storage_server::SPAWNER_THREAD`).
pub const SPAWNER: &str = "cred-spawner";

/// One thread of a process as `/proc/PID/task/TID` shows it.
#[derive(Debug)]
pub struct Task {
    /// Its thread id.
    pub tid: i32,
    /// Its name (`comm`).
    pub name: String,
    /// Its `status` file.
    pub status: String,
}

impl Task {
    /// A capability set line of its status (`CapEff:`, hexadecimal).
    pub fn caps(&self, field: &str) -> u64 {
        let line = self
            .status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .unwrap_or_else(|| panic!("no {field} in the status of {self:?}"));
        u64::from_str_radix(line.trim(), 16).expect("a hexadecimal capability set")
    }

    /// A line of numbers of its status: `Uid:` or `Gid:` (real,
    /// effective, saved, file-system), `Groups:`.
    pub fn ids(&self, field: &str) -> Vec<u32> {
        status_numbers(&self.status, field)
    }
}

/// Every thread of process `pid`. A thread that ends while it is read
/// (an idle pool thread does) is left out.
pub fn tasks(pid: i32) -> Vec<Task> {
    fs::read_dir(format!("/proc/{pid}/task"))
        .expect("listing the threads")
        .filter_map(Result::ok)
        .filter_map(|t| {
            Some(Task {
                tid: t.file_name().to_string_lossy().parse().expect("a tid"),
                name: fs::read_to_string(t.path().join("comm"))
                    .ok()?
                    .trim()
                    .to_owned(),
                status: fs::read_to_string(t.path().join("status")).ok()?,
            })
        })
        .collect()
}
