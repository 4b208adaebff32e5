//! `--shard K/N`: N jobs given 1/N … N/N cover every target exactly once.

use std::collections::BTreeSet;

use crate::harness::*;

/// Twelve targets, each its own business phone on one emulator.
fn fleet(emu: &Emulator) -> (Workspace, BTreeSet<String>) {
    let ws = Workspace::new();
    let mut phones = BTreeSet::new();
    for i in 0..12 {
        let phone = format!("86158000{:05}", 10 + i * 37);
        ws.write(
            &format!("fleet/t{i:02}.yaml"),
            &format!(
                "business_phone: \"+{phone}\"\nprovider:\n  kind: nxcloud\n  appkey: {APPKEY}\n  base_url: {}\nmode: additive\nblocked:\n  - \"8613300000001\"\n",
                emu.base_url()
            ),
        );
        phones.insert(phone);
    }
    (ws, phones)
}

fn phones_of(doc: &serde_json::Value) -> Vec<String> {
    doc["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["business_phone"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_shards_of_plan_and_drift_partition_the_targets() {
    let emu = Emulator::start(
        &serde_json::json!({"phones": {}}),
        &["--auto-create-phones"],
    );
    let (ws, phones) = fleet(&emu);
    for command in ["plan", "drift"] {
        let mut seen = BTreeSet::new();
        let mut total = 0;
        for k in 1..=3 {
            let shard = format!("{k}/3");
            let run = ws.run(&[command, "fleet", "--shard", &shard, "--format", "json"]);
            let got = phones_of(&run.json());
            total += got.len();
            seen.extend(got);
        }
        assert_eq!(total, phones.len(), "{command}: a target in two shards");
        assert_eq!(seen, phones, "{command}: a target in no shard");
    }
    // One shard of one is everything.
    let all = ws.run(&["plan", "fleet", "--shard", "1/1", "--format", "json"]);
    assert_eq!(phones_of(&all.json()).len(), phones.len());
}

#[test]
fn apply_touches_only_its_shard() {
    let emu = Emulator::start(
        &serde_json::json!({"phones": {}}),
        &["--auto-create-phones"],
    );
    let (ws, _) = fleet(&emu);
    let plan = ws.run(&["plan", "fleet", "--shard", "2/3", "--format", "json"]);
    let mine: BTreeSet<String> = phones_of(&plan.json()).into_iter().collect();
    let apply = ws.run(&[
        "apply", "fleet", "--shard", "2/3", "--yes", "--format", "json",
    ]);
    let applied: BTreeSet<String> = phones_of(&apply.json()).into_iter().collect();
    assert_eq!(applied, mine);
    assert!(!mine.is_empty() && mine.len() < 12, "{mine:?}");
}

#[test]
fn a_malformed_shard_is_refused_before_anything_runs() {
    let ws = Workspace::new();
    for bad in ["0/3", "4/3", "3", "x/y"] {
        let run = ws.run(&["plan", "--shard", bad]);
        run.code(1);
        assert!(run.stderr.contains("K/N"), "{bad}: {}", run.stderr);
    }
}

/// A matrix job applies the plan its own shard reviewed: same shard, same
/// targets, so the reviewed plan covers every change.
#[test]
fn a_shard_applies_its_own_reviewed_plan() {
    let emu = Emulator::start(
        &serde_json::json!({"phones": {}}),
        &["--auto-create-phones"],
    );
    let (ws, _) = fleet(&emu);
    ws.run(&["plan", "fleet", "--shard", "3/3", "--out", "plan.json"])
        .code(0);
    let apply = ws.run(&[
        "apply",
        "fleet",
        "--shard",
        "3/3",
        "--plan",
        "plan.json",
        "--format",
        "json",
    ]);
    apply.code(0);
    let planned = phones_of(&serde_json::from_str(&read(&ws.path("plan.json"))).unwrap());
    assert_eq!(phones_of(&apply.json()), planned);
}
