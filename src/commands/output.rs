//! Where results go: renderings to stdout, diagnostics to stderr.

use std::io::{IsTerminal, Write};

pub struct Output {
    /// Colour on stdout: only on a terminal, and never with --no-color or NO_COLOR.
    pub color: bool,
    /// `-q`: on success nothing is printed but what `--format json` asks for;
    /// errors and warnings still go to stderr (see [`problems`]).
    pub quiet: bool,
}

impl Output {
    pub fn new(no_color: bool, quiet: bool) -> Output {
        // https://no-color.org: any non-empty value disables colour.
        let no_color_env = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Output {
            color: !no_color && !no_color_env && std::io::stdout().is_terminal(),
            quiet,
        }
    }

    /// Print a rendering for people on stdout, unless `-q`. No line of it
    /// can be read as a GitHub workflow command
    /// ([`crate::workflow::neutralize`]). A closed pipe (`| head`) is not an
    /// error.
    pub fn print(&self, text: &str) -> anyhow::Result<()> {
        if self.quiet {
            return Ok(());
        }
        self.print_always(text)
    }

    /// Print what was asked for as data, `-q` or not: a `--format json`
    /// document, the file `import` writes out, or a plan someone is about to
    /// be asked to approve.
    pub fn print_always(&self, text: &str) -> anyhow::Result<()> {
        self.print_commands(&crate::workflow::neutralize(text))
    }

    /// Print the tool's own workflow commands as they are: their data must
    /// already be escaped ([`crate::workflow::escape_data`]).
    pub fn print_commands(&self, text: &str) -> anyhow::Result<()> {
        let mut stdout = std::io::stdout().lock();
        match stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush())
        {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            other => Ok(other?),
        }
    }
}

/// What went wrong, on stderr, for a run whose rendering is not printed
/// (`-q`, or `plan --format diff`, which has no room for it): targets that
/// could not be read or applied, refusals, and users the platform refused
/// for good. With `notes`, what the reader must know (WAHA's blind spot).
pub fn problems(
    planned: &[crate::render::PlannedTarget],
    applied: &[crate::render::AppliedTarget],
    errors: &[crate::render::TargetError],
    notes: bool,
) {
    for p in planned {
        let file = p.target.file.display();
        if let Some(refusal) = &p.refused {
            crate::say!("{file}: REFUSED, apply will send nothing: {refusal}");
        }
        if notes {
            for n in &p.notes {
                crate::say!("{file}: note: {n}");
            }
        }
    }
    for a in applied {
        let file = a.target.file.display();
        if let Some(refusal) = &a.report.refused {
            crate::say!("{file}: REFUSED, nothing was sent: {refusal}");
        }
        for f in &a.report.failed {
            let message = crate::render::one_line(&f.message);
            crate::say!(
                "{file}: failed: {} {} {}: {message}",
                f.user,
                f.code,
                f.reason
            );
        }
    }
    for e in errors {
        crate::say!("{}: error: {}", e.file.display(), e.message);
    }
}

/// A line on stderr unless `--quiet`.
pub fn note(message: impl std::fmt::Display) {
    if crate::log::verbosity() >= 1 {
        crate::say!("{message}");
    }
}

/// In GitHub Actions, append a markdown rendering to the job summary
/// (`$GITHUB_STEP_SUMMARY`), so the plan shows on the run's page. Outside
/// Actions, or without the variable, nothing happens. A summary that cannot
/// be written is a warning, never the run's outcome: the result is on stdout.
pub fn step_summary(markdown: impl FnOnce() -> String) {
    if let Err(e) = append_step_summary(markdown) {
        crate::say!("warning: {e:#}");
    }
}

fn append_step_summary(markdown: impl FnOnce() -> String) -> anyhow::Result<()> {
    use anyhow::Context;
    let in_actions = std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true");
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) else {
        return Ok(());
    };
    if !in_actions {
        return Ok(());
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("cannot append to GITHUB_STEP_SUMMARY ({})", path.display()))?;
    file.write_all(markdown().as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .with_context(|| format!("cannot append to GITHUB_STEP_SUMMARY ({})", path.display()))
}
