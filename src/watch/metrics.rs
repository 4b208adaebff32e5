//! `/metrics`: counters in Prometheus' text format, by hand (a handful of
//! counters does not need a metrics crate).

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

#[derive(Default)]
pub struct Metrics {
    deliveries_cloud_api: AtomicU64,
    deliveries_waha: AtomicU64,
    bad_signatures: AtomicU64,
    malformed: AtomicU64,
    unreadable: AtomicU64,
    ignored: AtomicU64,
    duplicates: AtomicU64,
    queue_full: AtomicU64,
    blocks: AtomicU64,
    failures: AtomicU64,
    reloads: AtomicU64,
    reload_failures: AtomicU64,
    /// Delivery to block request: count, sum and max in microseconds.
    delays: AtomicU64,
    delay_sum_us: AtomicU64,
    delay_max_us: AtomicU64,
}

impl Metrics {
    pub fn delivery(&self, provider: &str) {
        match provider {
            "waha" => &self.deliveries_waha,
            _ => &self.deliveries_cloud_api,
        }
        .fetch_add(1, Relaxed);
    }
    pub fn bad_signature(&self) {
        self.bad_signatures.fetch_add(1, Relaxed);
    }
    pub fn malformed(&self) {
        self.malformed.fetch_add(1, Relaxed);
    }
    pub fn unreadable(&self, n: u64) {
        self.unreadable.fetch_add(n, Relaxed);
    }
    pub fn ignored(&self) {
        self.ignored.fetch_add(1, Relaxed);
    }
    pub fn duplicate(&self) {
        self.duplicates.fetch_add(1, Relaxed);
    }
    pub fn queue_full(&self) {
        self.queue_full.fetch_add(1, Relaxed);
    }
    pub fn blocked(&self) {
        self.blocks.fetch_add(1, Relaxed);
    }
    pub fn failed(&self) {
        self.failures.fetch_add(1, Relaxed);
    }
    pub fn reloaded(&self) {
        self.reloads.fetch_add(1, Relaxed);
    }
    pub fn reload_failed(&self) {
        self.reload_failures.fetch_add(1, Relaxed);
    }
    /// A block request is about to be sent, `delay` after its delivery.
    pub fn block_started(&self, delay: Duration) {
        let us = u64::try_from(delay.as_micros()).unwrap_or(u64::MAX);
        self.delays.fetch_add(1, Relaxed);
        self.delay_sum_us.fetch_add(us, Relaxed);
        self.delay_max_us.fetch_max(us, Relaxed);
    }

    pub fn render(&self, queue_depth: usize, targets: usize) -> String {
        let get = |c: &AtomicU64| c.load(Relaxed);
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, lines: &[(&str, String)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, value) in lines {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        let seconds = |us: u64| format!("{:.6}", us as f64 / 1e6);
        metric(
            "blocklist_watch_deliveries_total",
            "counter",
            "Webhook deliveries received, by provider.",
            &[
                (
                    r#"{provider="cloud-api"}"#,
                    get(&self.deliveries_cloud_api).to_string(),
                ),
                (
                    r#"{provider="waha"}"#,
                    get(&self.deliveries_waha).to_string(),
                ),
            ],
        );
        for (name, help, value) in [
            (
                "blocklist_watch_bad_signatures_total",
                "Deliveries refused 401: missing or wrong signature.",
                &self.bad_signatures,
            ),
            (
                "blocklist_watch_malformed_total",
                "Signed deliveries refused 400: not a JSON object.",
                &self.malformed,
            ),
            (
                "blocklist_watch_unreadable_messages_total",
                "Messages skipped: no readable sender or id.",
                &self.unreadable,
            ),
            (
                "blocklist_watch_ignored_total",
                "Messages from senders the files do not want blocked there.",
                &self.ignored,
            ),
            (
                "blocklist_watch_duplicates_total",
                "Messages delivered again and not acted on twice.",
                &self.duplicates,
            ),
            (
                "blocklist_watch_queue_full_total",
                "Deliveries answered 503 because the queue was full.",
                &self.queue_full,
            ),
            ("blocklist_watch_blocks_total", "Blocks made.", &self.blocks),
            (
                "blocklist_watch_failures_total",
                "Blocks refused or failed, and records that failed.",
                &self.failures,
            ),
            (
                "blocklist_watch_reloads_total",
                "Successful reloads of the files.",
                &self.reloads,
            ),
            (
                "blocklist_watch_reload_failures_total",
                "Reloads that failed; the previous files were kept.",
                &self.reload_failures,
            ),
        ] {
            metric(name, "counter", help, &[("", get(value).to_string())]);
        }
        metric(
            "blocklist_watch_queue_depth",
            "gauge",
            "Blocks waiting for a worker.",
            &[("", queue_depth.to_string())],
        );
        metric(
            "blocklist_watch_targets",
            "gauge",
            "Targets watched.",
            &[("", targets.to_string())],
        );
        metric(
            "blocklist_watch_block_delay_seconds",
            "summary",
            "From a delivery's arrival to its block request.",
            &[
                ("_count", get(&self.delays).to_string()),
                ("_sum", seconds(get(&self.delay_sum_us))),
            ],
        );
        metric(
            "blocklist_watch_block_delay_max_seconds",
            "gauge",
            "The longest delay from a delivery to its block request.",
            &[("", seconds(get(&self.delay_max_us)))],
        );
        out
    }
}
