//! GitHub-flavoured markdown for PR comments and `$GITHUB_STEP_SUMMARY`.
//!
//! GitHub rejects a comment longer than 65 536 characters, and a rejected
//! comment means reviewers see no plan at all. So the summary table and the
//! per-target headings are always kept, and long lists are cut to fit a
//! budget with `… and N more`; the full lists stay in the text and JSON
//! renderings. [`super::budget`] does the cutting.

use super::Count;
use crate::user::User;
use std::fmt::Write as _;

use super::budget::Doc;
use super::{AppliedTarget, EntryIndex, PlannedTarget, TargetError, one_line};
use crate::apply::UserOutcome;
use crate::config::Target;

/// The plan as a PR comment: heading, summary table, then one section per
/// target that has something to say.
pub fn plan_markdown(targets: &[PlannedTarget], errors: &[TargetError]) -> String {
    let mut doc = Doc::default();
    let block: usize = targets.iter().map(|t| t.new_blocks().count()).sum();
    let unblock: usize = targets.iter().map(|t| t.plan.unblock.len()).sum();
    let unchanged: usize = targets.iter().map(|t| t.plan.unchanged).sum();
    let waiting: usize = targets.iter().map(|t| t.deferred.len()).sum();
    let refused = targets.iter().filter(|t| t.refused.is_some()).count();

    let mut head = String::from("## blocklist plan\n\n");
    if block + unblock == 0 && errors.is_empty() {
        let _ = write!(
            head,
            "**No changes.** {unchanged} unchanged",
            unchanged = Count(unchanged)
        );
    } else if block + unblock == 0 {
        // Not "No changes": the targets that could not be planned may have some.
        let _ = write!(
            head,
            "**Incomplete plan:** nothing to change in the targets planned, {unchanged} unchanged",
            unchanged = Count(unchanged)
        );
    } else {
        let _ = write!(
            head,
            "**{block} to block, {unblock} to unblock**, {unchanged} unchanged",
            block = Count(block),
            unblock = Count(unblock),
            unchanged = Count(unchanged)
        );
    }
    let _ = write!(head, " across {} target(s).", Count(targets.len()));
    if waiting > 0 {
        let _ = write!(
            head,
            " ⏳ {waiting} block(s) waiting for the user to write (not part of this change).",
            waiting = Count(waiting)
        );
    }
    if refused > 0 {
        let _ = write!(
            head,
            " ⛔ {refused} refused by a safety guard.",
            refused = Count(refused)
        );
    }
    if !errors.is_empty() {
        let _ = write!(head, " ❌ {} could not be planned.", Count(errors.len()));
    }
    head.push_str("\n\n| File | Phone | Provider | Block | Unblock | Unchanged | Status |\n");
    head.push_str("|---|---|---|--:|--:|--:|---|\n");
    for t in targets {
        let status = if t.refused.is_some() {
            "⛔ refused"
        } else if t.has_new_changes() {
            "📝 changes"
        } else if !t.deferred.is_empty() {
            "⏳ waiting"
        } else {
            "✅ in sync"
        };
        table_row(&mut head, t, status);
    }
    error_rows(&mut head, errors);
    head.push('\n');
    doc.text(head);

    for t in targets {
        if !t.plan.has_changes() && t.refused.is_none() && t.notes.is_empty() {
            continue; // the table row says all there is to say
        }
        doc.text(section_heading(&t.target));
        if let Some(r) = &t.refused {
            doc.text(format!(
                "> [!CAUTION]\n> ⛔ **Refused** by safety guard `{}`: limit {}, actual {}. \
                 `apply` will refuse this target unless run with `--force`.\n\n",
                r.rule.as_str(),
                r.limit,
                r.actual
            ));
        }
        for note in &t.notes {
            doc.text(format!("> [!NOTE]\n> {}\n\n", escape(&one_line(note))));
        }
        if !t.plan.has_changes() {
            continue;
        }
        change_lists(&mut doc, t, &PLAN_WORDS);
    }
    push_errors(&mut doc, errors);
    doc.finish()
}

