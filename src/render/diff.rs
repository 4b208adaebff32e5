//! `plan --format diff`: per target, a unified diff of the sorted live list
//! against the sorted desired list, one number per line, for people who
//! review changes as diffs (and tools that colour them).
//!
//! The right-hand side is the list as it will be once the plan is carried
//! out (live, minus unblocks, plus blocks), not the raw desired set: in
//! additive mode live users the files do not list stay, and a Mexican or
//! Brazilian `wa_id` variant the plan treats as one user keeps its live
//! spelling, so neither shows up as a change that apply would not make.

use std::fmt::Write as _;

use crate::user::User;
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
        let desired = lines(&after_apply(&t.plan));
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

/// The live list once every planned change has succeeded, sorted.
fn after_apply(plan: &crate::plan::Plan) -> Vec<User> {
    let gone: std::collections::HashSet<&User> = plan.unblock.iter().map(|u| &u.user).collect();
    let mut after: Vec<User> = plan
        .live
        .iter()
        .filter(|u| !gone.contains(u))
        .chain(plan.block.iter())
        .cloned()
        .collect();
    crate::plan::sort_by_id(&mut after);
    after
}

/// One number per line, each ending in `\n`, so the last line is not
/// flagged "\ No newline at end of file".
fn lines(users: &[User]) -> String {
    let mut s = String::with_capacity(users.len() * 16);
    for u in users {
        let _ = writeln!(s, "{u}");
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
    fn additive_mode_keeps_unlisted_live_users_on_both_sides() {
        // 11 was blocked outside the files and stays; 12 is in `unblock:`.
        assert_eq!(
            plan_diff(&[shop()]),
            "\
--- live/blocklists/shop.yaml
+++ desired/blocklists/shop.yaml
@@ -1,2 +1,2 @@
+8613300000010
 8613300000011
-8613300000012
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
