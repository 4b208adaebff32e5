//! Plain text for terminals and CI logs. Lists are printed in full: a log is
//! searched, not scrolled, and a truncated plan would hide what apply will do.
//!
//! Colour is hand-written ANSI (four escape codes do not justify a crate);
//! with `color` false the output holds no escape codes at all, so logs and
//! files stay clean.

use super::Count;
use crate::user::User;
use std::fmt::Write as _;

use super::{AppliedTarget, EntryIndex, PlannedTarget, TargetError, one_line};
use crate::apply::UserOutcome;
use crate::config::Target;

/// Per-user deferral explanation for 131047, the one reason users meet often.
const NOT_MESSAGED: &str = "the user has not messaged this business in the last 24 hours; the block will be retried on the next apply";

#[derive(Clone, Copy)]
pub(super) enum Style {
    Bold,
    Green,
    Red,
    Yellow,
    BoldRed,
}

/// Wraps text in an ANSI style when colour is on.
#[derive(Clone, Copy)]
pub(super) struct Paint(pub(super) bool);

impl Paint {
    pub(super) fn paint(self, style: Style, text: &str) -> String {
        if !self.0 {
            return text.to_string();
        }
        let code = match style {
            Style::Bold => "1",
            Style::Green => "32",
            Style::Red => "31",
            Style::Yellow => "33",
            Style::BoldRed => "1;31",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }
}

/// The plan as a CI log reads it: one block per target, then one summary line.
pub fn plan_text(targets: &[PlannedTarget], errors: &[TargetError], color: bool) -> String {
    let p = Paint(color);
    let mut out = String::new();
    let (mut block, mut unblock, mut unchanged, mut refused) = (0, 0, 0, 0);

    let mut waiting = 0;
    for t in targets {
        let plan = &t.plan;
        let new_blocks: Vec<&User> = t.new_blocks().collect();
        block += new_blocks.len();
        unblock += plan.unblock.len();
        unchanged += plan.unchanged;
        waiting += t.deferred.len();
        out.push_str(&header(p, &t.target));

        // Before the lists: with thousands of lines, a refusal printed after
        // them would scroll out of sight.
        if let Some(r) = &t.refused {
            refused += 1;
            let line = format!(
                "REFUSED: safety guard {} tripped (limit {}, actual {}); apply will refuse this target unless run with --force",
                r.rule.as_str(),
                r.limit,
                r.actual
            );
            let _ = writeln!(out, "  {}", p.paint(Style::BoldRed, &line));
        }

        let index = EntryIndex::new(&t.target);
        for user in &new_blocks {
            let sign = p.paint(Style::Green, &format!("+ {user}"));
            match index.block_detail(user) {
                Some(detail) => {
                    let _ = writeln!(out, "  {sign}  ({detail})");
                }
                None => {
                    let _ = writeln!(out, "  {sign}");
                }
            }
        }
        for u in &plan.unblock {
            let sign = p.paint(Style::Red, &format!("- {}", u.user));
            let _ = writeln!(out, "  {sign}  ({})", index.unblock_detail(u));
        }
        waiting_lines(&mut out, p, t, "  ");

        let waiting_note = match t.deferred.len() {
            0 => String::new(),
            n => format!("; {n} waiting for the user to write", n = Count(n)),
        };
        if t.has_new_changes() {
            let _ = writeln!(
                out,
                "  {} to block, {} to unblock, {} unchanged{waiting_note}",
                Count(new_blocks.len()),
                Count(plan.unblock.len()),
                Count(plan.unchanged)
            );
        } else if !t.deferred.is_empty() {
            let _ = writeln!(
                out,
                "  no new changes, {} unchanged{waiting_note}",
                Count(plan.unchanged)
            );
        } else {
            let _ = writeln!(out, "  in sync, {} unchanged", Count(plan.unchanged));
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

    push_errors(&mut out, p, errors);

    let n = targets.len();
    let mut summary = if n == 0 {
        "Nothing was planned.".to_string()
    } else if block + unblock == 0 && errors.is_empty() {
        format!(
            "No changes. {unchanged} unchanged across {n} target(s) (live lists match the files).",
            unchanged = Count(unchanged),
            n = Count(n)
        )
    } else if block + unblock == 0 {
        // Not "No changes": the targets that could not be planned may have some.
        format!(
            "Incomplete plan: nothing to change in the targets planned, {unchanged} unchanged across {n} target(s).",
            unchanged = Count(unchanged),
            n = Count(n)
        )
    } else {
        format!(
            "Plan: {block} to block, {unblock} to unblock, {unchanged} unchanged across {n} target(s).",
            block = Count(block),
            unblock = Count(unblock),
            unchanged = Count(unchanged),
            n = Count(n)
        )
    };
    if waiting > 0 {
        let _ = write!(
            summary,
            " {waiting} block(s) waiting for the user to write (not part of this change).",
            waiting = Count(waiting)
        );
    }
    if refused > 0 {
        let _ = write!(
            summary,
            " {refused} target(s) refused by a safety guard.",
            refused = Count(refused)
        );
    }
    if !errors.is_empty() {
        let _ = write!(
            summary,
            " {} target(s) could not be planned.",
            Count(errors.len())
        );
    }
    let _ = writeln!(out, "{}", p.paint(Style::Bold, &summary));
    out
}

/// Blocks the platform refused before under its 24-hour rule, apart from
/// the change's own: `~ user  (waiting for the user to write since DAY, N
/// attempts)`.
pub(super) fn waiting_lines(out: &mut String, p: Paint, t: &PlannedTarget, indent: &str) {
    for d in &t.deferred {
        let sign = p.paint(Style::Yellow, &format!("~ {}", d.user));
        let _ = writeln!(
            out,
            "{indent}{sign}  (waiting for the user to write since {}, {} attempt(s))",
            d.since_day(),
            d.attempts
        );
    }
}

/// What apply did, per target, then one summary line.
pub fn apply_text(applied: &[AppliedTarget], errors: &[TargetError], color: bool) -> String {
    let p = Paint(color);
    let mut out = String::new();
    let (mut blocked, mut unblocked, mut deferred, mut failed) = (0, 0, 0, 0);

    for a in applied {
        let r = &a.report;
        blocked += r.blocked.len();
        unblocked += r.unblocked.len();
        deferred += r.deferred.len();
        failed += r.failed.len();
        out.push_str(&header(p, &a.target));
        if let Some(why) = &r.refused {
            let _ = writeln!(
                out,
                "  {}",
                p.paint(
                    Style::BoldRed,
                    &format!("REFUSED, nothing sent: {}", one_line(why))
                )
            );
            out.push('\n');
            continue;
        }

        if !r.unblocked.is_empty() {
            let _ = writeln!(out, "  unblocked {}:", Count(r.unblocked.len()));
            for user in &r.unblocked {
                let _ = writeln!(out, "    {}", p.paint(Style::Red, &format!("- {user}")));
            }
        }
        if !r.blocked.is_empty() {
            let _ = writeln!(out, "  blocked {}:", Count(r.blocked.len()));
            for user in &r.blocked {
                let _ = writeln!(out, "    {}", p.paint(Style::Green, &format!("+ {user}")));
            }
        }
        if !r.deferred.is_empty() {
            let _ = writeln!(
                out,
                "  {}",
                p.paint(
                    Style::Yellow,
                    &format!("deferred {}:", Count(r.deferred.len()))
                )
            );
            for o in &r.deferred {
                let _ = writeln!(out, "    ~ {}  ({})", o.user, deferral(o));
            }
        }
        if !r.failed.is_empty() {
            let _ = writeln!(
                out,
                "  {}",
                p.paint(
                    Style::BoldRed,
                    &format!("failed {}:", Count(r.failed.len()))
                )
            );
            for o in &r.failed {
                let _ = writeln!(out, "    ! {}  ({})", o.user, outcome(o));
            }
        }
        let nothing = r.blocked.is_empty()
            && r.unblocked.is_empty()
            && r.deferred.is_empty()
            && r.failed.is_empty();
        if nothing {
            out.push_str("  nothing to change\n");
        }
        let mut tally = format!(
            "  {} request(s), {} retr{}",
            Count(r.requests),
            Count(r.retries),
            if r.retries == 1 { "y" } else { "ies" }
        );
        if r.skipped_already_done > 0 {
            let _ = write!(
                tally,
                ", {} already done (skipped)",
                Count(r.skipped_already_done)
            );
        }
        let _ = writeln!(out, "{tally}");
        out.push('\n');
    }

    push_errors(&mut out, p, errors);

    let n = applied.len();
    let mut summary = if n == 0 {
        "Nothing was applied.".to_string()
    } else if blocked + unblocked + deferred + failed == 0 {
        format!("No changes applied across {n} target(s).", n = Count(n))
    } else {
        format!(
            "Applied: {blocked} blocked, {unblocked} unblocked, {deferred} deferred, {failed} failed across {n} target(s).",
            blocked = Count(blocked),
            unblocked = Count(unblocked),
            deferred = Count(deferred),
            failed = Count(failed),
            n = Count(n)
        )
    };
    let refused = applied
        .iter()
        .filter(|a| a.report.refused.is_some())
        .count();
    if refused > 0 {
        let _ = write!(
            summary,
            " {refused} target(s) refused, nothing sent.",
            refused = Count(refused)
        );
    }
    if !errors.is_empty() {
        let _ = write!(
            summary,
            " {} target(s) could not be applied.",
            Count(errors.len())
        );
    }
    let _ = writeln!(out, "{}", p.paint(Style::Bold, &summary));
    out
}

/// `blocklists/shop.yaml  phone 8615800001795, nxcloud, exclusive`
pub(super) fn header(p: Paint, target: &Target) -> String {
    let file = target.file.display().to_string();
    format!(
        "{}  phone {}, {}, {}\n",
        p.paint(Style::Bold, &file),
        target.business_phone,
        target.provider.kind(),
        target.mode.as_str()
    )
}

/// Errors per file, each a block of its own like a target.
pub(super) fn push_errors(out: &mut String, p: Paint, errors: &[TargetError]) {
    for e in errors {
        let _ = writeln!(
            out,
            "{}",
            p.paint(Style::Bold, &e.file.display().to_string())
        );
        let _ = writeln!(
            out,
            "  {}",
            p.paint(Style::BoldRed, &format!("error: {}", one_line(&e.message)))
        );
        out.push('\n');
    }
}

fn deferral(o: &UserOutcome) -> String {
    if o.reason == "not_messaged_24h" {
        NOT_MESSAGED.to_string()
    } else {
        outcome(o)
    }
}

/// `131021 cannot_block_self: Recipient cannot be sender.`
fn outcome(o: &UserOutcome) -> String {
    let message = one_line(&o.message);
    if message.is_empty() {
        format!("{} {}", o.code, o.reason)
    } else {
        format!("{} {}: {message}", o.code, one_line(&o.reason))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::fixtures::*;

    /// ESC made visible, so colour snapshots can be reviewed as text.
    fn visible(s: &str) -> String {
        s.replace('\x1b', "\\e")
    }

    #[test]
    fn deferrals_are_shown_apart() {
        insta::assert_snapshot!(plan_text(&waiting(), &[], false));
    }

    #[test]
    fn users_known_by_bsuid() {
        let plan = plan_text(&[username_line()], &[], false);
        let apply = apply_text(&[username_applied()], &[], false);
        insta::assert_snapshot!(format!("{plan}\n{apply}"));
    }

    #[test]
    fn plan_plain() {
        let out = plan_text(&mixed_plan(), &[broken()], false);
        assert!(!out.contains('\x1b'));
        insta::assert_snapshot!(out);
    }

    #[test]
    fn plan_color() {
        insta::assert_snapshot!(visible(&plan_text(&mixed_plan(), &[broken()], true)));
    }

    #[test]
    fn plan_in_sync() {
        insta::assert_snapshot!(plan_text(&[bot()], &[], false));
    }

    #[test]
    fn apply_plain() {
        let out = apply_text(&applied(), &[broken()], false);
        assert!(!out.contains('\x1b'));
        insta::assert_snapshot!(out);
    }

    #[test]
    fn apply_color() {
        insta::assert_snapshot!(visible(&apply_text(&applied(), &[broken()], true)));
    }

    #[test]
    fn escape_codes_from_files_never_reach_the_output() {
        let t = target(
            "blocklists/evil.yaml",
            crate::config::ProviderSettings::Sandbox,
            crate::config::Mode::Exclusive,
            &[("8613300000001", Some("red\x1b[31m\nsecond line"), None)],
            &[],
        );
        let out = plan_text(&[planned(t, &[])], &[], false);
        assert!(!out.contains('\x1b'), "{out}");
        assert!(
            out.contains("+ 8613300000001  (red [31m second line)"),
            "{out}"
        );
    }
}
