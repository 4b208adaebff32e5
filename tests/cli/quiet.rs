//! `-q`: on success nothing is printed but what `--format json` asks for;
//! errors and warnings still go to stderr. Every command that reports.

use crate::harness::*;

/// One user to block (01, who may be blocked) and one to unblock (07).
const FILE: &str = "safety: {max_unblock_ratio: 1}\nblocked:\n  - \"8613300000001\"\n";

fn silent(run: &Run, what: &str) {
    assert!(
        run.stdout.is_empty() && run.stderr.is_empty(),
        "{what} printed with -q:\n--- stdout\n{}\n--- stderr\n{}",
        run.stdout,
        run.stderr
    );
}

#[test]
fn quiet_success_prints_nothing_but_json() {
    let emu = Emulator::start(&state(&["8613300000007"], &["8613300000001"]), &[]);
    let ws = Workspace::new();
    ws.target("t.yaml", &emu, FILE);
    for args in [
        &["validate", "t.yaml", "-q"][..],
        &["validate", "t.yaml", "-q", "--format", "markdown"],
        &["plan", "t.yaml", "-q"],
        &[
            "plan", "t.yaml", "-q", "--format", "markdown", "--out", "p.json",
        ],
        &["plan", "t.yaml", "-q", "--format", "diff"],
        &["drift", "t.yaml", "-q", "--format", "markdown"],
    ] {
        let run = ws.run(args);
        assert!(matches!(run.code, 0 | 2), "{args:?}: {}", run.all());
        silent(&run, &format!("{args:?}"));
    }
    assert!(ws.path("p.json").exists(), "--out is still written");
    let run = ws.run(&["validate", "t.yaml", "-q", "--format", "json"]);
    run.code(0);
    assert_eq!(run.json()["valid"], true);
    let run = ws.run(&["plan", "t.yaml", "-q", "--format", "json"]);
    run.code(0);
    assert_eq!(run.json()["summary"]["block"], 1);
    let run = ws.run(&["drift", "t.yaml", "-q", "--format", "json"]);
    run.code(2);
    assert_eq!(run.json()["summary"]["drifted"], 1);

    let run = ws.run(&["apply", "t.yaml", "-q", "--yes", "--report", "r.json"]);
    run.code(0);
    silent(&run, "apply");
    assert_eq!(emu.blocked(), vec!["8613300000001"]);
    assert!(ws.path("r.json").exists(), "--report is still written");
    let run = ws.run(&["apply", "t.yaml", "-q", "--yes", "--format", "json"]);
    run.code(0);
    assert_eq!(run.json()["summary"]["blocked"], 0);
    // The file import prints is its result, as a JSON document is.
    let run = ws.run(&["import", "t.yaml", "-q"]);
    run.code(0);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    assert!(run.stdout.contains("- \"8613300000001\""), "{}", run.stdout);
    let run = ws.run(&["import", "t.yaml", "-q", "--write"]);
    run.code(0);
    silent(&run, "import --write");
}

#[test]
fn quiet_still_says_what_is_wrong_on_stderr() {
    let emu = Emulator::start(&state(&["8613300000007"], &[]), &[]);
    let ws = Workspace::new();
    // A duplicate is a warning; validate and plan still show it.
    ws.target(
        "dup.yaml",
        &emu,
        &format!("{FILE}  - \"+86 133 0000 0001\"\n"),
    );
    for args in [
        &["validate", "dup.yaml", "-q"][..],
        &["plan", "dup.yaml", "-q"],
    ] {
        let run = ws.run(args);
        run.code(0);
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
        assert!(
            run.stderr
                .contains("warning: dup.yaml:9:5: \"+86 133 0000 0001\" duplicates"),
            "{args:?}: {}",
            run.stderr
        );
    }

    let bad = ws.write(
        "bad.yaml",
        "business_phone: \"86133xx\"\nprovider: {kind: sandbox}\n",
    );
    let run = ws.run(&["validate", bad.to_str().unwrap(), "-q"]);
    run.code(1);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(
        run.stderr.contains("error: ") && run.stderr.contains("86133xx"),
        "{}",
        run.stderr
    );

    // An emptied file trips a guard: exit 3, and stderr says why.
    ws.target("empty.yaml", &emu, "blocked: []\n");
    let run = ws.run(&["plan", "empty.yaml", "-q"]);
    run.code(3);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(run.stderr.contains("empty.yaml: REFUSED"), "{}", run.stderr);
    let run = ws.run(&["apply", "empty.yaml", "-q", "--yes"]);
    run.code(3);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(run.stderr.contains("empty.yaml: REFUSED"), "{}", run.stderr);

    // A provider nobody answers: exit 1, and the error on stderr.
    ws.write(
        "down.yaml",
        &format!("business_phone: \"+{PHONE}\"\nprovider: {{kind: nxcloud, appkey: {APPKEY}, base_url: \"http://127.0.0.1:9\"}}\nblocked: []\n"),
    );
    for args in [
        &["plan", "down.yaml", "-q"][..],
        &["drift", "down.yaml", "-q"],
        &["apply", "down.yaml", "-q", "--yes"],
    ] {
        let run = ws.run(args);
        run.code(1);
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
        assert!(
            run.stderr.contains("down.yaml: error: "),
            "{args:?}: {}",
            run.stderr
        );
    }
}
