//! Benchmark: a fleet of 20 NxCloud targets of 5 000 entries each, 10%
//! churn, applied at once (`apply --yes --concurrency 20`) against the
//! emulator at 25 ms latency, with the release binary.
//!
//!     cargo run --release --example bench_fleet
//!
//! Prints the whole-process CPU time (user + system, from wait4), bound
//! 0.35 s, and wall time, bound 4 × the latency bound. The latency bound is
//! one target's requests one after another: 5 list pages, one block and one
//! unblock request, 7 × 25 ms = 0.175 s (targets run side by side).
//! Each figure is the median of `BENCH_RUNS` runs (default 5).
//! A benchmark, not a test: these machines are shared and noisy, so nothing
//! here asserts a time.

mod bench_common;

use std::time::Duration;

use bench_common::{Emulator, emulator_binary, median, release_binary, run, runs, verdict};

const TARGETS: u32 = 20;
const ENTRIES: u32 = 5_000;
const CHURN: u32 = ENTRIES / 10;
const LATENCY_MS: u64 = 25;

fn main() {
    let bin = release_binary();
    let dir = tempfile::tempdir().expect("temp dir");
    let phone = |t: u32| format!("86158{t:08}");
    let user = |t: u32, i: u32| format!("861{t:02}{i:08}");

    // Target t: live users 0..5 000, desired 500..5 500.
    let mut phones = serde_json::Map::new();
    for t in 0..TARGETS {
        let live: Vec<String> = (0..ENTRIES).map(|i| user(t, i)).collect();
        let desired: Vec<String> = (CHURN..ENTRIES + CHURN).map(|i| user(t, i)).collect();
        phones.insert(
            phone(t),
            serde_json::json!({"appkey": "bench", "blocked": live, "recent_contacts": desired}),
        );
    }
    let state = serde_json::to_vec(&serde_json::json!({ "phones": phones })).unwrap();
    let state_path = dir.path().join("state.json");
    let targets = dir.path().join("targets");
    std::fs::create_dir_all(&targets).unwrap();

    let n = runs(5);
    let mut results = Vec::new();
    let mut requests = Vec::new();
    for _ in 0..n {
        std::fs::write(&state_path, &state).unwrap();
        let latency = LATENCY_MS.to_string();
        let emulator =
            Emulator::start(&emulator_binary(), &state_path, &["--latency-ms", &latency]);
        for t in 0..TARGETS {
            let mut yaml = format!(
                "business_phone: \"{}\"\nprovider: {{kind: nxcloud, appkey: bench, base_url: \"http://{}\"}}\nsafety: {{max_unblocks: 100000, max_unblock_ratio: 1}}\nblocked:\n",
                phone(t),
                emulator.addr
            );
            for i in CHURN..ENTRIES + CHURN {
                yaml.push_str(&format!("  - \"{}\"\n", user(t, i)));
            }
            std::fs::write(targets.join(format!("t{t:02}.yaml")), yaml).unwrap();
        }
        let dir = targets.to_str().unwrap();
        let args = [
            "apply",
            dir,
            "--yes",
            "--concurrency",
            "20",
            "--format",
            "json",
            "-q",
        ];
        results.push(run(&bin, &args));
        requests.push(emulator.requests());
    }
    let per_target = ENTRIES.div_ceil(1000) as u64 + 2 * CHURN.div_ceil(1000) as u64;
    let latency_bound = Duration::from_millis(per_target * LATENCY_MS);
    let cpu = median(&results, |r| r.cpu);
    let wall = median(&results, |r| r.wall);
    requests.sort_unstable();
    println!(
        "fleet {TARGETS} x {ENTRIES}  exit {}  cpu {:.3} s (bound 0.350 s, {})  wall {:.3} s (bound {:.3} s = 4 x {per_target} x {LATENCY_MS} ms, {})  peak RSS {:.1} MiB  requests {} (minimum {})",
        wall.code,
        cpu.cpu.as_secs_f64(),
        verdict(cpu.cpu.as_secs_f64() <= 0.35),
        wall.wall.as_secs_f64(),
        4.0 * latency_bound.as_secs_f64(),
        verdict(wall.wall <= 4 * latency_bound),
        median(&results, |r| r.peak_rss_kib).peak_rss_kib as f64 / 1024.0,
        requests[requests.len() / 2],
        per_target * TARGETS as u64,
    );
    let all: Vec<String> = results
        .iter()
        .map(|r| format!("{:.3}/{:.3}", r.cpu.as_secs_f64(), r.wall.as_secs_f64()))
        .collect();
    println!("  each run cpu/wall s: {}", all.join("  "));
}
