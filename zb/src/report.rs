//! The three output formats: zot's text on stdout, the JSON report (docs: /ZB_REPORT.md
//! contract with scripts/bench-peers), and zot's `ci-cd.json`.

use crate::stats::{TestSummary, percentiles};
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::time::Duration;

/// A duration the way Go prints one (`1.5ms`, `350µs`, `2.1s`), as zot's output shows it.
fn go_duration(duration: Duration) -> String {
    let nanoseconds = duration.as_nanos();
    if nanoseconds < 1_000 {
        format!("{nanoseconds}ns")
    } else if nanoseconds < 1_000_000 {
        format!("{}µs", nanoseconds as f64 / 1e3)
    } else if nanoseconds < 1_000_000_000 {
        format!("{}ms", nanoseconds as f64 / 1e6)
    } else {
        format!("{}s", nanoseconds as f64 / 1e9)
    }
}

/// One test in zot's text layout, plus the lines zot does not have (setup, cleanup, MB/s,
/// client CPU).
pub fn text(summary: &TestSummary) -> String {
    let mut out = String::new();
    let stats = &summary.stats;
    let _ = writeln!(out, "============");
    let _ = writeln!(out, "Test name:            {}", summary.name);
    let _ = writeln!(
        out,
        "Time taken for tests: {}",
        go_duration(Duration::from_secs_f64(summary.seconds))
    );
    let _ = writeln!(
        out,
        "Requests per second:  {:.3}",
        summary.requests_per_second()
    );
    let _ = writeln!(out, "Complete requests:    {}", stats.completed);
    let _ = writeln!(out, "Failed requests:      {}", stats.failed);
    for (message, count) in &stats.errors {
        let _ = writeln!(out, "Error {message} count: {count}");
    }
    let _ = writeln!(
        out,
        "MB per second:        {:.3}",
        summary.megabytes_per_second()
    );
    let _ = writeln!(
        out,
        "Setup time:           {}",
        go_duration(Duration::from_secs_f64(summary.setup_seconds))
    );
    let _ = writeln!(
        out,
        "Cleanup time:         {}",
        go_duration(Duration::from_secs_f64(summary.cleanup_seconds))
    );
    for (message, count) in &summary.cleanup_errors {
        let _ = writeln!(out, "Cleanup error {message} count: {count}");
    }
    let _ = writeln!(
        out,
        "zb CPU time:          {}",
        go_duration(Duration::from_secs_f64(summary.client_cpu_seconds))
    );
    let _ = writeln!(out);
    if summary.mixed_sizes {
        for (label, count) in ["1MB", "10MB", "100MB"].iter().zip(stats.size_counts) {
            let _ = writeln!(out, "{label}: {count}");
        }
        let _ = writeln!(out);
    }
    if summary.mixed_kinds {
        let _ = writeln!(out, "Pull: {}", stats.pulls);
        let _ = writeln!(out, "Push: {}", stats.pushes);
        let _ = writeln!(out);
    }
    for (label, count) in ["2xx", "3xx", "4xx", "5xx"]
        .iter()
        .zip(stats.status_classes)
    {
        if count > 0 {
            let _ = writeln!(out, "{label} responses: {count}");
        }
    }
    let _ = writeln!(out);
    let latencies = summary.sorted_latencies();
    if let (Some(percentile), Some(min), Some(max)) =
        (percentiles(&latencies), latencies.first(), latencies.last())
    {
        let _ = writeln!(out, "min: {}", go_duration(*min));
        let _ = writeln!(out, "max: {}", go_duration(*max));
        for (label, value) in ["p50", "p75", "p90", "p99"].iter().zip(percentile) {
            let _ = writeln!(out, "{label}: {}", go_duration(value));
        }
        let _ = writeln!(out);
    }
    let steps: [(&str, TimingStep); 4] = [
        ("Manifest HEAD", |timings| timings.manifest_head),
        ("Manifest GET", |timings| timings.manifest_get),
        ("Config", |timings| timings.config),
        ("Layer", |timings| timings.layer),
    ];
    for (label, step) in steps {
        if let Some(percentile) = percentiles(&summary.sorted_timings(step)) {
            for (name, value) in ["p50", "p75", "p90", "p99"].iter().zip(percentile) {
                let _ = writeln!(out, "{label} TTFB {name}: {}", go_duration(value));
            }
            let _ = writeln!(out);
        }
    }
    out
}

/// Picks one step's first-byte time out of a pull's timings.
type TimingStep = fn(&crate::suite::PullTimings) -> Duration;

fn milliseconds(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

/// One test in the JSON report.
pub fn json_test(summary: &TestSummary) -> Value {
    let stats = &summary.stats;
    let latencies = summary.sorted_latencies();
    let latency = match (percentiles(&latencies), latencies.first(), latencies.last()) {
        (Some([p50, p75, p90, p99]), Some(min), Some(max)) => json!({
            "min": milliseconds(*min), "max": milliseconds(*max),
            "p50": milliseconds(p50), "p75": milliseconds(p75),
            "p90": milliseconds(p90), "p99": milliseconds(p99),
        }),
        _ => Value::Null,
    };
    let ttfb = match percentiles(&summary.sorted_timings(|timings| timings.layer)) {
        Some([p50, p75, p90, p99]) if summary.is_pull => json!({
            "p50": milliseconds(p50), "p75": milliseconds(p75),
            "p90": milliseconds(p90), "p99": milliseconds(p99),
        }),
        _ => Value::Null,
    };
    let requests = summary.requests.max(1) as f64;
    json!({
        "name": summary.name,
        "requests": summary.requests,
        "completed": stats.completed,
        "failed": stats.failed,
        "seconds": summary.seconds,
        "setup_seconds": summary.setup_seconds,
        "cleanup_seconds": summary.cleanup_seconds,
        "cleanup_errors": summary.cleanup_errors,
        "requests_per_second": summary.requests_per_second(),
        "payload_bytes": stats.payload_bytes,
        "megabytes_per_second": summary.megabytes_per_second(),
        "errors": stats.errors,
        "status": {
            "2xx": stats.status_classes[0], "3xx": stats.status_classes[1],
            "4xx": stats.status_classes[2], "5xx": stats.status_classes[3],
        },
        "latency_ms": latency,
        "ttfb_ms": ttfb,
        "client_cpu_seconds": summary.client_cpu_seconds,
        "client_cpu_microseconds_per_request": summary.client_cpu_seconds * 1e6 / requests,
    })
}

/// zot's ci-cd.json: one entry per test, requests per second with a range of 3.
pub fn ci_cd(summaries: &[TestSummary]) -> Value {
    Value::Array(
        summaries
            .iter()
            .map(|summary| {
                json!({
                    "name": summary.name,
                    "unit": "requests per sec",
                    "value": summary.requests_per_second(),
                    "range": "3",
                })
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_like_go() {
        assert_eq!(go_duration(Duration::from_nanos(500)), "500ns");
        assert_eq!(go_duration(Duration::from_micros(352)), "352µs");
        assert_eq!(go_duration(Duration::from_micros(1500)), "1.5ms");
        assert_eq!(go_duration(Duration::from_millis(2500)), "2.5s");
    }
}
