//! `blocklist import`: bootstrap a desired-state file from the live list.
//!
//! Reads the live list of the one target PATH describes and prints the file
//! with its `blocked:` list replaced by every live user ([`crate::import`]
//! has the rules, [`crate::import::splice`] the text surgery). `--write`
//! replaces the file in place instead, and refuses (exit 3) to drop entries
//! the live list does not hold unless `--force`.

use std::path::Path;

use anyhow::Context;

use crate::cli::ImportArgs;
use crate::config::{ProviderSettings, Target};
use crate::date::Date;
use crate::exit::Exit;
use crate::fsutil::write_atomic;
use crate::import::{self, Dropped, Imported, splice};
use crate::reconcile;
use crate::sandbox::Sandboxes;

use super::output::{Output, note};
use super::targets;

pub async fn run(args: ImportArgs, out: &Output) -> anyhow::Result<Exit> {
    let path = &args.path;
    if path.is_dir() {
        anyhow::bail!(
            "{} is a directory; import writes one file, so name the desired-state file",
            path.display()
        );
    }
    let Some(mut loaded) = targets::load(std::slice::from_ref(path)) else {
        return Ok(Exit::Error);
    };
    let target = match (loaded.pop(), loaded.is_empty()) {
        (Some(t), true) => t,
        _ => anyhow::bail!("{} must describe exactly one target", path.display()),
    };
    can_list(&target.provider)?;
    if args.force && !args.write {
        eprintln!("warning: --force only matters with --write; nothing is written without it.");
    }
    // Read now, before any request: an unreadable file fails fast, and the
    // text is as close as can be to what was just validated.
    let source =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;

    let mut sandboxes = Sandboxes::default();
    let client = reconcile::connect(&target, None, &mut sandboxes).await?;
    crate::info!("{}: reading the live block list", path.display());
    let live = client
        .list()
        .await
        .with_context(|| format!("{}: reading the live block list", path.display()))?;
    let imported = import::import(&target, &live, Date::today_utc());

    let spliced = splice::replace_blocked(&source, &imported.entries)
        .with_context(|| format!("cannot rewrite the blocked: list of {}", path.display()))?;
    explain(&target, &imported, spliced.comments_dropped);

    if !args.write {
        if !imported.dropped.is_empty() {
            crate::say!(
                "warning: {} number(s) {} lists are not in the live list and are left out (with --write, import refuses to drop them unless --force):",
                imported.dropped.len(),
                path.display(),
            );
            list_dropped(&imported.dropped);
        }
        // The file is the result asked for, as a JSON document is: printed
        // with -q too (`import -q f.yaml > new.yaml` must not write nothing).
        out.print_always(&spliced.text)?;
        return Ok(Exit::Success);
    }

    if !imported.dropped.is_empty() {
        if !args.force {
            crate::say!(
                "Refusing to write {}: it lists {} number(s) the live list does not hold, and writing would drop them:",
                path.display(),
                imported.dropped.len()
            );
            list_dropped(&imported.dropped);
            crate::say!(
                "They may be blocks still deferred (the user has not messaged the business in the last 24 hours) \
                 or undone outside the files. Run `blocklist apply` to block them, or pass --force to drop them from the file."
            );
            return Ok(Exit::Refused);
        }
        crate::say!(
            "WARNING: --force: dropping {} entr{} the live list does not hold:",
            imported.dropped.len(),
            plural(imported.dropped.len(), "y", "ies")
        );
        list_dropped(&imported.dropped);
    }
    check_loads(path, &spliced.text)?;
    write_atomic(path, spliced.text.as_bytes())?;
    note(format_args!(
        "Wrote {} entr{} to the blocked: list of {}.",
        imported.entries.len(),
        plural(imported.entries.len(), "y", "ies"),
        path.display()
    ));
    Ok(Exit::Success)
}

/// The one place that decides whether a provider can give import what it
/// needs: the platform's own list of blocked users. Decided before any
/// credential is read or request sent.
fn can_list(provider: &ProviderSettings) -> anyhow::Result<()> {
    match provider {
        // The Graph API lists blocked users (GET /{phone_number_id}/block_users).
        ProviderSettings::NxCloud { .. }
        | ProviderSettings::CloudApi { .. }
        | ProviderSettings::Sandbox => Ok(()),
        // WAHA has no route that lists blocked contacts: the tool's only view
        // is its own ledger, which would import nothing made outside it.
        ProviderSettings::Waha { .. } => anyhow::bail!(
            "import cannot work with provider kind \"waha\": WAHA cannot list blocked contacts, so there is no live list to import; write the blocked: list by hand"
        ),
    }
}

/// Everything import decided that the reader would not guess, on stderr.
fn explain(target: &Target, imported: &Imported, comments_dropped: usize) {
    let file = target.file.display();
    if imported.covered_by_include > 0 {
        let mut line = format!(
            "note: {} live user(s) are listed by include files and stay covered there (not written into {file})",
            imported.covered_by_include
        );
        if imported.expired_in_include > 0 {
            line.push_str(&format!(
                "; {} of them expired there, so plan will unblock them unless the include changes",
                imported.expired_in_include
            ));
        }
        note(format_args!("{line}."));
    }
    if !imported.past_expiry_cleared.is_empty() {
        note(format_args!(
            "note: still blocked after their expires date, so written without it: {}.",
            crate::render::user_list(&imported.past_expiry_cleared)
        ));
    }
    if !imported.listed_in_unblock.is_empty() {
        crate::say!(
            "warning: live but listed in unblock: of {file}, so left out of blocked: (plan will unblock them): {}.",
            crate::render::user_list(&imported.listed_in_unblock)
        );
    }
    if comments_dropped > 0 {
        note(format_args!(
            "note: {comments_dropped} line(s) of the old blocked: list held comments, which are not kept."
        ));
    }
}

fn list_dropped(dropped: &[Dropped]) {
    for d in dropped {
        match d.expired {
            Some(date) => crate::say!(
                "  {}  (expired {date}; dropping it changes no plan)",
                d.user
            ),
            None => crate::say!("  {}", d.user),
        }
    }
}

/// A last check before replacing the user's file: the new text must load as
/// cleanly as the old one did. A failure here is a bug in the splice, and
/// the file is left alone. It is loaded from a scratch file beside the real
/// one, so include paths resolve the same way.
fn check_loads(path: &Path, text: &str) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let scratch = tempfile::Builder::new()
        .prefix(".blocklist-import-")
        .suffix(".yaml")
        .tempfile_in(dir)
        .with_context(|| {
            format!(
                "cannot write {}: cannot create a file in {}",
                path.display(),
                dir.display()
            )
        })?;
    std::fs::write(scratch.path(), text)
        .with_context(|| format!("cannot write {}", path.display()))?;
    let loaded = crate::config::load(&[scratch.path().to_path_buf()]);
    if let Some(first) = loaded.errors.first() {
        anyhow::bail!(
            "{} left unchanged: the rewritten file would not load ({}); this is a bug in import, please report it",
            path.display(),
            first.headline()
        );
    }
    Ok(())
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}
