//! Progress bars are for people at a terminal: in a pipe, as here and in CI,
//! a listing over several pages and an apply over many chunks print no bar,
//! no spinner and no escape sequence, only the lines they always print.

use crate::harness::*;

fn users(range: std::ops::Range<u32>) -> Vec<String> {
    range.map(|i| format!("86133{i:08}")).collect()
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Anything a bar or spinner would leave behind.
fn assert_no_progress(stream: &str, name: &str) {
    let spinner = |c: char| ('\u{2800}'..='\u{28ff}').contains(&c);
    assert!(
        !stream.contains('\x1b') && !stream.contains('\r') && !stream.contains(spinner),
        "{name} holds escape sequences or spinner frames:\n{stream:?}"
    );
    for fragment in ["reading the live list,", "applying [", "ETA", " pages, "] {
        assert!(
            !stream.contains(fragment),
            "{name} holds a progress bar ({fragment:?}):\n{stream}"
        );
    }
}

#[test]
fn pipes_get_no_progress_bars() {
    // 2 500 live users: three list pages. The file keeps 2 000 and adds 500,
    // so apply has 1 000 changes to send in chunks of 100.
    let live = users(0..2500);
    let wanted = users(500..3000);
    let emu = Emulator::start(&state(&refs(&live), &refs(&wanted)), &[]);
    let ws = Workspace::new();
    let body: String = wanted.iter().map(|u| format!("  - \"{u}\"\n")).collect();
    ws.target(
        "t.yaml",
        &emu,
        &format!("safety:\n  max_unblock_ratio: 1\n  max_unblocks: 100000\nblocked:\n{body}"),
    );

    // A terminal type that draws, so only the pipe keeps the bars away.
    let plan = ws
        .command(&["plan", "t.yaml", "-v"])
        .env("NXCLOUD_ACCESS_KEY", ACCESS_KEY)
        .env("NXCLOUD_ACCESS_SECRET", ACCESS_SECRET)
        .env("TERM", "xterm-256color")
        .run();
    plan.code(0);
    assert_no_progress(&plan.stdout, "plan stdout");
    assert_no_progress(&plan.stderr, "plan stderr");
    assert!(
        plan.stderr
            .contains("t.yaml: reading the live block list\n"),
        "-v lines still print, whole:\n{}",
        plan.stderr
    );

    let apply = ws
        .command(&["apply", "t.yaml", "--yes", "--chunk-size", "100"])
        .env("NXCLOUD_ACCESS_KEY", ACCESS_KEY)
        .env("NXCLOUD_ACCESS_SECRET", ACCESS_SECRET)
        .env("TERM", "xterm-256color")
        .run();
    apply.code(0);
    assert_no_progress(&apply.stdout, "apply stdout");
    assert_no_progress(&apply.stderr, "apply stderr");
    assert_eq!(emu.blocked(), wanted, "the apply ran in full");
    assert!(
        emu.by_route("/api/wa/createBlockUsers") >= 5,
        "many chunks: a bar would have had something to show"
    );
}
