//! `blocklist import`: the live list into a file, against the emulator.

use std::path::Path;

use crate::harness::*;

/// A file the way people keep them: comments, a header, other keys.
fn header(emu: &Emulator) -> String {
    format!(
        "# Support line. Owned by trust & safety; see RUNBOOK.md.\nbusiness_phone: \"+86 158 0000 1795\"   # the line itself\nprovider:\n  kind: nxcloud\n  appkey: {APPKEY}\n  base_url: {}   # the emulator\nmode: exclusive\n",
        emu.base_url()
    )
}

/// Load `path` the way plan does and return its blocked users in order:
/// the proof that what import wrote is a valid desired-state file.
fn loads(path: &Path) -> Vec<String> {
    let loaded = blocklist::config::load(&[path.to_path_buf()]);
    assert!(
        loaded.errors.is_empty(),
        "{:?}\n{}",
        loaded.errors,
        read(path)
    );
    assert!(
        loaded.warnings.is_empty(),
        "{:?}\n{}",
        loaded.warnings,
        read(path)
    );
    loaded.targets[0]
        .blocked
        .iter()
        .map(|e| e.user.to_string())
        .collect()
}

#[test]
fn stdout_mode_prints_the_file_with_the_live_list_and_changes_nothing() {
    let emu = Emulator::start(
        &state(&["8613300000007", "8613300000002", "8613300000001"], &[]),
        &[],
    );
    let ws = Workspace::new();
    let original = format!(
        "{}blocked:   # reviewed monthly\n  - user: \"+86 133 0000 0002\"\n    reason: \"phishing links, ticket SUP-1234\"\n    expires: 2099-01-31\n\n# Appeals go to SUP.\nsafety:\n  max_unblocks: 10\n",
        header(&emu)
    );
    let file = ws.write("support.yaml", &original);

    let run = ws.run(&["import", "support.yaml"]);
    run.code(0);
    assert_eq!(read(&file), original, "the file is left alone");
    assert_eq!(
        run.stdout,
        format!(
            "{}blocked:   # reviewed monthly\n  - \"8613300000001\"\n  - user: \"+86 133 0000 0002\"\n    reason: phishing links, ticket SUP-1234\n    expires: 2099-01-31\n  - \"8613300000007\"\n\n# Appeals go to SUP.\nsafety:\n  max_unblocks: 10\n",
            header(&emu)
        )
    );
    let printed = ws.write("printed.yaml", &run.stdout);
    assert_eq!(
        loads(&printed),
        ["8613300000001", "8613300000002", "8613300000007"]
    );
    assert_eq!(
        emu.by_route("/api/wa/createBlockUsers") + emu.by_route("/api/wa/deleteBlockUsers"),
        0,
        "import only reads"
    );
}

#[test]
fn write_then_plan_shows_no_changes() {
    // The Mexican number is live in its wa_id form; many users, to cross pages.
    let mut live: Vec<String> = (0..30).map(|i| format!("86133{i:08}")).collect();
    live.push("5215512345678".to_string());
    let refs: Vec<&str> = live.iter().map(String::as_str).collect();
    let emu = Emulator::start(&state(&refs, &[]), &["--max-page-size", "7"]);
    let ws = Workspace::new();
    let file = ws.write("t.yaml", &header(&emu)); // no blocked: at all

    let run = ws.run(&["import", "t.yaml", "--write"]);
    run.code(0);
    assert_eq!(run.stdout, "", "--write prints nothing on stdout");
    let written = read(&file);
    assert!(
        written.starts_with(&header(&emu)),
        "header kept:\n{written}"
    );
    assert!(written.contains("  - \"5215512345678\"\n"), "{written}");
    let mut want = live.clone();
    want.sort();
    assert_eq!(loads(&file), want, "every live user, sorted");

    ws.run(&["plan", "t.yaml", "--detailed-exitcode"]).code(0);
    ws.run(&["drift", "t.yaml"]).code(0);
}

