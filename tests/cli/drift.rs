//! `blocklist drift`: the scheduled check, against the emulator.

use serde_json::json;

use crate::harness::*;

#[test]
fn in_sync_exits_zero() {
    let emu = Emulator::start(&state(&["8613300000001"], &[]), &[]);
    let ws = Workspace::new();
    ws.target("t.yaml", &emu, "blocked:\n  - \"8613300000001\"\n");
    let run = ws.run(&["drift", "t.yaml"]);
    run.code(0);
    assert!(run.stdout.contains("No drift"), "{}", run.stdout);
}

/// A block the platform deferred is remembered in the state: plan and drift
/// show it apart, with its date and attempts; drift exits 0 for it alone
/// (2 with `--strict`); a second apply counts another attempt; once the
/// user has written, apply blocks them and the deferral is gone.
#[test]
fn a_deferred_block_is_remembered_until_the_user_writes() {
    // 02 has not messaged the business: apply defers it (131047).
    let body =
        "blocked:\n  - \"8613300000001\"\n  - user: \"+86 133 0000 0002\"\n    reason: spam\n";
    let emu = Emulator::start(&state(&[], &["8613300000001"]), &[]);
    let ws = Workspace::new();
    ws.target("t.yaml", &emu, body);
    ws.run(&["apply", "t.yaml", "--yes"]).code(0);
    assert_eq!(emu.blocked(), vec!["8613300000001"]);
    let today = &blocklist::date::now_rfc3339()[..10];

    let plan = ws.run(&["plan", "t.yaml", "--format", "json", "--detailed-exitcode"]);
    let t = &plan.json()["targets"][0];
    assert_eq!(t["deferred"][0]["user"], "8613300000002", "{t}");
    assert_eq!(t["deferred"][0]["attempts"], 1);
    assert_eq!(t["deferred"][0]["code"], 131047);
    assert!(
        t["deferred"][0]["since"]
            .as_str()
            .unwrap()
            .starts_with(today)
    );

    let run = ws.run(&["drift", "t.yaml", "--format", "json"]);
    run.code(0);
    let t = &run.json()["targets"][0];
    assert_eq!(t["missing"], json!([]), "{t}");
    assert_eq!(t["deferred"][0]["user"], "8613300000002", "{t}");
    assert_eq!(t["in_sync"], 1);
    ws.run(&["drift", "t.yaml", "--strict"]).code(2);
    let text = ws.run(&["drift", "t.yaml"]);
    text.code(0);
    assert!(
        text.stdout.contains("deferred 1 (not drift"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains(&format!("since {today}")),
        "{}",
        text.stdout
    );

    // A second apply tries again, and counts it.
    ws.run(&["apply", "t.yaml", "--yes"]).code(0);
    let plan = ws.run(&["plan", "t.yaml", "--format", "json"]);
    assert_eq!(plan.json()["targets"][0]["deferred"][0]["attempts"], 2);
    assert_eq!(
        emu.by_route("/api/wa/createBlockUsers") + emu.by_route("/api/wa/deleteBlockUsers"),
        2,
        "only the applies wrote; plan and drift only read"
    );

    // 02 writes to the business: the next apply blocks them, and the
    // deferral is forgotten.
    let emu = Emulator::start(
        &state(&["8613300000001"], &["8613300000001", "8613300000002"]),
        &[],
    );
    ws.target("t.yaml", &emu, body);
    ws.run(&["apply", "t.yaml", "--yes"]).code(0);
    assert_eq!(emu.blocked(), vec!["8613300000001", "8613300000002"]);
    let run = ws.run(&["drift", "t.yaml", "--format", "json", "--strict"]);
    run.code(0);
    let t = &run.json()["targets"][0];
    assert!(t.get("deferred").is_none_or(|d| d == &json!([])), "{t}");
    let deferrals = read(&ws.path(&format!(".blocklist/nxcloud-{PHONE}/deferrals.json")));
    assert!(!deferrals.contains("8613300000002"), "{deferrals}");

    // The journal says what each apply did, and `why` shows it.
    let why = ws.run(&["why", "8613300000002", "t.yaml", "--format", "json"]);
    why.code(0);
    let journal = &why.json()["journal"];
    let outcomes: Vec<&str> = journal
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["deferred", "deferred", "blocked"], "{journal}");

    // Nothing secret reached the state: not the credentials the runs had,
    // not the platform's messages.
    let mut stored = String::new();
    let mut dirs = vec![ws.path(".blocklist")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            match path.is_dir() {
                true => dirs.push(path),
                false => stored.push_str(&read(&path)),
            }
        }
    }
    assert!(stored.contains("8613300000002"), "{stored}");
    for secret in [ACCESS_KEY, ACCESS_SECRET, WHATSAPP_TOKEN, WAHA_API_KEY] {
        assert!(!stored.contains(secret), "{secret} in the state: {stored}");
    }
}

