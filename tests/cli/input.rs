//! Bad input: a clear message naming file, line and value; exit 1; nothing sent.

use crate::corpus;
use crate::harness::*;

/// Every file in the broken corpus fails `validate` and `plan` with exit 1,
/// names its file, line and column, and sends nothing to the emulator.
#[test]
fn broken_corpus_names_the_place_and_sends_nothing() {
    let emu = Emulator::start(&state(&[], &[]), &[]);
    for case in corpus::cases() {
        let name = case.name.as_str();
        let ws = corpus_workspace(&case);
        // The same file aimed at the emulator, so a request sent by mistake
        // would be counted (the longer URL shifts columns, hence a copy).
        let aimed = format!("aimed-{name}");
        ws.write(
            &aimed,
            &case.text.replace("http://127.0.0.1:9", &emu.base_url()),
        );
        for command in ["validate", "plan"] {
            let run = ws.run(&[command, name]);
            run.code(1);
            let wanted = format!("{name}:{}", case.place());
            assert!(
                run.all().contains(&wanted),
                "{command} {name}: wanted {wanted:?} in\n{}",
                run.all()
            );
            assert!(
                run.all().contains(&case.message),
                "{command} {name}: wanted {:?} in\n{}",
                case.message,
                run.all()
            );
        }
        for command in ["plan", "apply"] {
            ws.run(&[command, &aimed, "--yes"][..if command == "plan" { 2 } else { 3 }])
                .code(1);
        }
    }
    assert_eq!(
        emu.requests(),
        0,
        "nothing may be sent when the input is invalid"
    );
}

