//! `blocklist show FILE`: re-render a saved plan (`plan --out`) or apply
//! report (`apply --report`) in another format, offline.

use anyhow::Context;

use crate::cli::ShowArgs;
use crate::exit::Exit;
use crate::render::restore::{self, Saved};
use crate::render::{self, ReportFormat};

use super::output::Output;

pub fn run(args: ShowArgs, out: &Output) -> anyhow::Result<Exit> {
    let path = &args.file;
    let shown = path.display();
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {shown}"))?;
    let saved = restore::read(&bytes).with_context(|| format!("{shown} cannot be shown"))?;
    let text = match (&saved, args.format) {
        // The document itself, as it was saved (counts and fingerprints
        // included, which the other renderings do not need).
        (Saved::Plan(doc), ReportFormat::Json) => pretty(doc)?,
        (Saved::Report(doc), ReportFormat::Json) => pretty(doc)?,
        (Saved::Plan(doc), format) => {
            let (planned, errors) =
                restore::plan(doc).with_context(|| format!("{shown} is a damaged plan"))?;
            match format {
                ReportFormat::Markdown => render::plan_markdown(&planned, &errors),
                _ => render::plan_text(&planned, &errors, out.color),
            }
        }
        (Saved::Report(doc), format) => {
            let (applied, errors) =
                restore::report(doc).with_context(|| format!("{shown} is a damaged report"))?;
            match format {
                ReportFormat::Markdown => render::apply_markdown(&applied, &errors),
                _ => render::apply_text(&applied, &errors, out.color),
            }
        }
    };
    if args.format == ReportFormat::Json {
        out.print_always(&text)?;
    } else {
        out.print(&text)?;
    }
    Ok(Exit::Success)
}

fn pretty(doc: &impl serde::Serialize) -> anyhow::Result<String> {
    let mut text = serde_json::to_string_pretty(doc)?;
    text.push('\n');
    Ok(text)
}