#[test]
fn a_block_made_outside_the_files_is_unexpected() {
    let emu = Emulator::start(&state(&["8613300000001", "8613300000009"], &[]), &[]);
    let ws = Workspace::new();
    ws.target("t.yaml", &emu, "blocked:\n  - \"8613300000001\"\n");
    let run = ws.run(&["drift", "t.yaml", "--format", "json"]);
    run.code(2);
    let doc = run.json();
    assert_eq!(
        doc["targets"][0]["unexpected"],
        json!([{"user": "8613300000009", "reason": "not_in_file"}])
    );
    assert_eq!(doc["targets"][0]["missing"], json!([]));
    // No safety guard applies to a report: one of two live users would be
    // past the default unblock ratio, and drift still just says so.
    assert_eq!(doc["summary"]["drifted"], 1);
}

#[test]
fn json_document_shape() {
    let emu = Emulator::start(&state(&["8613300000009"], &[]), &[]);
    let ws = Workspace::new();
    ws.target("t.yaml", &emu, "blocked:\n  - \"8613300000001\"\n");
    let run = ws.run(&["drift", "t.yaml", "--format", "json"]);
    run.code(2);
    let doc = run.json();
    assert_eq!(doc["format_version"], 1);
    assert_eq!(doc["tool_version"], env!("CARGO_PKG_VERSION"));
    let checked_at = doc["checked_at"].as_str().unwrap();
    assert!(
        checked_at.len() == 20 && checked_at.ends_with('Z'),
        "{checked_at}"
    );
    assert_eq!(
        doc["targets"],
        json!([{
            "file": "t.yaml",
            "business_phone": PHONE,
            "provider": "nxcloud",
            "missing": ["8613300000001"],
            "unexpected": [{"user": "8613300000009", "reason": "not_in_file"}],
            "in_sync": 0
        }])
    );
    assert_eq!(
        doc["summary"],
        json!({"targets": 1, "drifted": 1, "missing": 1, "unexpected": 1, "in_sync": 0})
    );
    assert!(doc.get("errors").is_none(), "no errors key without errors");
}

#[test]
fn markdown_is_an_issue_body_and_goes_to_the_step_summary() {
    let emu = Emulator::start(&state(&["8613300000009"], &[]), &[]);
    let ws = Workspace::new();
    ws.target("t.yaml", &emu, "blocked:\n  - \"8613300000001\"\n");
    let summary = ws.path("summary.md");
    let run = ws
        .command(&["drift", "t.yaml", "--format", "markdown"])
        .env("NXCLOUD_ACCESS_KEY", ACCESS_KEY)
        .env("NXCLOUD_ACCESS_SECRET", ACCESS_SECRET)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", summary.to_str().unwrap())
        .run();
    run.code(2);
    let md = &run.stdout;
    assert!(
        md.starts_with("## blocklist drift: live block lists differ from the files\n\nChecked at "),
        "{md}"
    );
    assert!(
        md.contains("| `t.yaml` | 8615800001795 | nxcloud | 1 | 1 | 0 | ⚠️ drifted |"),
        "{md}"
    );
    assert!(
        md.contains("<details><summary>1 missing, 1 unexpected, 0 in sync</summary>"),
        "{md}"
    );
    assert!(md.contains("- `8613300000001`\n"), "{md}");
    assert!(md.contains("- `8613300000009` not in file\n"), "{md}");
    assert_eq!(
        &read(&summary),
        &format!("{md}\n"),
        "the same markdown, appended"
    );
}

#[test]
fn an_unreachable_target_is_an_error_and_the_other_is_still_reported() {
    let emu = Emulator::start(&state(&["8613300000001"], &[]), &[]);
    let ws = Workspace::new();
    // Drifted too, so the exit code shows that an error beats drift.
    ws.target(
        "dir/a.yaml",
        &emu,
        "blocked:\n  - \"8613300000001\"\n  - \"8613300000002\"\n",
    );
    // Port 9 (discard) on loopback: nothing listens, connections are refused.
    ws.write(
        "dir/b.yaml",
        &format!(
            "business_phone: \"8615800009999\"\nprovider: {{kind: nxcloud, appkey: {APPKEY}, base_url: \"http://127.0.0.1:9\"}}\n"
        ),
    );
    let run = ws.run(&["drift", "dir", "--format", "json"]);
    run.code(1);
    let doc = run.json();
    assert_eq!(doc["targets"][0]["file"], "dir/a.yaml");
    assert_eq!(doc["targets"][0]["missing"], json!(["8613300000002"]));
    assert_eq!(doc["targets"][0]["in_sync"], 1);
    assert_eq!(doc["summary"]["targets"], 1);
    assert_eq!(doc["errors"][0]["file"], "dir/b.yaml");
    let message = doc["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("/api/wa/getBlockUsers"), "{message}");
}

#[test]
fn bad_files_are_an_error_and_nothing_is_sent() {
    let emu = Emulator::start(&state(&[], &[]), &[]);
    let ws = Workspace::new();
    ws.target("t.yaml", &emu, "bloked:\n  - \"8613300000001\"\n");
    let run = ws.run(&["drift", "t.yaml"]);
    run.code(1);
    assert!(run.stderr.contains("bloked"), "{}", run.stderr);
    assert_eq!(emu.requests(), 0);
}
