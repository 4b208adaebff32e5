//! Renderings of `blocklist drift`, the scheduled check of the live lists
//! against the files.
//!
//! Drift is a plan read the other way round: the plan's blocks are users
//! *missing* from the live list (a block still deferred, or one undone outside
//! the files), its unblocks are *unexpected* live users (blocked outside the
//! files, expired, or listed in `unblock:`), and its unchanged users are in
//! sync. Text is for the scheduled job's log; markdown is the body of the
//! GitHub issue a workflow opens or updates; JSON ([`json`]) is for pipelines.

use super::Count;
use std::fmt::Write as _;

use super::budget::Doc;
use super::markdown::{
    Words, change_lists, error_rows, escape, push_errors, section_heading, table_row,
};
use super::text::{Paint, Style, header};
use super::{EntryIndex, PlannedTarget, TargetError, one_line};
use crate::user::User;

mod json;

pub use json::{DriftDocument, DriftSummaryWire, TargetDriftWire, drift_document, drift_json};

/// Whether a target's live list differs from its files. Blocks waiting for
/// their users to write are not drift (they land the moment the user does),
/// unless the check is `strict`.
pub fn drifted(t: &PlannedTarget) -> bool {
    t.has_new_changes()
}

/// Drift as `drift --strict` counts it: known deferrals too.
pub fn drifted_strictly(t: &PlannedTarget) -> bool {
    t.has_new_changes() || !t.deferred.is_empty()
}

/// Totals over the targets, for the summary lines.
struct Totals {
    drifted: usize,
    missing: usize,
    deferred: usize,
    unexpected: usize,
    in_sync: usize,
}

fn totals(targets: &[PlannedTarget]) -> Totals {
    Totals {
        drifted: targets.iter().filter(|t| drifted(t)).count(),
        missing: targets.iter().map(|t| t.new_blocks().count()).sum(),
        deferred: targets.iter().map(|t| t.deferred.len()).sum(),
        unexpected: targets.iter().map(|t| t.plan.unblock.len()).sum(),
        in_sync: targets.iter().map(|t| t.plan.unchanged).sum(),
    }
}

/// The drift as a scheduled job's log reads it: one block per target, then
/// one summary line. Lists are printed in full, as in the plan.
pub fn drift_text(targets: &[PlannedTarget], errors: &[TargetError], color: bool) -> String {
    let p = Paint(color);
    let mut out = String::new();
    for t in targets {
        let plan = &t.plan;
        out.push_str(&header(p, &t.target));
        let index = EntryIndex::new(&t.target);
        let missing: Vec<&User> = t.new_blocks().collect();
        if !missing.is_empty() {
            let _ = writeln!(
                out,
                "  {}",
                p.paint(
                    Style::Yellow,
                    &format!("missing {} (in the files, not live):", Count(missing.len()))
                )
            );
            for user in &missing {
                let sign = p.paint(Style::Green, &format!("+ {user}"));
                match index.block_detail(user) {
                    Some(detail) => {
                        let _ = writeln!(out, "    {sign}  ({detail})");
                    }
                    None => {
                        let _ = writeln!(out, "    {sign}");
                    }
                }
            }
        }
        if !plan.unblock.is_empty() {
            let _ = writeln!(
                out,
                "  {}",
                p.paint(
                    Style::Yellow,
                    &format!(
                        "unexpected {} (live, not desired):",
                        Count(plan.unblock.len())
                    )
                )
            );
            for u in &plan.unblock {
                let sign = p.paint(Style::Red, &format!("- {}", u.user));
                let _ = writeln!(out, "    {sign}  ({})", index.unblock_detail(u));
            }
        }
        if !t.deferred.is_empty() {
            let _ = writeln!(
                out,
                "  deferred {} (not drift: the platform refused these blocks until the user writes):",
                Count(t.deferred.len())
            );
            super::text::waiting_lines(&mut out, p, t, "    ");
        }
        if drifted(t) {
            let _ = writeln!(
                out,
                "  drifted: {} missing, {} unexpected, {} in sync",
                Count(missing.len()),
                Count(plan.unblock.len()),
                Count(plan.unchanged)
            );
        } else {
            let _ = writeln!(out, "  in sync, {} user(s)", Count(plan.unchanged));
        }
        for note in &t.notes {
            let _ = writeln!(
                out,
                "  {}",
                p.paint(Style::Yellow, &format!("note: {}", one_line(note)))
            );
        }
        out.push('\n');
    }
    super::text::push_errors(&mut out, p, errors);

    let n = targets.len();
    let sum = totals(targets);
    let mut summary = if n == 0 {
        "Nothing was checked.".to_string()
    } else if sum.drifted == 0 && errors.is_empty() {
        format!(
            "No drift: {} user(s) in sync across {n} target(s).",
            sum.in_sync,
            n = Count(n)
        )
    } else if sum.drifted == 0 {
        // Not "No drift": the targets that could not be checked may have some.
        format!(
            "Incomplete check: no drift in the targets checked, {} user(s) in sync across {n} target(s).",
            sum.in_sync,
            n = Count(n)
        )
    } else {
        format!(
            "Drift in {} of {n} target(s): {} missing, {} unexpected, {} in sync.",
            sum.drifted,
            sum.missing,
            sum.unexpected,
            sum.in_sync,
            n = Count(n)
        )
    };
    if sum.deferred > 0 {
        let _ = write!(
            summary,
            " {} block(s) deferred, waiting for the user to write.",
            Count(sum.deferred)
        );
    }
    if !errors.is_empty() {
        let _ = write!(
            summary,
            " {} target(s) could not be checked.",
            Count(errors.len())
        );
    }
    let _ = writeln!(out, "{}", p.paint(Style::Bold, &summary));
    out
}

