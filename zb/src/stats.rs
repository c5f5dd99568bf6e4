//! What a test measured: per-worker records while it runs, merged into one summary after.

use crate::suite::PullTimings;
use std::collections::BTreeMap;
use std::time::Duration;

/// One worker's records of the measured phase.
#[derive(Debug, Default)]
pub struct WorkerStats {
    pub latencies: Vec<Duration>,
    pub completed: usize,
    pub failed: usize,
    pub errors: BTreeMap<String, usize>,
    /// Answers by class: 2xx, 3xx, 4xx, 5xx.
    pub status_classes: [usize; 4],
    pub payload_bytes: u64,
    pub pull_timings: Vec<PullTimings>,
    /// Operations per size (mixed tests), as zot prints them.
    pub size_counts: [usize; 3],
    pub pulls: usize,
    pub pushes: usize,
}

impl WorkerStats {
    pub fn count_status(&mut self, status: u16) {
        if (200..600).contains(&status) {
            self.status_classes[usize::from(status / 100 - 2)] += 1;
        }
    }

    pub fn record_success(&mut self, latency: Duration, payload_bytes: u64) {
        self.latencies.push(latency);
        self.completed += 1;
        self.payload_bytes += payload_bytes;
    }

    pub fn record_failure(&mut self, latency: Duration, message: String) {
        self.latencies.push(latency);
        self.failed += 1;
        *self.errors.entry(message).or_insert(0) += 1;
    }

    /// Adds another worker's records to these.
    pub fn merge(&mut self, other: WorkerStats) {
        self.latencies.extend(other.latencies);
        self.completed += other.completed;
        self.failed += other.failed;
        for (message, count) in other.errors {
            *self.errors.entry(message).or_insert(0) += count;
        }
        for (mine, theirs) in self.status_classes.iter_mut().zip(other.status_classes) {
            *mine += theirs;
        }
        self.payload_bytes += other.payload_bytes;
        self.pull_timings.extend(other.pull_timings);
        for (mine, theirs) in self.size_counts.iter_mut().zip(other.size_counts) {
            *mine += theirs;
        }
        self.pulls += other.pulls;
        self.pushes += other.pushes;
    }
}

/// p50, p75, p90, p99 of sorted durations, picked as zot's zb picks them (index n*q).
pub fn percentiles(sorted: &[Duration]) -> Option<[Duration; 4]> {
    if sorted.is_empty() {
        return None;
    }
    debug_assert!(sorted.is_sorted());
    let count = sorted.len();
    let at = |numerator: usize, denominator: usize| {
        sorted[(count * numerator / denominator).min(count - 1)]
    };
    Some([at(1, 2), at(3, 4), at(9, 10), at(99, 100)])
}

/// A test's outcome, ready to print.
#[derive(Debug)]
pub struct TestSummary {
    pub name: &'static str,
    pub requests: usize,
    pub stats: WorkerStats,
    pub seconds: f64,
    pub setup_seconds: f64,
    pub cleanup_seconds: f64,
    pub cleanup_errors: BTreeMap<String, usize>,
    pub client_cpu_seconds: f64,
    pub mixed_sizes: bool,
    pub mixed_kinds: bool,
    pub is_pull: bool,
}

impl TestSummary {
    pub fn requests_per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.requests as f64 / self.seconds
        } else {
            0.0
        }
    }

    pub fn megabytes_per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.stats.payload_bytes as f64 / 1e6 / self.seconds
        } else {
            0.0
        }
    }

    /// Sorted latencies of every operation.
    pub fn sorted_latencies(&self) -> Vec<Duration> {
        let mut latencies = self.stats.latencies.clone();
        latencies.sort_unstable();
        latencies
    }

    /// Sorted first-byte times of one pull step.
    pub fn sorted_timings(&self, step: fn(&PullTimings) -> Duration) -> Vec<Duration> {
        let mut times: Vec<Duration> = self.stats.pull_timings.iter().map(step).collect();
        times.sort_unstable();
        times
    }
}

/// User plus system CPU time of this process so far.
pub fn process_cpu_time() -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes one rusage into the pointer, which points to enough space.
    let status = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) };
    if status != 0 {
        return Duration::ZERO;
    }
    // SAFETY: getrusage returned 0, so it filled the structure (and it was zeroed before).
    let usage = unsafe { usage.assume_init() };
    let time = |value: libc::timeval| {
        Duration::from_secs(value.tv_sec.max(0) as u64)
            + Duration::from_micros(value.tv_usec.max(0) as u64)
    };
    time(usage.ru_utime) + time(usage.ru_stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_index_like_zot() {
        let sorted: Vec<Duration> = (0..100).map(Duration::from_millis).collect();
        let [p50, p75, p90, p99] = percentiles(&sorted).unwrap();
        assert_eq!(p50, Duration::from_millis(50));
        assert_eq!(p75, Duration::from_millis(75));
        assert_eq!(p90, Duration::from_millis(90));
        assert_eq!(p99, Duration::from_millis(99));
        assert_eq!(
            percentiles(&[Duration::from_millis(3)]).unwrap()[3],
            Duration::from_millis(3)
        );
        assert!(percentiles(&[]).is_none());
    }

    #[test]
    fn statuses_are_counted_by_class() {
        let mut stats = WorkerStats::default();
        for status in [200, 201, 202, 307, 404, 500, 100] {
            stats.count_status(status);
        }
        assert_eq!(stats.status_classes, [3, 1, 1, 1]);
    }
}