/// The apply report as a PR comment or step summary.
pub fn apply_markdown(applied: &[AppliedTarget], errors: &[TargetError]) -> String {
    let mut doc = Doc::default();
    let sum = |f: fn(&AppliedTarget) -> usize| -> usize { applied.iter().map(f).sum() };
    let blocked = sum(|a| a.report.blocked.len());
    let unblocked = sum(|a| a.report.unblocked.len());
    let deferred = sum(|a| a.report.deferred.len());
    let failed = sum(|a| a.report.failed.len());

    let mut head = String::from("## blocklist apply\n\n");
    let _ = write!(
        head,
        "**{blocked} blocked, {unblocked} unblocked**, {deferred} deferred, {failed} failed across {} target(s).",
        Count(applied.len())
    );
    if !errors.is_empty() {
        let _ = write!(head, " ❌ {} could not be applied.", Count(errors.len()));
    }
    head.push_str(
        "\n\n| File | Phone | Provider | Blocked | Unblocked | Deferred | Failed | Status |\n",
    );
    head.push_str("|---|---|---|--:|--:|--:|--:|---|\n");
    for a in applied {
        let r = &a.report;
        let status = if r.refused.is_some() {
            "⛔ refused"
        } else if !r.failed.is_empty() {
            "❌ failed"
        } else if !r.deferred.is_empty() {
            "⏳ deferred"
        } else if r.blocked.is_empty() && r.unblocked.is_empty() {
            "✅ in sync"
        } else {
            "✅ done"
        };
        let _ = writeln!(
            head,
            "| {} | {} | {} | {} | {} | {} | {} | {status} |",
            file_cell(&a.target.file),
            a.target.business_phone,
            a.target.provider.kind(),
            Count(r.blocked.len()),
            Count(r.unblocked.len()),
            Count(r.deferred.len()),
            Count(r.failed.len())
        );
    }
    for e in errors {
        let _ = writeln!(head, "| {} | | | | | | | ❌ error |", file_cell(&e.file));
    }
    head.push('\n');
    doc.text(head);

    for a in applied {
        let r = &a.report;
        if let Some(why) = &r.refused {
            doc.text(section_heading(&a.target));
            doc.text(format!(
                "> [!CAUTION]\n> Refused, nothing sent: {}\n\n",
                escape(why)
            ));
            continue;
        }
        if r.blocked.is_empty()
            && r.unblocked.is_empty()
            && r.deferred.is_empty()
            && r.failed.is_empty()
        {
            continue;
        }
        doc.text(section_heading(&a.target));
        let mut summary = format!(
            "{} request(s), {} retr{}",
            Count(r.requests),
            Count(r.retries),
            if r.retries == 1 { "y" } else { "ies" }
        );
        if r.skipped_already_done > 0 {
            let _ = write!(summary, ", {} already done", Count(r.skipped_already_done));
        }
        doc.text(format!("<details><summary>{summary}</summary>\n\n"));
        if !r.failed.is_empty() {
            doc.text("**Failed**\n\n".to_string());
            doc.list(r.failed.iter().map(outcome_item));
        }
        if !r.deferred.is_empty() {
            // Said once: the explanation is the same for every 131047.
            let all_24h = r.deferred.iter().all(|o| o.reason == "not_messaged_24h");
            doc.text(if all_24h {
                "**Deferred**: the user has not messaged this business in the last 24 hours; \
                 the block will be retried on the next apply.\n\n"
                    .to_string()
            } else {
                "**Deferred**: refused for now; retried on the next apply.\n\n".to_string()
            });
            doc.list(r.deferred.iter().map(outcome_item));
        }
        if !r.unblocked.is_empty() {
            doc.text("**Unblocked**\n\n".to_string());
            doc.list(r.unblocked.iter().map(|u| format!("- `{u}`\n")));
        }
        if !r.blocked.is_empty() {
            doc.text("**Blocked**\n\n".to_string());
            doc.list(r.blocked.iter().map(|u| format!("- `{u}`\n")));
        }
        doc.text("</details>\n\n".to_string());
    }
    push_errors(&mut doc, errors);
    doc.finish()
}

