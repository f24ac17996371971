//! Latency samples and their percentiles.

use std::time::Duration;

/// The durations of one kind of operation, in the order measured.
#[derive(Debug, Clone, Default)]
pub struct Samples {
    values: Vec<Duration>,
}

impl Samples {
    /// No samples.
    pub fn new() -> Samples {
        Samples::default()
    }

    /// Adds one sample.
    pub fn push(&mut self, value: Duration) {
        self.values.push(value);
    }

    /// Adds every sample of `other`.
    pub fn extend(&mut self, other: &Samples) {
        self.values.extend_from_slice(&other.values);
    }

    /// How many samples there are.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The `p`-th percentile (0 < p ≤ 100) by nearest rank: the smallest
    /// sample with at least `p`% of the samples at or below it. `None`
    /// without samples.
    pub fn percentile(&self, p: f64) -> Option<Duration> {
        if self.values.is_empty() {
            return None;
        }
        let mut sorted = self.values.clone();
        sorted.sort_unstable();
        let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
        sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
    }

    /// The median.
    pub fn p50(&self) -> Option<Duration> {
        self.percentile(50.0)
    }

    /// The 99th percentile.
    pub fn p99(&self) -> Option<Duration> {
        self.percentile(99.0)
    }

    /// The sum of all samples.
    pub fn total(&self) -> Duration {
        self.values.iter().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(values: &[u64]) -> Samples {
        let mut s = Samples::new();
        for v in values {
            s.push(Duration::from_millis(*v));
        }
        s
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let s = ms(&(1..=100).rev().collect::<Vec<_>>());
        assert_eq!(s.p50(), Some(Duration::from_millis(50)));
        assert_eq!(s.p99(), Some(Duration::from_millis(99)));
        assert_eq!(s.percentile(100.0), Some(Duration::from_millis(100)));
    }

    #[test]
    fn one_slow_sample_in_ten_is_the_p99() {
        let s = ms(&[1, 1, 1, 1, 1, 1, 1, 1, 1, 900]);
        assert_eq!(s.p50(), Some(Duration::from_millis(1)));
        assert_eq!(s.p99(), Some(Duration::from_millis(900)));
    }

    #[test]
    fn no_samples_have_no_percentile() {
        assert_eq!(Samples::new().p50(), None);
        assert!(Samples::new().is_empty());
    }

    #[test]
    fn extended_samples_count_both() {
        let mut a = ms(&[3, 1]);
        a.extend(&ms(&[2]));
        assert_eq!(a.len(), 3);
        assert_eq!(a.p50(), Some(Duration::from_millis(2)));
        assert_eq!(a.total(), Duration::from_millis(6));
    }
}
