//! `blocklist completions SHELL` and `blocklist manpage`.

use crate::harness::*;

#[test]
fn completions_for_every_shell_know_every_command() {
    let ws = Workspace::new();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        // Data the user asked for: printed even with -q.
        let run = ws.command(&["-q", "completions", shell]).run();
        run.code(0);
        for word in [
            "validate", "show", "add", "remove", "schema", "manpage", "expires",
        ] {
            assert!(run.stdout.contains(word), "{shell}: {word}");
        }
    }
    let run = ws.command(&["completions", "bash"]).run();
    ws.write("blocklist.bash", &run.stdout);
    let syntax = std::process::Command::new("bash")
        .args(["-n", "blocklist.bash"])
        .current_dir(ws.dir.path())
        .status()
        .expect("bash runs");
    assert!(syntax.success(), "the bash script parses");
    let run = ws.command(&["completions", "tcsh"]).run();
    run.code(1);
    assert!(
        run.stderr
            .contains("possible values: bash, elvish, fish, powershell, zsh"),
        "{}",
        run.stderr
    );
}

#[test]
fn the_man_page_is_roff_for_this_binary() {
    let run = Workspace::new().command(&["manpage"]).run();
    run.code(0);
    assert!(run.stdout.contains(".TH blocklist 1"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains(&format!("blocklist {}", env!("CARGO_PKG_VERSION")))
    );
    for word in ["validate", "completions", "manpage", "schema"] {
        assert!(run.stdout.contains(word), "{word}");
    }
}