pub(super) fn section_heading(target: &Target) -> String {
    format!(
        "### `{}`\n\nPhone `{}` · {} · {} mode\n\n",
        code_span(&target.file.display().to_string()),
        target.business_phone,
        target.provider.kind(),
        target.mode.as_str()
    )
}

pub(super) fn push_errors(doc: &mut Doc, errors: &[TargetError]) {
    for e in errors {
        doc.text(format!(
            "### ❌ `{}`\n\n{}\n\n",
            code_span(&e.file.display().to_string()),
            escape(&one_line(&e.message))
        ));
    }
}

/// `- `user` 131021 cannot_block_self: Recipient cannot be sender`
fn outcome_item(o: &UserOutcome) -> String {
    format!(
        "- `{}` {} {}: {}\n",
        o.user,
        o.code,
        escape(&one_line(&o.reason)),
        escape(&one_line(&o.message))
    )
}

pub(super) fn file_cell(file: &std::path::Path) -> String {
    format!(
        "`{}`",
        code_span(&file.display().to_string()).replace('|', "\\|")
    )
}

/// Inside a code span only a backtick can end it early.
pub(crate) fn code_span(s: &str) -> String {
    one_line(s).replace('`', "'")
}

/// Text from files and servers, rendered as the plain text it is.
///
/// - HTML is not opened (a stray `<details>` or `</details>` would swallow
///   the rest of the comment): `&`, `<`, `>` become entities.
/// - A table is not broken: `|` is backslash-escaped.
/// - No link: `[`, `]` (so `[text](url)` and `![img](url)` stay text), and
///   the backslash itself, so data cannot undo an escape; a backtick too, so
///   no code span hides the escapes that follow.
/// - No mention or issue reference: GitHub links `@name` (and notifies the
///   person), `#123` and `GH-123` in comments and summaries. A zero-width
///   space written as `&#8203;` after `@` and `#` and inside `GH-` keeps the
///   text as it reads while GitHub no longer finds the reference, the same
///   escape Dependabot and Renovate use in the text they quote.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '|' | '[' | ']' | '\\' | '`' => {
                out.push('\\');
                out.push(c);
            }
            '@' | '#' => {
                out.push(c);
                out.push_str("&#8203;");
            }
            _ => out.push(c),
        }
    }
    out.replace("GH-", "GH&#8203;-")
}

/// One row of the plan and drift summary tables: file, phone, provider,
/// the three counts, and a status.
pub(super) fn table_row(head: &mut String, t: &PlannedTarget, status: &str) {
    let _ = writeln!(
        head,
        "| {} | {} | {} | {} | {} | {} | {status} |",
        file_cell(&t.target.file),
        t.target.business_phone,
        t.target.provider.kind(),
        Count(t.new_blocks().count()),
        Count(t.plan.unblock.len()),
        Count(t.plan.unchanged)
    );
}

/// Rows for targets that could not be read, in the same tables.
pub(super) fn error_rows(head: &mut String, errors: &[TargetError]) {
    for e in errors {
        let _ = writeln!(head, "| {} | | | | | | ❌ error |", file_cell(&e.file));
    }
}

