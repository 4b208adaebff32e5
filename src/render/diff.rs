//! `plan --format diff`: per target, a unified diff of the sorted live list
//! against the sorted desired list, one number per line, for people who
//! review changes as diffs (and tools that colour them).
//!
//! The two sides are the lists as they are: live numbers in the spelling the
//! platform returned, desired ones as the files spell them. A Mexican or
//! Brazilian `wa_id` variant therefore shows as a `-`/`+` pair even though
//! the plan treats them as one user, and in additive mode live numbers the
//! files do not list show as `-` lines though apply keeps them. The text
//! rendering is the one that says what apply will do.

use similar::TextDiff;

use super::PlannedTarget;

/// Unified diffs, one after the other, of every target whose plan has
/// changes. Targets in sync produce nothing, so an empty output means
/// nothing to do.
pub fn plan_diff(targets: &[PlannedTarget]) -> String {
    let mut out = String::new();
    for t in targets {
        if !t.plan.has_changes() {
            continue;
        }
        let live = lines(&t.plan.live);
        let desired = lines(&t.plan.desired);
        let file = t.target.file.display();
        let diff = TextDiff::from_lines(&live, &desired);
        out.push_str(
            &diff
                .unified_diff()
                .header(&format!("live/{file}"), &format!("desired/{file}"))
                .to_string(),
        );
    }
    out
}

/// One number per line, each ending in `\n`, so the last line is not
/// flagged "\ No newline at end of file".
fn lines(users: &[String]) -> String {
    let mut s = String::with_capacity(users.iter().map(|u| u.len() + 1).sum());
    for u in users {
        s.push_str(u);
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::fixtures::*;

    #[test]
    fn one_diff_per_target_with_changes() {
        let out = plan_diff(&[support_line(), bot()]);
        assert_eq!(
            out,
            "\
--- live/blocklists/support-line.yaml
+++ desired/blocklists/support-line.yaml
@@ -1,4 +1,4 @@
-8613300000003
+8613300000001
+8613300000002
 8613300000004
-8613300000007
-8613300000008
+8613300000005
"
        );
    }

    #[test]
    fn in_sync_targets_produce_nothing() {
        assert_eq!(plan_diff(&[bot()]), "");
    }

    #[test]
    fn mixed() {
        insta::assert_snapshot!(plan_diff(&mixed_plan()));
    }
}