/// The drift as the body of a GitHub issue: a heading that can serve as the
/// issue's title (it names the state, not the counts, so a workflow looking
/// for an open issue by title finds it again), a summary table, then one
/// collapsible section per drifted target, cut to GitHub's size limit.
pub fn drift_markdown(
    targets: &[PlannedTarget],
    errors: &[TargetError],
    checked_at: &str,
) -> String {
    let mut doc = Doc::default();
    let sum = totals(targets);
    let title = if sum.drifted > 0 {
        "live block lists differ from the files"
    } else if !errors.is_empty() {
        "some block lists could not be checked"
    } else {
        "in sync"
    };
    let mut head = format!("## blocklist drift: {title}\n\n");
    let _ = write!(
        head,
        "Checked at {checked_at}: **{} missing, {} unexpected**, {} in sync across {} target(s)",
        Count(sum.missing),
        Count(sum.unexpected),
        Count(sum.in_sync),
        Count(targets.len())
    );
    if sum.drifted > 0 {
        let _ = write!(head, "; {} drifted", Count(sum.drifted));
    }
    head.push('.');
    if sum.deferred > 0 {
        let _ = write!(
            head,
            " ⏳ {} block(s) deferred, waiting for the user to write (not drift).",
            Count(sum.deferred)
        );
    }
    if !errors.is_empty() {
        let _ = write!(head, " ❌ {} could not be checked.", Count(errors.len()));
    }
    head.push_str("\n\n| File | Phone | Provider | Missing | Unexpected | In sync | Status |\n");
    head.push_str("|---|---|---|--:|--:|--:|---|\n");
    for t in targets {
        let status = if drifted(t) {
            "⚠️ drifted"
        } else if !t.deferred.is_empty() {
            "⏳ waiting"
        } else {
            "✅ in sync"
        };
        table_row(&mut head, t, status);
    }
    error_rows(&mut head, errors);
    head.push('\n');
    if sum.drifted > 0 {
        head.push_str(
            "**Missing**: in the files but not live — never applied, or undone outside the \
             files (blocks the platform refused until the user writes are listed apart, as \
             deferred). \
             **Unexpected**: live but not desired — blocked outside the files, expired, or \
             listed in `unblock:`. `blocklist plan` shows what `blocklist apply` would do \
             about them.\n\n",
        );
    }
    doc.text(head);

    for t in targets {
        if !drifted_strictly(t) && t.notes.is_empty() {
            continue; // the table row says all there is to say
        }
        doc.text(section_heading(&t.target));
        for note in &t.notes {
            doc.text(format!("> [!NOTE]\n> {}\n\n", escape(&one_line(note))));
        }
        if !drifted_strictly(t) {
            continue;
        }
        change_lists(
            &mut doc,
            t,
            &Words {
                summary: ["missing", "unexpected", "in sync"],
                block: "Missing",
                unblock: "Unexpected",
            },
        );
    }
    push_errors(&mut doc, errors);
    doc.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Mode, ProviderSettings};
    use crate::render::budget::BUDGET;
    use crate::render::fixtures::*;

    /// ESC made visible, so colour snapshots can be reviewed as text.
    fn visible(s: &str) -> String {
        s.replace('\x1b', "\\e")
    }

    #[test]
    fn deferrals_are_not_drift() {
        let targets = waiting();
        assert!(drifted(&targets[0]), "a new block and an unblock are drift");
        assert!(!drifted(&targets[1]), "a deferral alone is not");
        assert!(drifted_strictly(&targets[1]), "unless strict");
        let text = drift_text(&targets, &[], false);
        let markdown = drift_markdown(&targets, &[], "2026-11-21T10:00:00Z");
        insta::assert_snapshot!(format!("{text}\n{markdown}"));
        let doc: serde_json::Value =
            serde_json::from_str(&drift_json(&targets, &[], "2026-11-21T10:00:00Z"))
                .expect("valid JSON");
        assert_eq!(
            doc["targets"][0]["missing"],
            serde_json::json!(["8613300000031"])
        );
        assert_eq!(
            doc["targets"][0]["deferred"],
            serde_json::json!([
                {"user": "8613300000032", "user_id": "CN.32", "since": "2026-11-18T09:30:00Z", "attempts": 3, "code": 131047},
                {"user": "US.33", "since": "2026-11-20T17:05:00Z", "attempts": 1, "code": 131047},
            ])
        );
        assert_eq!(doc["targets"][1]["missing"], serde_json::json!([]));
        assert_eq!(doc["summary"]["drifted"], 1);
        assert_eq!(doc["summary"]["deferred"], 3);
    }

    #[test]
    fn text_plain() {
        let out = drift_text(&mixed_plan(), &[broken()], false);
        assert!(!out.contains('\x1b'));
        insta::assert_snapshot!(out);
    }

    #[test]
    fn text_color() {
        insta::assert_snapshot!(visible(&drift_text(&mixed_plan(), &[broken()], true)));
    }

    #[test]
    fn text_in_sync() {
        insta::assert_snapshot!(drift_text(&[bot()], &[], false));
    }

    #[test]
    fn markdown() {
        insta::assert_snapshot!(drift_markdown(&mixed_plan(), &[broken()], CREATED_AT));
    }

    #[test]
    fn markdown_in_sync() {
        insta::assert_snapshot!(drift_markdown(&[bot()], &[], CREATED_AT));
    }

    #[test]
    fn markdown_title_names_the_state_not_the_counts() {
        let first_line = |s: String| s.lines().next().unwrap_or_default().to_string();
        let drifted = first_line(drift_markdown(&mixed_plan(), &[], CREATED_AT));
        let more = first_line(drift_markdown(&[support_line()], &[], CREATED_AT));
        assert_eq!(drifted, more);
        assert_eq!(
            first_line(drift_markdown(&[bot()], &[broken()], CREATED_AT)),
            "## blocklist drift: some block lists could not be checked"
        );
    }

    /// A phone whose live list was emptied outside the tool: 64 000 missing
    /// users, far more than an issue body holds.
    #[test]
    fn huge_drift_stays_under_githubs_limit() {
        let blocked: Vec<String> = (0..64_000).map(|i| format!("86140{i:08}")).collect();
        let rows: Vec<(&str, Option<&str>, Option<&str>)> =
            blocked.iter().map(|u| (u.as_str(), None, None)).collect();
        let t = target(
            "blocklists/huge.yaml",
            ProviderSettings::Sandbox,
            Mode::Exclusive,
            &rows,
            &[],
        );
        let out = drift_markdown(&[planned(t, &[]), bot()], &[broken()], CREATED_AT);
        assert!(out.chars().count() <= BUDGET, "{}", out.chars().count());
        assert!(out.contains("| `blocklists/bot.yaml` |"));
        assert!(out.contains("- … and "), "the cut is said");
        assert!(out.ends_with(&format!("{}\n\n", broken().message)));
    }
}