/// How a rendering names the two lists of changes: plans speak of what to
/// do, drift of what differs.
pub(super) struct Words {
    pub summary: [&'static str; 3],
    pub block: &'static str,
    pub unblock: &'static str,
}

pub(super) const PLAN_WORDS: Words = Words {
    summary: ["to block", "to unblock", "unchanged"],
    block: "Block",
    unblock: "Unblock",
};

/// A target's blocks and unblocks, with the files' reasons, in one
/// collapsible section (shared by the plan and drift renderings).
pub(super) fn change_lists(doc: &mut Doc, t: &PlannedTarget, words: &Words) {
    let plan = &t.plan;
    let [b, u, same] = words.summary;
    let new_blocks: Vec<&User> = t.new_blocks().collect();
    let waiting = match t.deferred.len() {
        0 => String::new(),
        n => format!(", {n} waiting for the user to write"),
    };
    doc.text(format!(
        "<details><summary>{} {b}, {} {u}, {} {same}{waiting}</summary>\n\n",
        Count(new_blocks.len()),
        Count(plan.unblock.len()),
        Count(plan.unchanged)
    ));
    let index = EntryIndex::new(&t.target);
    if !new_blocks.is_empty() {
        doc.text(format!("**{}**\n\n", words.block));
        doc.list(
            new_blocks
                .into_iter()
                .map(|user| match index.block_detail(user) {
                    Some(detail) => format!("- `{user}` {}\n", escape(&detail)),
                    None => format!("- `{user}`\n"),
                }),
        );
    }
    if !t.deferred.is_empty() {
        doc.text(
            "**Waiting for the user to write** (the platform refused these blocks under its 24-hour rule; they are sent again, and land once the user messages the business)\n\n"
                .to_string(),
        );
        doc.list(t.deferred.iter().map(|d| {
            format!(
                "- `{}` since {}, {} attempt(s)\n",
                d.user,
                d.since_day(),
                d.attempts
            )
        }));
    }
    if !plan.unblock.is_empty() {
        doc.text(format!("**{}**\n\n", words.unblock));
        doc.list(
            plan.unblock
                .iter()
                .map(|u| format!("- `{}` {}\n", u.user, escape(&index.unblock_detail(u)))),
        );
    }
    doc.text("</details>\n\n".to_string());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Mode, ProviderSettings};
    use crate::render::budget::{BUDGET, GITHUB_COMMENT_LIMIT};
    use crate::render::fixtures::*;
    use crate::user::User;

    #[test]
    fn deferrals_are_shown_apart() {
        insta::assert_snapshot!(plan_markdown(&waiting(), &[]));
    }

    #[test]
    fn users_known_by_bsuid() {
        let plan = plan_markdown(&[username_line()], &[]);
        let apply = apply_markdown(&[username_applied()], &[]);
        insta::assert_snapshot!(format!("{plan}\n{apply}"));
    }

    #[test]
    fn plan() {
        insta::assert_snapshot!(plan_markdown(&mixed_plan(), &[broken()]));
    }

    #[test]
    fn plan_in_sync() {
        insta::assert_snapshot!(plan_markdown(&[bot()], &[]));
    }

    /// A target that could not be planned may have changes: the headline
    /// must not say there are none.
    #[test]
    fn an_unplanned_target_is_not_no_changes() {
        for (md, text) in [
            (
                plan_markdown(&[bot()], &[broken()]),
                crate::render::plan_text(&[bot()], &[broken()], false),
            ),
            (
                plan_markdown(&[], &[broken()]),
                crate::render::plan_text(&[], &[broken()], false),
            ),
        ] {
            assert!(!md.contains("No changes"), "{md}");
            assert!(!text.contains("No changes"), "{text}");
            assert!(md.contains("could not be planned"), "{md}");
        }
        let drift = crate::render::drift_text(&[bot()], &[broken()], false);
        assert!(!drift.contains("No drift"), "{drift}");
    }

    #[test]
    fn apply() {
        insta::assert_snapshot!(apply_markdown(&applied(), &[broken()]));
    }

    /// 64 000 blocks (the platform's capacity) and 6 400 unblocks: far more
    /// than a comment holds, so the lists are cut and the cut is said.
    #[test]
    fn huge_plan_stays_under_githubs_limit() {
        let blocked: Vec<String> = (0..64_000).map(|i| format!("86140{i:08}")).collect();
        let live: Vec<String> = (0..6_400).map(|i| format!("86150{i:08}")).collect();
        let rows: Vec<(&str, Option<&str>, Option<&str>)> = blocked
            .iter()
            .map(|u| (u.as_str(), Some("spam wave, ticket SUP-9000"), None))
            .collect();
        let t = target(
            "blocklists/huge.yaml",
            ProviderSettings::Sandbox,
            Mode::Exclusive,
            &rows,
            &[],
        );
        let live: Vec<&str> = live.iter().map(String::as_str).collect();
        let p = planned(t, &live);
        assert_eq!((p.plan.block.len(), p.plan.unblock.len()), (64_000, 6_400));

        let out = plan_markdown(&[p, bot()], &[broken()]);
        let chars = out.chars().count();
        assert!(chars <= GITHUB_COMMENT_LIMIT, "{chars} characters");
        assert!(chars <= BUDGET, "{chars} characters");
        // The summary and every target's row and heading survive.
        assert!(out.starts_with("## blocklist plan\n\n**64,000 to block, 6,400 to unblock**"));
        for file in [
            "blocklists/huge.yaml",
            "blocklists/bot.yaml",
            "blocklists/broken.yaml",
        ] {
            assert!(out.contains(&format!("| `{file}` |")), "row for {file}");
            assert!(out.contains(&format!("`{file}`\n\n")), "heading for {file}");
        }
        // Both lists get the same share and say how many were left out.
        let shown = |marker: &str| out.lines().filter(|l| l.contains(marker)).count();
        let blocks_shown = shown("spam wave");
        let unblocks_shown = shown("not in file");
        assert!(blocks_shown > 100, "{blocks_shown} blocks shown");
        assert_eq!(blocks_shown, unblocks_shown);
        for (total, kept) in [(64_000, blocks_shown), (6_400, unblocks_shown)] {
            assert!(out.contains(&format!(
                "- … and {} more",
                crate::render::Count(total - kept)
            )));
        }
        assert!(out.ends_with(&format!("{}\n\n", broken().message)));
    }

