//! Where results go: renderings to stdout, diagnostics to stderr.

use std::io::{IsTerminal, Write};

pub struct Output {
    /// Colour on stdout: only on a terminal, and never with --no-color or NO_COLOR.
    pub color: bool,
}

impl Output {
    pub fn new(no_color: bool) -> Output {
        // https://no-color.org: any non-empty value disables colour.
        let no_color_env = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Output {
            color: !no_color && !no_color_env && std::io::stdout().is_terminal(),
        }
    }

    /// Print a rendering on stdout, no line of which can be read as a GitHub
    /// workflow command ([`crate::workflow::neutralize`]). A closed pipe
    /// (`| head`) is not an error.
    pub fn print(&self, text: &str) -> anyhow::Result<()> {
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
