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

#[cfg(test)]
mod tests {
    use super::*;

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