    #[test]
    fn huge_apply_stays_under_githubs_limit() {
        let mut applied = applied();
        applied[0].report.blocked = (0..64_000)
            .map(|i| User::phone(format!("86140{i:08}")))
            .collect();
        applied[0].report.unblocked = (0..6_400)
            .map(|i| User::phone(format!("86150{i:08}")))
            .collect();
        let out = apply_markdown(&applied, &[]);
        assert!(out.chars().count() <= BUDGET);
        assert_eq!(out.matches("- … and ").count(), 2, "both lists are cut");
        assert!(out.contains("8613300000005` 131021 cannot_block_self"));
    }

    /// Hundreds of targets with long error messages: even the fixed text is
    /// over budget, and whole lines are cut from the end.
    #[test]
    fn too_many_targets_are_cut_by_lines() {
        let errors: Vec<TargetError> = (0..2_000)
            .map(|i| TargetError {
                file: format!("blocklists/{i}.yaml").into(),
                message: "x".repeat(100),
            })
            .collect();
        let out = plan_markdown(&mixed_plan(), &errors);
        assert!(out.chars().count() <= BUDGET);
        assert!(out.starts_with("## blocklist plan\n\n"));
        assert!(out.contains("line(s) left out to stay under GitHub's 65,536-character limit"));
    }

    #[test]
    fn mentions_issue_references_and_links_from_files_are_plain_text() {
        assert_eq!(
            escape("ping @octocat, see #123 and GH-7: [click](https://evil.example) ![i](x)"),
            "ping @&#8203;octocat, see #&#8203;123 and GH&#8203;-7: \\[click\\](https://evil.example) !\\[i\\](x)"
        );
        // Data cannot undo an escape, nor open a code span around one.
        assert_eq!(escape("\\[x\\]`@a`"), "\\\\\\[x\\\\\\]\\`@&#8203;a\\`");
        let t = target(
            "blocklists/a.yaml",
            ProviderSettings::Sandbox,
            Mode::Exclusive,
            &[(
                "8613300000001",
                Some("@trust-team #42 [form](https://evil.example)"),
                None,
            )],
            &[],
        );
        let out = plan_markdown(&[planned(t, &[])], &[]);
        assert!(
            out.contains("@&#8203;trust-team #&#8203;42 \\[form\\](https://evil.example)"),
            "{out}"
        );
    }

    #[test]
    fn html_and_pipes_from_files_are_escaped() {
        let t = target(
            "blocklists/a|b.yaml",
            ProviderSettings::Sandbox,
            Mode::Exclusive,
            &[("8613300000001", Some("</details> <b>x</b> | y"), None)],
            &[],
        );
        let out = plan_markdown(&[planned(t, &[])], &[]);
        assert!(out.contains("| `blocklists/a\\|b.yaml` |"), "{out}");
        assert!(
            out.contains("&lt;/details&gt; &lt;b&gt;x&lt;/b&gt; \\| y"),
            "{out}"
        );
    }
}
