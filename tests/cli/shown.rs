//! Snapshots of what users read, from the real binary: `validate` over the
//! broken-input corpus, and `plan`, `apply` and `drift` (text and markdown)
//! for one fixed scenario against the emulator. Review a changed snapshot
//! like code (`cargo insta review`): it is the interface.
//!
//! What varies from run to run is replaced before comparing: the
//! emulator's port, the workspace's directory, the clock, the version.

use crate::corpus;
use crate::harness::*;

/// One run as the user saw it: the command, its exit code, stdout, stderr.
fn shown(args: &[&str], run: &Run) -> String {
    let mut s = format!("$ blocklist {}\nexit {}\n", args.join(" "), run.code);
    for (stream, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        if !text.is_empty() {
            s.push_str(&format!("--- {stream}\n{text}"));
            if !text.ends_with('\n') {
                s.push('\n');
            }
        }
    }
    s
}

/// Every corpus case through `validate`, one run per file (in one run,
/// files naming the same business phone would also report each other).
#[test]
fn validate_over_the_broken_corpus() {
    let mut out = String::new();
    for case in corpus::cases() {
        let ws = corpus_workspace(&case);
        let args = ["validate", case.name.as_str()];
        let run = ws.run(&args);
        run.code(1);
        out.push_str(&shown(&args, &run));
        out.push('\n');
    }
    insta::assert_snapshot!(out);
}

/// The scenario: one exclusive file against a live list, with every kind
/// of change. Live: 07 (its entry expired), 08 (listed, in sync) and 09
/// (not in the file). Desired: 01 (has messaged the business, so it can be
/// blocked), 02 (has not: the platform defers it), 08, and 07 expired.
struct Scenario {
    emulator: Emulator,
    ws: Workspace,
}

impl Scenario {
    fn new() -> Scenario {
        let emulator = Emulator::start(
            &state(
                &["8613300000007", "8613300000008", "8613300000009"],
                &["8613300000001"],
            ),
            &[],
        );
        let ws = Workspace::new();
        ws.target(
            "shop.yaml",
            &emulator,
            r#"safety: {max_unblocks: 10, max_unblock_ratio: 1.0}
blocked:
  - "8613300000001"
  - user: "+86 133 0000 0002"
    reason: "phishing links, ticket SUP-1234"
  - user: "8613300000007"
    reason: "spam wave"
    expires: 2020-01-31
  - user: "8613300000008"
    reason: "scam"
    expires: 2099-12-31
"#,
        );
        Scenario { emulator, ws }
    }

    /// Run `blocklist ARGS` and show it with what varies replaced.
    fn run(&self, args: &[&str]) -> String {
        let run = self.ws.run(args);
        let shown = shown(args, &run)
            .replace(&self.emulator.base_url(), "http://127.0.0.1:PORT")
            .replace(&self.ws.dir.path().display().to_string(), "WORKSPACE")
            .replace(env!("CARGO_PKG_VERSION"), "VERSION");
        redact_times(&shown)
    }
}

/// `2026-11-26T14:23:43Z` as `TIMESTAMP`, and a duration such as `0.31s`
/// or `12ms` as `DURATION`.
fn redact_times(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut words = text.split_inclusive(|c: char| c.is_whitespace() || c == '(' || c == ')');
    for word in words.by_ref() {
        let end = word.trim_end_matches(|c: char| c.is_whitespace() || c == '(' || c == ')');
        let (body, tail) = word.split_at(end.len());
        let body_core = body.trim_end_matches(['.', ',', ';', ':']);
        let punct = &body[body_core.len()..];
        if is_timestamp(body_core) {
            out.push_str("TIMESTAMP");
        } else if is_duration(body_core) {
            out.push_str("DURATION");
        } else {
            out.push_str(body_core);
        }
        out.push_str(punct);
        out.push_str(tail);
    }
    out
}

/// `YYYY-MM-DDTHH:MM:SSZ`, with or without fractions.
fn is_timestamp(word: &str) -> bool {
    let b = word.as_bytes();
    b.len() >= 20
        && b[4] == b'-'
        && b[10] == b'T'
        && word.ends_with('Z')
        && b[..4].iter().all(u8::is_ascii_digit)
}

/// A number followed by `ms` or `s`.
fn is_duration(word: &str) -> bool {
    let number = word
        .strip_suffix("ms")
        .or_else(|| word.strip_suffix('s'))
        .unwrap_or("");
    !number.is_empty()
        && number.chars().all(|c| c.is_ascii_digit() || c == '.')
        && number.chars().next().is_some_and(|c| c.is_ascii_digit())
}

#[test]
fn redaction_finds_times_and_leaves_the_rest() {
    assert_eq!(
        redact_times("Checked at 2026-11-26T14:23:43Z:\nin 0.31s (12ms) 3s, 2 users\n"),
        "Checked at TIMESTAMP:\nin DURATION (DURATION) DURATION, 2 users\n"
    );
}

#[test]
fn plan_text_and_markdown() {
    let s = Scenario::new();
    let out = [
        s.run(&["plan", "shop.yaml"]),
        s.run(&["plan", "shop.yaml", "--format", "markdown"]),
    ]
    .join("\n");
    insta::assert_snapshot!(out);
}

#[test]
fn apply_text() {
    let s = Scenario::new();
    insta::assert_snapshot!(s.run(&["apply", "shop.yaml", "--yes"]));
}

#[test]
fn apply_markdown() {
    let s = Scenario::new();
    insta::assert_snapshot!(s.run(&["apply", "shop.yaml", "--yes", "--format", "markdown"]));
}

#[test]
fn drift_text_and_markdown() {
    let s = Scenario::new();
    let out = [
        s.run(&["drift", "shop.yaml"]),
        s.run(&["drift", "shop.yaml", "--format", "markdown"]),
    ]
    .join("\n");
    insta::assert_snapshot!(out);
}
