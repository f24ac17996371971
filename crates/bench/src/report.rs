//! Printing figures beside their baseline, as ratios (crates/bench/README.md:
//! absolute numbers from two runs on this shared machine are not
//! comparable; figures from one run are).

use std::time::Duration;

/// Which way a figure improves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    /// Throughput and the like.
    Higher,
    /// Latency, memory, CPU time.
    Lower,
}

impl Better {
    fn word(self) -> &'static str {
        match self {
            Better::Higher => "higher",
            Better::Lower => "lower",
        }
    }
}

/// A number with about three significant digits.
pub fn num(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else if x >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

/// Milliseconds as a float.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// `ours / theirs`, guarded against a zero baseline.
pub fn ratio(ours: f64, theirs: f64) -> f64 {
    ours / theirs.max(1e-12)
}

/// One figure's line: mailkeep's value, the baseline's (`None`: skipped)
/// and their ratio.
pub fn line(figure: &str, unit: &str, ours: f64, theirs: Option<f64>, better: Better) -> String {
    match theirs {
        Some(theirs) => format!(
            "{figure}: mailkeep {} {unit}, dovecot {} {unit}, ratio mailkeep/dovecot {:.2} \
             ({} is better)",
            num(ours),
            num(theirs),
            ratio(ours, theirs),
            better.word()
        ),
        None => format!(
            "{figure}: mailkeep {} {unit}, dovecot skipped ({} is better)",
            num(ours),
            better.word()
        ),
    }
}

/// The machine's load averages (1, 5, 15 minutes) as `/proc/loadavg`
/// gives them, for the report: the machine is shared.
pub fn machine_load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_ascii_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|e| format!("unknown ({e})"))
}

/// How the machine's idle CPUs wait for work, for the report: on a
/// virtual machine a CPU that halts when idle must be woken by the host,
/// which costs every hand-over between two processes (a storage call, a
/// delivery) tens of microseconds more than a CPU that polls for a while
/// first. On this project's machines the guest's halt polling is off
/// (`guest_halt_poll_ns` 0; Linux's default is 200,000), and the round
/// trip between two processes on two CPUs took 78 µs instead of 9
/// (crates/bench/README.md, twenty-ninth session).
pub fn machine_idle() -> String {
    let read = |path: &str| {
        std::fs::read_to_string(path)
            .ok()
            .map(|text| text.trim().to_owned())
    };
    idle_policy(
        read("/sys/devices/system/cpu/cpuidle/current_driver").as_deref(),
        read("/sys/devices/system/cpu/cpuidle/current_governor_ro")
            .or_else(|| read("/sys/devices/system/cpu/cpuidle/current_governor"))
            .as_deref(),
        read("/sys/module/haltpoll/parameters/guest_halt_poll_ns").as_deref(),
    )
}

/// [`machine_idle`]'s text from what the machine's files said (`None`:
/// no such file).
fn idle_policy(driver: Option<&str>, governor: Option<&str>, halt_poll_ns: Option<&str>) -> String {
    let mut text = format!(
        "cpuidle driver {}, governor {}",
        driver.unwrap_or("unknown"),
        governor.unwrap_or("unknown")
    );
    if let Some(ns) = halt_poll_ns {
        text.push_str(&format!(", guest halt polling up to {ns} ns"));
        if ns == "0" {
            text.push_str(" (off: an idle CPU halts at once and the host must wake it)");
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_idle_policy_tells_when_halt_polling_is_off() {
        assert_eq!(
            idle_policy(Some("haltpoll"), Some("haltpoll"), Some("0")),
            "cpuidle driver haltpoll, governor haltpoll, guest halt polling up to 0 ns \
             (off: an idle CPU halts at once and the host must wake it)"
        );
        assert_eq!(
            idle_policy(Some("haltpoll"), Some("haltpoll"), Some("200000")),
            "cpuidle driver haltpoll, governor haltpoll, guest halt polling up to 200000 ns"
        );
        assert_eq!(
            idle_policy(None, Some("menu"), None),
            "cpuidle driver unknown, governor menu"
        );
    }

    #[test]
    fn a_line_carries_both_figures_and_the_ratio() {
        let text = line("p50", "ms", 1.0, Some(4.0), Better::Lower);
        assert_eq!(
            text,
            "p50: mailkeep 1.00 ms, dovecot 4.00 ms, ratio mailkeep/dovecot 0.25 (lower is better)"
        );
    }

    #[test]
    fn a_skipped_baseline_says_so() {
        let text = line("rate", "cmd/s", 1234.0, None, Better::Higher);
        assert_eq!(
            text,
            "rate: mailkeep 1234 cmd/s, dovecot skipped (higher is better)"
        );
    }

    #[test]
    fn numbers_keep_about_three_digits() {
        assert_eq!(num(0.01234), "0.012");
        assert_eq!(num(12.345), "12.3");
        assert_eq!(num(12345.6), "12346");
    }
}