#[test]
fn validate_reports_every_error_of_every_file() {
    let ws = Workspace::new();
    let header = "business_phone: \"8615800001795\"\nprovider: {kind: nxcloud, appkey: a}\n";
    ws.write(
        "d/a.yaml",
        &format!("{header}blocked:\n  - \"123\"\n  - \"86133xx\"\n"),
    );
    ws.write(
        "d/b.yaml",
        "business_phone: \"8615800001796\"\nprovider: {kind: nxcloud, appkey: a}\nbloked: []\n",
    );
    let run = ws.run(&["validate", "d", "--format", "json"]);
    run.code(1);
    let doc = run.json();
    let errors = doc["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 3, "{doc}");
    assert!(
        errors
            .iter()
            .any(|e| e["line"] == 4 && e["message"].as_str().unwrap().contains("\"123\""))
    );
    assert!(
        errors
            .iter()
            .any(|e| e["line"] == 5 && e["message"].as_str().unwrap().contains("\"86133xx\""))
    );
    assert!(
        errors
            .iter()
            .any(|e| e["file"].as_str().unwrap().ends_with("b.yaml") && e["line"] == 3)
    );
}

#[test]
fn github_actions_gets_annotations() {
    let ws = Workspace::new();
    ws.write("a.yaml", "business_phone: \"8615800001795\"\nprovider: {kind: nxcloud, appkey: a}\nblocked: [\"12x45678\"]\n");
    let run = ws
        .command(&["validate", "a.yaml"])
        .env("GITHUB_ACTIONS", "true")
        .run();
    run.code(1);
    assert!(
        run.stdout.contains("::error file=a.yaml,line=3,col="),
        "{}",
        run.stdout
    );
}

#[test]
fn a_valid_file_validates_offline() {
    let ws = Workspace::new();
    // Points at a port nobody listens on: validate must not try it.
    ws.write("a.yaml", "business_phone: \"8615800001795\"\nprovider: {kind: nxcloud, appkey: a, base_url: \"http://127.0.0.1:9\"}\nblocked: [\"8613300000001\"]\n");
    let run = ws.command(&["validate", "a.yaml"]).run();
    run.code(0);
    assert!(run.stdout.contains("1 target(s) valid"), "{}", run.stdout);
}

#[test]
fn a_missing_credential_names_its_variable_and_sends_nothing() {
    let emu = Emulator::start(&state(&[], &[]), &[]);
    let ws = Workspace::new();
    ws.target("t.yaml", &emu, "blocked: [\"8613300000001\"]\n");
    let run = ws
        .command(&["plan", "t.yaml"])
        .env("NXCLOUD_ACCESS_KEY", ACCESS_KEY)
        .run();
    run.code(1);
    assert!(
        run.all().contains("NXCLOUD_ACCESS_SECRET"),
        "{}",
        run.stderr
    );
    let run = ws
        .command(&["apply", "t.yaml", "--yes"])
        .env("NXCLOUD_ACCESS_SECRET", ACCESS_SECRET)
        .run();
    run.code(1);
    assert!(run.all().contains("NXCLOUD_ACCESS_KEY"), "{}", run.all());
    assert_eq!(emu.requests(), 0);
}

#[test]
fn an_unreachable_provider_is_an_error_naming_the_endpoint() {
    let ws = Workspace::new();
    ws.write("t.yaml", "business_phone: \"8615800001795\"\nprovider: {kind: nxcloud, appkey: a, base_url: \"http://127.0.0.1:9\"}\n");
    let run = ws.run(&["plan", "t.yaml"]);
    run.code(1);
    assert!(run.all().contains("/api/wa/getBlockUsers"), "{}", run.all());
}

/// `shop.YAML` and `shop.Yml` in a directory are targets like `shop.yaml`:
/// skipping them left a phone never applied or drift-checked.
#[test]
fn extensions_in_any_case_are_targets() {
    let emu = Emulator::start(&state(&["8613300000007"], &[]), &[]);
    for name in ["shop.YAML", "shop.Yml"] {
        let ws = Workspace::new();
        ws.target(
            &format!("bl/{name}"),
            &emu,
            "mode: additive\nblocked:\n  - \"8613300000001\"\n",
        );
        let run = ws.run(&["validate", "bl"]);
        run.code(0);
        assert!(run.stdout.contains("1 target(s) valid"), "{}", run.all());
        let run = ws.run(&["plan", "bl", "--format", "json"]);
        run.code(0);
        let plan = run.json();
        assert_eq!(plan["targets"][0]["file"], format!("bl/{name}"));
        assert_eq!(plan["targets"][0]["block"][0], "8613300000001");
    }
}

/// A file name that is not UTF-8 was skipped without a word; it is an error
/// naming the file (as far as it can be shown), and nothing is sent.
#[cfg(unix)]
#[test]
fn a_file_name_that_is_not_utf8_is_an_error_and_nothing_is_sent() {
    use std::os::unix::ffi::OsStrExt;
    let emu = Emulator::start(&state(&["8613300000007"], &[]), &[]);
    let ws = Workspace::new();
    let good = ws.target(
        "bl/good.yaml",
        &emu,
        "mode: additive\nblocked:\n  - \"8613300000001\"\n",
    );
    let bad = ws
        .path("bl")
        .join(std::ffi::OsStr::from_bytes(b"other-\xff.yaml"));
    if std::fs::write(&bad, read(&good)).is_err() {
        return; // a file system that only takes UTF-8 names cannot have one
    }
    let shown = "bl/other-\u{fffd}.yaml: the file name is not valid UTF-8";
    for args in [
        &["validate", "bl"][..],
        &["plan", "bl"],
        &["apply", "bl", "--yes"],
        &["drift", "bl"],
    ] {
        let run = ws.run(args);
        run.code(1);
        assert!(run.all().contains(shown), "{args:?}: {}", run.all());
    }
    assert_eq!(emu.requests(), 0, "nothing is sent");
}

/// A desired-state file for the test phone on `emulator` listing `users`
/// (one `- "…"` line each), written without building it in memory twice.
fn write_list(
    ws: &Workspace,
    name: &str,
    emulator: &Emulator,
    users: impl Iterator<Item = String>,
) {
    use std::io::Write as _;
    let path = ws.target(name, emulator, "mode: additive\nblocked:\n");
    let file = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    let mut file = std::io::BufWriter::new(file);
    for user in users {
        writeln!(file, "  - \"{user}\"").unwrap();
    }
    file.flush().unwrap();
}

/// Past the 64 000 a block list can hold, a desired set can never be
/// applied: a validation error naming the count, and nothing is sent. A file
/// of a million entries is refused before it is parsed.
#[test]
fn a_desired_set_above_capacity_is_an_error_naming_the_count() {
    let emu = Emulator::start(&state(&[], &[]), &[]);
    let ws = Workspace::new();
    write_list(
        &ws,
        "over.yaml",
        &emu,
        (0..64_001).map(|i| format!("8614{i:09}")),
    );
    let run = ws.run(&["validate", "over.yaml"]);
    run.code(1);
    assert!(
        run.stdout.contains(
            "over.yaml:7:1: the desired set lists 64001 users (this file and its includes, each user once, expired entries included), more than the 64000 a block list can hold"
        ),
        "{}",
        run.all()
    );
    ws.run(&["plan", "over.yaml"]).code(1);

    write_list(
        &ws,
        "huge.yaml",
        &emu,
        (0..1_000_000).map(|i| format!("8614{i:09}")),
    );
    let run = ws.run(&["validate", "huge.yaml"]);
    run.code(1);
    assert!(
        run.stdout.contains(
            "huge.yaml: the file holds 1000000 list entries (\"- \" lines), far more than the 64000 users a block list can hold; refused without parsing it"
        ),
        "{}",
        run.all()
    );
    ws.run(&["apply", "huge.yaml", "--yes"]).code(1);
    assert_eq!(emu.requests(), 0, "nothing is sent");
}

/// A number repeated a thousand times: twenty warnings, then one line that
/// counts the rest, and the run goes on.
#[test]
fn duplicate_warnings_are_summarised_past_twenty_per_file() {
    let emu = Emulator::start(&state(&[], &[]), &[]);
    let ws = Workspace::new();
    let users = std::iter::once("8613300000002".to_string())
        .chain(std::iter::repeat_n("8613300000001".to_string(), 1000));
    write_list(&ws, "dups.yaml", &emu, users);
    let run = ws.run(&["validate", "dups.yaml"]);
    run.code(0);
    assert_eq!(
        run.stdout.matches("warning: ").count(),
        21,
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(
            "warning: dups.yaml:30:5: … and 979 more duplicates in dups.yaml (the first 20 are shown)"
        ),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("1 target(s) valid, 21 warning(s)."),
        "{}",
        run.stdout
    );
    let run = ws.run(&["plan", "dups.yaml", "--format", "json"]);
    run.code(0);
    assert_eq!(
        run.stderr.matches("warning: ").count(),
        21,
        "{}",
        run.stderr
    );
    assert_eq!(run.json()["targets"][0]["desired_count"], 2);
}

/// The line under an error is file content: shown behind its gutter, with
/// control characters escaped, so no line of it can be read as a GitHub
/// workflow command or reach a terminal as an escape sequence.
#[test]
fn the_excerpt_of_a_hostile_line_cannot_start_a_workflow_command() {
    let ws = Workspace::new();
    ws.write(
        "a.yaml",
        "business_phone: \"8615800001795\"\nprovider: {kind: nxcloud, appkey: a}\nblocked: [\"8613300000001\",\n::set-output name=approved::true \x1b[2J ##[error]y, \"1\"]\n",
    );
    for args in [
        &["validate", "a.yaml"][..],
        &["validate", "a.yaml", "-q"],
        &["plan", "a.yaml"],
    ] {
        let run = ws.command(args).env("GITHUB_ACTIONS", "true").run();
        run.code(1);
        let all = run.all();
        assert!(all.contains("a.yaml:4:1: "), "{args:?}: {all}");
        assert!(all.contains("\n    4 | ::set-output"), "{args:?}: {all}");
        assert!(!all.contains('\x1b'), "{args:?}: {all}");
        for line in all.split(['\n', '\r']) {
            let own = line.starts_with("::error file=") || line.starts_with("::warning file=");
            assert!(
                !line.trim_start().starts_with("::") || own,
                "{args:?}: {line:?}"
            );
            assert!(!line.contains("##["), "{args:?}: {line:?}");
        }
    }
}