#[test]
fn write_refuses_to_drop_entries_that_are_not_live_unless_forced() {
    // 03 is in the file but not live: a block still deferred.
    let emu = Emulator::start(&state(&["8613300000001", "8613300000002"], &[]), &[]);
    let ws = Workspace::new();
    let original = format!(
        "{}blocked:\n  - \"8613300000001\"\n  - user: \"8613300000002\"\n    reason: spam wave\n  - user: \"8613300000003\"\n    reason: deferred\n",
        header(&emu)
    );
    let file = ws.write("t.yaml", &original);

    let run = ws.run(&["import", "t.yaml", "--write"]);
    run.code(3);
    assert_eq!(read(&file), original, "refused: the file is unchanged");
    assert!(run.stderr.contains("  8613300000003\n"), "{}", run.stderr);
    assert!(run.stderr.contains("--force"), "{}", run.stderr);

    let run = ws.run(&["import", "t.yaml", "--write", "--force"]);
    run.code(0);
    assert!(
        run.stderr.contains("--force"),
        "said loudly: {}",
        run.stderr
    );
    assert_eq!(
        read(&file),
        format!(
            "{}blocked:\n  - \"8613300000001\"\n  - user: \"8613300000002\"\n    reason: spam wave\n",
            header(&emu)
        ),
        "metadata of kept entries survives"
    );
    loads(&file);
    ws.run(&["plan", "t.yaml", "--detailed-exitcode"]).code(0);
}

#[test]
fn users_an_include_lists_stay_in_the_include() {
    let emu = Emulator::start(&state(&["8613300000005", "8613300000006"], &[]), &[]);
    let ws = Workspace::new();
    ws.write("lists/shared.yaml", "blocked:\n  - \"8613300000005\"\n");
    let file = ws.write(
        "t.yaml",
        &format!(
            "{}include:\n  - lists/shared.yaml\nblocked: []\n",
            header(&emu)
        ),
    );
    let run = ws.run(&["import", "t.yaml", "--write"]);
    run.code(0);
    assert!(
        run.stderr
            .contains("1 live user(s) are listed by include files"),
        "{}",
        run.stderr
    );
    assert!(read(&file).ends_with("blocked:\n  - \"8613300000006\"\n"));
    assert_eq!(loads(&file), ["8613300000006", "8613300000005"]);
    ws.run(&["plan", "t.yaml", "--detailed-exitcode"]).code(0);
}

#[test]
fn providers_that_cannot_list_are_a_clear_error_before_anything_is_sent() {
    let emu = Emulator::start(&state(&[], &[]), &[]);
    let ws = Workspace::new();
    let cases = [(
        format!(
            "provider: {{kind: waha, base_url: \"{}\"}}\n",
            emu.base_url()
        ),
        "WAHA cannot list blocked contacts",
    )];
    for (provider, message) in cases {
        let original = format!("business_phone: \"{PHONE}\"\n{provider}");
        let file = ws.write("t.yaml", &original);
        let run = ws.run(&["import", "t.yaml", "--write"]);
        run.code(1);
        assert!(run.stderr.contains(message), "{}", run.stderr);
        assert_eq!(read(&file), original);
        // Decided from the settings alone: no credential is needed to hear it.
        let run = ws.command(&["import", "t.yaml", "--write"]).run();
        run.code(1);
        assert!(run.stderr.contains(message), "{}", run.stderr);
        assert!(!run.stderr.contains("WAHA_API_KEY"), "{}", run.stderr);
    }
    assert_eq!(emu.requests(), 0);
}

#[test]
fn a_bad_file_or_a_directory_is_an_error_and_nothing_is_sent() {
    let emu = Emulator::start(&state(&["8613300000001"], &[]), &[]);
    let ws = Workspace::new();
    let original = format!("{}bloked: []\n", header(&emu));
    let file = ws.write("dir/t.yaml", &original);
    let run = ws.run(&["import", "dir/t.yaml", "--write"]);
    run.code(1);
    assert!(run.stderr.contains("bloked"), "{}", run.stderr);
    assert!(run.stderr.contains("nothing was sent"), "{}", run.stderr);
    assert_eq!(read(&file), original);

    let run = ws.run(&["import", "dir"]);
    run.code(1);
    assert!(run.stderr.contains("is a directory"), "{}", run.stderr);
    assert_eq!(emu.requests(), 0);
}
