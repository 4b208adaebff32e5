//! Benchmark: WAHA, whose live list is blocklist's own ledger, against the
//! emulator over loopback, with the release binary.
//!
//!     cargo run --release --example bench_waha
//!
//! - `plan` against a 20 000-entry ledger (10% churn): whole-process wall
//!   time, bound 0.3 s.
//! - `apply` of 1 000 new contacts at 25 ms emulator latency with ledgers of
//!   0, 20 000 and 64 000 entries: whole-process wall time, bound 1.3 × the
//!   latency bound, which is ceil(1 000 / IN_FLIGHT) × 25 ms (WAHA takes one
//!   contact per request, IN_FLIGHT at a time).
//!
//! Each figure is the median of `BENCH_RUNS` runs (default 3), printed beside
//! its bound. `BENCH_WAHA_CONTACTS` changes the 1 000 (the bound follows).
//! A benchmark, not a test: these machines are shared and noisy, so nothing
//! here asserts a time.

mod bench_common;

use std::path::Path;
use std::time::Duration;

use bench_common::{Emulator, Run, emulator_binary, median, release_binary, run, runs, verdict};
use blocklist::provider::waha::IN_FLIGHT;

const PHONE: &str = "8615800001797";
const LATENCY_MS: u64 = 25;

fn user(i: u32) -> String {
    format!("86133{i:08}")
}

fn main() {
    let bin = release_binary();
    let dir = tempfile::tempdir().expect("temp dir");
    let n = runs(3);
    let contacts: u32 = std::env::var("BENCH_WAHA_CONTACTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);

    // plan: ledger 0..20 000; desired 2 000..22 000.
    let ledger: Vec<String> = (0..20_000).map(user).collect();
    let desired: Vec<String> = (2_000..22_000).map(user).collect();
    let mut plans = Vec::new();
    for _ in 0..n {
        let setup = Setup::new(dir.path(), &ledger, &desired, "exclusive", 0);
        let file = setup.file.to_str().unwrap();
        plans.push(run(&bin, &["plan", file, "--format", "json", "-q"]));
    }
    let plan = median(&plans, |r| r.wall);
    println!(
        "plan   ledger 20000  exit {}  wall {:7.3} s  (bound 0.300 s, {})  cpu {:.3} s  peak RSS {:.1} MiB",
        plan.code,
        secs(plan.wall),
        verdict(plan.wall.as_secs_f64() <= 0.3),
        secs(plan.cpu),
        plan.peak_rss_kib as f64 / 1024.0
    );

    // apply: `contacts` new users, additive, on top of ledgers of each size.
    let bound = (contacts as u64).div_ceil(IN_FLIGHT as u64) * LATENCY_MS;
    let bound = Duration::from_millis(bound * 13 / 10);
    let fresh: Vec<String> = (100_000..100_000 + contacts).map(user).collect();
    for size in [0u32, 20_000, 64_000] {
        let ledger: Vec<String> = (0..size).map(user).collect();
        let mut applies: Vec<(Run, u64)> = Vec::new();
        for _ in 0..n {
            let setup = Setup::new(dir.path(), &ledger, &fresh, "additive", LATENCY_MS);
            let file = setup.file.to_str().unwrap();
            // --force: a 64 000 ledger plus new blocks passes the capacity guard.
            let args = ["apply", file, "--yes", "--force", "--format", "json", "-q"];
            let result = run(&bin, &args);
            applies.push((result, setup.emulator.requests()));
        }
        let (apply, requests) = median(&applies, |(r, _)| r.wall);
        println!(
            "apply  ledger {size:5}  exit {}  wall {:7.3} s  (bound {:.3} s = 1.3 x ceil({contacts}/{IN_FLIGHT}) x {LATENCY_MS} ms, {})  cpu {:.3} s  requests {requests} (minimum {contacts})",
            apply.code,
            secs(apply.wall),
            secs(bound),
            verdict(apply.wall <= bound),
            secs(apply.cpu),
        );
    }
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// A fresh emulator, ledger and desired file for one run.
struct Setup {
    emulator: Emulator,
    file: std::path::PathBuf,
}

impl Setup {
    fn new(dir: &Path, ledger: &[String], desired: &[String], mode: &str, latency: u64) -> Setup {
        // The session already holds what the ledger says was blocked.
        let state = serde_json::json!({"waha": {"default": {"blocked": ledger}}});
        let state_path = dir.join("state.json");
        std::fs::write(&state_path, serde_json::to_vec(&state).unwrap()).unwrap();
        let ledger_path = dir.join("target.ledger.json");
        let record = serde_json::json!({
            "format_version": 2, "business_phone": PHONE, "session": "default",
            "blocked": ledger, "pending_block": [], "pending_unblock": []});
        std::fs::write(&ledger_path, serde_json::to_vec_pretty(&record).unwrap()).unwrap();
        let latency = latency.to_string();
        let emulator =
            Emulator::start(&emulator_binary(), &state_path, &["--latency-ms", &latency]);
        let file = dir.join("target.yaml");
        let mut yaml = format!(
            "business_phone: \"{PHONE}\"\nmode: {mode}\nprovider: {{kind: waha, base_url: \"http://{}\", ledger: \"{}\"}}\nsafety: {{max_unblocks: 100000, max_unblock_ratio: 1}}\nblocked:\n",
            emulator.addr,
            ledger_path.display()
        );
        for u in desired {
            yaml.push_str(&format!("  - \"{u}\"\n"));
        }
        std::fs::write(&file, yaml).unwrap();
        Setup { emulator, file }
    }
}
