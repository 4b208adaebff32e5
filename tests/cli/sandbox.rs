//! The README's quick start: the sandbox needs no account and no emulator.

use crate::harness::*;

#[test]
fn the_example_sandbox_plans_with_a_block_an_unblock_and_a_deferred_entry() {
    // Work on a copy: apply changes the sandbox state beside the file.
    let ws = Workspace::new();
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/sandbox");
    copy_dir(&example, &ws.path("sandbox"));

    let plan = ws.command(&["plan", "sandbox", "--format", "json"]).run();
    plan.code(0);
    let t = &plan.json()["targets"][0];
    assert_eq!(t["provider"], "sandbox");
    assert!(!t["block"].as_array().unwrap().is_empty(), "{t}");
    assert!(!t["unblock"].as_array().unwrap().is_empty(), "{t}");

    let apply = ws
        .command(&["apply", "sandbox", "--yes", "--format", "json"])
        .run();
    apply.code(0);
    let r = &apply.json()["targets"][0];
    assert_eq!(r["deferred"].as_array().unwrap().len(), 1, "{r}");
    assert!(!r["blocked"].as_array().unwrap().is_empty(), "{r}");
    assert!(!r["unblocked"].as_array().unwrap().is_empty(), "{r}");

    // Only the deferred user is left to do.
    let replan = ws.command(&["plan", "sandbox", "--format", "json"]).run();
    let t = &replan.json()["targets"][0];
    assert_eq!(t["block"].as_array().unwrap().len(), 1, "{t}");
    assert_eq!(t["unblock"], serde_json::json!([]));
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}

#[test]
fn targets_sharing_a_sandbox_share_one_state_however_their_paths_are_spelled() {
    let ws = Workspace::new();
    let phone =
        |p: &str| format!("business_phone: \"{p}\"\nprovider: {{kind: sandbox}}\nblocked: []\n");
    ws.write("sb/a.yaml", &phone("8615800001111"));
    ws.write("sb/b.yaml", &phone("8615800002222"));
    ws.command(&["apply", "sb/a.yaml", "./sb/b.yaml", "--yes"])
        .run()
        .code(0);
    // Both phones were registered in the one state file; with two emulators
    // on one file, the second write would have dropped the first phone.
    let state: serde_json::Value =
        serde_json::from_str(&read(&ws.path("sb/.blocklist/sandbox.json"))).unwrap();
    assert!(state["phones"]["8615800001111"].is_object(), "{state}");
    assert!(state["phones"]["8615800002222"].is_object(), "{state}");
}
