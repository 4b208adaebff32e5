//! Secrets never appear in output, logs, errors, plan files or reports, at any verbosity.

use crate::harness::*;

fn assert_no_secret(what: &str, text: &str) {
    assert!(
        !text.contains(ACCESS_SECRET),
        "the secret leaked into {what}:\n{text}"
    );
    assert!(
        !text.contains(ACCESS_KEY),
        "the access key leaked into {what}:\n{text}"
    );
}

#[test]
fn no_secret_in_any_output_at_the_highest_verbosity() {
    let emu = Emulator::start(
        &state(&["8613300000007"], &["8613300000001"]),
        &["--fail-first", "2"],
    );
    let ws = Workspace::new();
    ws.target(
        "t.yaml",
        &emu,
        "safety: {max_unblock_ratio: 1}\nblocked:\n  - \"8613300000001\"\n  - \"8613300000003\"\n",
    );
    for format in ["text", "json", "markdown", "diff"] {
        let run = ws.run(&[
            "plan",
            "t.yaml",
            "-vv",
            "--format",
            format,
            "--out",
            "plan.json",
        ]);
        run.code(0);
        assert_no_secret(&format!("plan --format {format}"), &run.all());
    }
    assert_no_secret("the plan file", &read(&ws.path("plan.json")));
    let run = ws.run(&["apply", "t.yaml", "-vv", "--yes", "--report", "report.json"]);
    run.code(0);
    assert!(
        run.stderr.contains("getBlockUsers"),
        "-vv logs requests: {}",
        run.stderr
    );
    assert_no_secret("apply", &run.all());
    assert_no_secret("the report", &read(&ws.path("report.json")));
    assert!(
        emu.log().contains("getBlockUsers"),
        "the emulator logs at -vv: {}",
        emu.log()
    );
    assert_no_secret("the emulator's log", &emu.log());
}

/// Retries after garbled replies, and a provider nobody answers: the error
/// paths print endpoints and causes, never credentials.
#[test]
fn no_secret_on_error_paths() {
    let emu = Emulator::start(
        &state(&[], &["8613300000001"]),
        &["--malformed-rate", "0.5", "--seed", "5"],
    );
    let ws = Workspace::new();
    ws.target("t.yaml", &emu, "blocked:\n  - \"8613300000001\"\n");
    let run = ws.run(&["apply", "t.yaml", "-vv", "--yes"]);
    assert_no_secret("apply through malformed replies", &run.all());
    ws.write(
        "gone.yaml",
        "business_phone: \"8615800001795\"\nprovider: {kind: nxcloud, appkey: a, base_url: \"http://127.0.0.1:9\"}\n",
    );
    let run = ws.run(&["plan", "gone.yaml", "-vv"]);
    run.code(1);
    assert_no_secret("an unreachable provider", &run.all());
    let run = ws
        .command(&["plan", "t.yaml", "-vv"])
        .env("NXCLOUD_ACCESS_KEY", "AK-wrong-key-also-not-printed")
        .env("NXCLOUD_ACCESS_SECRET", ACCESS_SECRET)
        .run();
    run.code(1);
    assert!(run.all().contains("1005"), "{}", run.all());
    assert!(
        !run.all().contains("AK-wrong-key-also-not-printed"),
        "{}",
        run.all()
    );
    assert_no_secret("a rejected key", &run.all());
    assert_no_secret("the emulator's log", &emu.log());
}

#[test]
fn a_wrong_secret_is_named_without_showing_either_secret() {
    let emu = Emulator::start(&state(&[], &[]), &[]);
    let ws = Workspace::new();
    ws.target(
        "t.yaml",
        &emu,
        "safety: {max_unblock_ratio: 1}\nblocked: []\n",
    );
    let wrong = "wr0ng-secret-ALSO-NOT-TO-LEAK";
    let run = ws
        .command(&["plan", "t.yaml", "-vv"])
        .env("NXCLOUD_ACCESS_KEY", ACCESS_KEY)
        .env("NXCLOUD_ACCESS_SECRET", wrong)
        .run();
    run.code(1);
    assert!(run.all().contains("NXCLOUD_ACCESS_SECRET"), "{}", run.all());
    assert!(run.all().contains("1003"), "{}", run.all());
    assert!(!run.all().contains(wrong), "{}", run.all());
    assert_no_secret("a failed run", &run.all());
}

#[test]
fn the_emulator_does_not_print_secrets_either() {
    // A state file it refuses: the error names the file and the problem,
    // after the credentials were read, and shows neither.
    let ws = Workspace::new();
    ws.write(
        "s.json",
        "{\"phones\": {\"8615800001795\": {\"blocked\": [\"x\"]}}}",
    );
    let run = ws
        .command(&[
            "-vv",
            "emulator",
            "--listen",
            "127.0.0.1:0",
            "--state",
            "s.json",
        ])
        .env("NXCLOUD_ACCESS_KEY", ACCESS_KEY)
        .env("NXCLOUD_ACCESS_SECRET", ACCESS_SECRET)
        .run();
    run.code(1);
    assert!(run.stderr.contains("s.json"), "{}", run.stderr);
    assert_no_secret("emulator errors", &run.all());
}

#[test]
fn cloud_api_and_waha_credentials_come_from_the_environment() {
    let ws = Workspace::new();
    ws.write(
        "shop.yaml",
        "business_phone: \"8615800001796\"\nprovider: {kind: cloud-api, phone_number_id: \"1065\", base_url: \"http://127.0.0.1:9\"}\nblocked: []\n",
    );
    ws.write(
        "bot.yaml",
        "business_phone: \"8615800001797\"\nprovider: {kind: waha, base_url: \"http://127.0.0.1:9\"}\nblocked: []\n",
    );
    // The harness's run() would set them: this command has none.
    let run = ws.command(&["plan", "shop.yaml", "bot.yaml"]).run();
    run.code(1);
    let all = run.all();
    for expected in [
        "WHATSAPP_TOKEN is not set: cloud-api credentials come from the environment, never from the file",
        "WAHA_API_KEY is not set: waha credentials come from the environment, never from the file",
    ] {
        assert!(all.contains(expected), "{all}");
    }
}
