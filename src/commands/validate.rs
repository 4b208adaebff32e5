//! `blocklist validate`: check files offline, reporting every problem.

use crate::cli::ValidateArgs;
use crate::config::{self, Diagnostic};
use crate::exit::Exit;
use crate::render::ReportFormat;
use crate::render::{code_span, escape_markdown as escape};
use crate::workflow::{escape_data, escape_property};

use super::output::Output;

pub fn run(args: ValidateArgs, out: &Output) -> anyhow::Result<Exit> {
    let loaded = config::load(&super::targets::or_current_dir(&args.paths));

    if std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true") {
        let lines = annotations(&loaded.errors, &loaded.warnings);
        if args.format == ReportFormat::Json || out.quiet {
            // Keep stdout one JSON document (or, with -q, empty); the runner
            // reads workflow commands from the step's stderr too.
            eprint!("{lines}");
        } else {
            out.print_commands(&lines)?;
        }
    }
    match args.format {
        ReportFormat::Json => out.print_always(&json(&loaded))?,
        ReportFormat::Markdown => out.print(&markdown(&loaded))?,
        ReportFormat::Text => out.print(&text(&loaded))?,
    }
    if out.quiet && args.format != ReportFormat::Json {
        // -q silences the report, not what is wrong with the files.
        for e in &loaded.errors {
            crate::say!("error: {e}");
        }
        for w in &loaded.warnings {
            crate::say!("warning: {w}");
        }
    }
    Ok(if loaded.errors.is_empty() {
        Exit::Success
    } else {
        Exit::Error
    })
}

fn text(loaded: &config::Loaded) -> String {
    let mut s = String::new();
    for e in &loaded.errors {
        s.push_str(&format!("error: {e}\n"));
    }
    for w in &loaded.warnings {
        s.push_str(&format!("warning: {w}\n"));
    }
    s.push_str(&summary(loaded));
    s.push('\n');
    s
}

fn summary(loaded: &config::Loaded) -> String {
    if loaded.errors.is_empty() {
        format!(
            "{} target(s) valid, {} warning(s).",
            loaded.targets.len(),
            loaded.warnings.len()
        )
    } else {
        format!(
            "{} error(s), {} warning(s); {} target(s) valid.",
            loaded.errors.len(),
            loaded.warnings.len(),
            loaded.targets.len()
        )
    }
}

fn markdown(loaded: &config::Loaded) -> String {
    let mut s = String::from("### blocklist validate\n\n");
    for (label, list) in [("error", &loaded.errors), ("warning", &loaded.warnings)] {
        for d in list {
            // Messages quote values from the files: plain text, no links
            // or mentions (see render::markdown::escape).
            s.push_str(&format!(
                "- **{label}** `{}`: {}\n",
                code_span(&d.location.to_string()),
                escape(&d.message)
            ));
        }
    }
    s.push_str(&format!("\n{}\n", summary(loaded)));
    s
}

fn json(loaded: &config::Loaded) -> String {
    let list = |ds: &[Diagnostic]| -> Vec<serde_json::Value> {
        ds.iter()
            .map(|d| {
                serde_json::json!({
                    "file": d.location.file.display().to_string(),
                    "line": d.location.line,
                    "column": d.location.column,
                    "message": d.message,
                })
            })
            .collect()
    };
    let doc = serde_json::json!({
        "format_version": 1,
        "valid": loaded.errors.is_empty(),
        "targets": loaded.targets.len(),
        "errors": list(&loaded.errors),
        "warnings": list(&loaded.warnings),
    });
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}

/// GitHub workflow commands, so problems show on the pull request's lines.
fn annotations(errors: &[Diagnostic], warnings: &[Diagnostic]) -> String {
    let mut s = String::new();
    for (kind, list) in [("error", errors), ("warning", warnings)] {
        for d in list {
            let l = &d.location;
            s.push_str(&format!(
                "::{kind} file={},line={},col={}::{}\n",
                escape_property(&l.file.display().to_string()),
                l.line.max(1),
                l.column.max(1),
                escape_data(&d.message)
            ));
        }
    }
    s
}
