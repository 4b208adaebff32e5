//! Reviewed plans: `apply --plan FILE` applies what a reviewer approved, and
//! nothing else.
//!
//! The plan file is re-checked against a fresh plan made from the files and
//! live lists as they are now. Every change needed now must be in the
//! reviewed plan; changes in it that are no longer needed (done meanwhile)
//! are skipped and counted; anything new, or files edited since the plan was
//! made (their desired fingerprint changed), refuses that target.

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};

use anyhow::Context;

use crate::config::Mode;
use crate::render::PlannedTarget;
use crate::render::{FORMAT_VERSION, ModeWire, PlanDocument, TargetPlanWire};
use crate::user::{Lookup, User};

/// Read a plan file, refusing one from another tool or format version: its
/// meaning may differ from what this version would do.
pub fn read(path: &Path) -> anyhow::Result<Result<PlanDocument, String>> {
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot read the plan {}", path.display()))?;
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a JSON plan", path.display()))?;
    let format = value.get("format_version").and_then(|v| v.as_u64());
    let tool = value.get("tool_version").and_then(|v| v.as_str());
    let ours = env!("CARGO_PKG_VERSION");
    if format != Some(u64::from(FORMAT_VERSION)) || tool != Some(ours) {
        return Ok(Err(format!(
            "{} was made by blocklist {} (plan format {}); this is blocklist {ours} (plan format {FORMAT_VERSION}). \
             Make a new plan with this version and review it.",
            path.display(),
            tool.unwrap_or("of an unknown version"),
            format.map_or("unknown".to_string(), |f| f.to_string()),
        )));
    }
    let doc = serde_json::from_value(value)
        .with_context(|| format!("{} is not a valid plan", path.display()))?;
    Ok(Ok(doc))
}

/// The files a reviewed plan covers, for `apply --plan FILE` without paths.
pub fn files(doc: &PlanDocument) -> Vec<std::path::PathBuf> {
    doc.targets.iter().map(|t| t.file.clone().into()).collect()
}

/// Whether a target may be applied under the reviewed plan.
#[derive(Debug, PartialEq, Eq)]
pub enum Review {
    /// Every change needed now was reviewed; `skipped` reviewed changes are
    /// no longer needed (already done).
    Approved { skipped: usize },
    /// What differs from the reviewed plan, one line each.
    Stale(Vec<String>),
}

/// Compare a fresh plan with the reviewed plan document.
///
/// A target is found in the plan by its business phone and its file, the
/// file compared as [`resolved`]: `plan bl/` and `apply ./bl` (or the
/// absolute path) name the same files differently.
pub fn check(doc: &PlanDocument, now: &PlannedTarget) -> Review {
    let file = now.target.file.display().to_string();
    let here = resolved(&now.target.file);
    let phone = &now.target.business_phone;
    let mut same_phone = doc.targets.iter().filter(|t| &t.business_phone == phone);
    let Some(reviewed) = same_phone
        .clone()
        .find(|t| resolved(Path::new(&t.file)) == here)
    else {
        if !now.plan.has_changes() {
            return Review::Approved { skipped: 0 };
        }
        // Say which paths were compared, so a spelling problem is plain.
        let why = match same_phone.next() {
            Some(other) => format!(
                "{file} (resolved: {}) is not in the reviewed plan, which has business phone {phone} under {} (resolved: {})",
                here.display(),
                other.file,
                resolved(Path::new(&other.file)).display()
            ),
            None => format!(
                "{file} (resolved: {}) is not in the reviewed plan, which has no target for business phone {phone}",
                here.display()
            ),
        };
        return Review::Stale(vec![why]);
    };
    compare(reviewed, now)
}

/// `file` as targets are matched by: made absolute from the working
/// directory, with `.`, `..` and symbolic links resolved, then relative to
/// the working directory again when it lies inside it (so a plan made in one
/// checkout applies in another checkout of the same repository). A path
/// that does not exist (a plan's file since deleted) is tidied by its
/// components alone.
pub fn resolved(file: &Path) -> PathBuf {
    let cwd = std::env::current_dir().ok();
    let absolute = match &cwd {
        Some(cwd) if file.is_relative() => cwd.join(file),
        _ => file.to_path_buf(),
    };
    let canonical = std::fs::canonicalize(&absolute).unwrap_or_else(|_| tidy(&absolute));
    // A file that exists is compared with the canonical working directory;
    // one that does not was only tidied, so with the directory as named.
    let inside = cwd.as_deref().and_then(|cwd| {
        let real = std::fs::canonicalize(cwd).ok();
        real.iter()
            .map(PathBuf::as_path)
            .chain([cwd])
            .find_map(|dir| canonical.strip_prefix(dir).ok())
            .map(Path::to_path_buf)
    });
    inside.unwrap_or(canonical)
}

/// `a/./b/../c` as `a/c`, by the components alone.
fn tidy(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

fn compare(reviewed: &TargetPlanWire, now: &PlannedTarget) -> Review {
    let mut differences = Vec::new();
    if reviewed.desired_fingerprint != now.plan.desired_fingerprint {
        differences.push(format!(
            "the files changed since the plan was made, or an entry expired (desired fingerprint {} is now {})",
            reviewed.desired_fingerprint, now.plan.desired_fingerprint
        ));
    }
    let mode_now = match now.target.mode {
        Mode::Exclusive => ModeWire::Exclusive,
        Mode::Additive => ModeWire::Additive,
    };
    if reviewed.mode != mode_now {
        differences.push(format!(
            "mode changed from {} to {} since the plan was made",
            mode_name(reviewed.mode),
            now.target.mode.as_str()
        ));
    }
    let reviewed_blocks: HashSet<&str> = reviewed.block.iter().map(String::as_str).collect();
    let reviewed_unblocks: HashSet<&str> =
        reviewed.unblock.iter().map(|u| u.user.as_str()).collect();
    for user in &now.plan.block {
        if !reviewed_blocks.contains(user.id()) {
            differences.push(format!("block {user} was not in the reviewed plan"));
        }
    }
    for u in &now.plan.unblock {
        if !reviewed_unblocks.contains(u.user.id()) {
            differences.push(format!("unblock {} was not in the reviewed plan", u.user));
        }
    }
    if !differences.is_empty() {
        return Review::Stale(differences);
    }
    // Everything needed now was reviewed. Of the rest of the reviewed plan,
    // only what the live list shows done counts as done (an earlier apply,
    // or someone else); a reviewed change that is simply no longer wanted is
    // not sent, and not claimed either.
    let mut live = Lookup::with_capacity(now.plan.live.len());
    for user in &now.plan.live {
        live.insert(user, ());
    }
    let is_live = |id: &str, user_id: Option<&String>| {
        let user = User::from_id(id).map(|u| u.with_user_id(user_id.cloned()));
        user.is_some_and(|u| live.contains(&u))
    };
    let needed_blocks: HashSet<&str> = now.plan.block.iter().map(User::id).collect();
    let needed_unblocks: HashSet<&str> = now.plan.unblock.iter().map(|u| u.user.id()).collect();
    let blocks_done = reviewed
        .block
        .iter()
        .filter(|u| !needed_blocks.contains(u.as_str()) && is_live(u, None))
        .count();
    let unblocks_done = reviewed
        .unblock
        .iter()
        .filter(|u| {
            !needed_unblocks.contains(u.user.as_str()) && !is_live(&u.user, u.user_id.as_ref())
        })
        .count();
    Review::Approved {
        skipped: blocks_done + unblocks_done,
    }
}

fn mode_name(mode: ModeWire) -> &'static str {
    match mode {
        ModeWire::Exclusive => "exclusive",
        ModeWire::Additive => "additive",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::plan_document;

    fn planned(blocked: &[&str], live: &[&str]) -> PlannedTarget {
        let entries = blocked
            .iter()
            .map(|u| crate::config::Entry {
                user: User::from(*u),
                reason: None,
                expires: None,
                at: crate::config::Location {
                    file: "t.yaml".into(),
                    line: 1,
                    column: 1,
                },
            })
            .collect();
        let target = crate::config::Target {
            file: "t.yaml".into(),
            business_phone: "8615800001795".into(),
            provider: crate::config::ProviderSettings::Sandbox,
            mode: crate::config::Mode::Exclusive,
            blocked: entries,
            unblock: Vec::new(),
            safety: Default::default(),
            includes: Vec::new(),
        };
        let live: Vec<User> = live.iter().map(|s| User::from(*s)).collect();
        let today = crate::date::Date::parse("2026-11-21").unwrap();
        PlannedTarget {
            plan: crate::plan::plan(&target, &live, today),
            target,
            refused: None,
            notes: Vec::new(),
            deferred: Vec::new(),
        }
    }

    fn reviewed(p: &PlannedTarget) -> PlanDocument {
        let mut doc = plan_document(std::slice::from_ref(p), &[], "2026-11-21T10:00:00Z");
        doc.tool_version = env!("CARGO_PKG_VERSION").into();
        doc
    }

    #[test]
    fn the_same_plan_is_approved() {
        let p = planned(&["8613300000001"], &["8613300000007"]);
        assert_eq!(check(&reviewed(&p), &p), Review::Approved { skipped: 0 });
    }

    #[test]
    fn changes_done_meanwhile_are_skipped_and_counted() {
        let before = planned(&["8613300000001", "8613300000002"], &["8613300000007"]);
        // Since the review, 01 was blocked and 07 unblocked.
        let now = planned(&["8613300000001", "8613300000002"], &["8613300000001"]);
        assert_eq!(
            check(&reviewed(&before), &now),
            Review::Approved { skipped: 2 }
        );
    }

    #[test]
    fn a_new_unblock_refuses_with_what_differs() {
        let before = planned(&["8613300000001"], &["8613300000001"]);
        // Someone blocked 09 by hand since: the file would now unblock it.
        let now = planned(&["8613300000001"], &["8613300000001", "8613300000009"]);
        let Review::Stale(why) = check(&reviewed(&before), &now) else {
            panic!("approved")
        };
        assert_eq!(why, ["unblock 8613300000009 was not in the reviewed plan"]);
    }

    #[test]
    fn edited_files_refuse_even_when_the_changes_look_alike() {
        let before = planned(&["8613300000001"], &[]);
        let now = planned(&["8613300000001", "8613300000002"], &["8613300000002"]);
        let Review::Stale(why) = check(&reviewed(&before), &now) else {
            panic!("approved")
        };
        assert!(
            why[0].contains("the files changed since the plan was made"),
            "{why:?}"
        );
    }

    #[test]
    fn a_target_missing_from_the_plan_may_only_be_in_sync() {
        let other = planned(&["8613300000001"], &[]);
        let mut doc = reviewed(&other);
        doc.targets[0].file = "other.yaml".into();
        assert!(matches!(check(&doc, &other), Review::Stale(_)));
        let in_sync = planned(&["8613300000001"], &["8613300000001"]);
        assert_eq!(check(&doc, &in_sync), Review::Approved { skipped: 0 });
    }

    #[test]
    fn a_reviewed_change_no_longer_wanted_is_neither_sent_nor_claimed_done() {
        // Reviewed: unblock 07. Then 07 is added to the file (fingerprint
        // changes, so that alone refuses); with the fingerprint unchanged, a
        // change that is not needed and not live-done is not counted.
        let before = planned(&["8613300000001"], &["8613300000001", "8613300000007"]);
        let doc = reviewed(&before);
        let now = planned(
            &["8613300000001", "8613300000007"],
            &["8613300000001", "8613300000007"],
        );
        assert!(matches!(check(&doc, &now), Review::Stale(_)));
        let mut same_files = planned(&["8613300000001"], &["8613300000001"]);
        same_files.plan.live.push("8613300000007".into());
        assert_eq!(check(&doc, &same_files), Review::Approved { skipped: 0 });
    }

    #[test]
    fn a_mode_switch_since_the_review_refuses() {
        let before = planned(&["8613300000001"], &["8613300000007"]);
        let doc = reviewed(&before);
        let mut now = planned(&["8613300000001"], &["8613300000007"]);
        now.target.mode = Mode::Additive;
        now.plan = crate::plan::plan(
            &now.target,
            &crate::user::phones(&["8613300000007"]),
            crate::date::Date::parse("2026-11-21").unwrap(),
        );
        let Review::Stale(why) = check(&doc, &now) else {
            panic!("approved")
        };
        assert!(
            why.iter()
                .any(|w| w.contains("mode changed from exclusive to additive")),
            "{why:?}"
        );
    }

    #[test]
    fn a_file_is_found_however_its_path_is_spelled() {
        let p = planned(&["8613300000001"], &["8613300000007"]);
        let cwd = std::env::current_dir().unwrap();
        for spelling in [
            "./t.yaml".to_string(),
            "x/../t.yaml".to_string(),
            cwd.join("t.yaml").display().to_string(),
        ] {
            let mut doc = reviewed(&p);
            doc.targets[0].file = spelling.clone();
            assert_eq!(
                check(&doc, &p),
                Review::Approved { skipped: 0 },
                "{spelling}"
            );
        }
        assert_eq!(
            resolved(Path::new("./a/./b/../t.yaml")),
            Path::new("a/t.yaml")
        );
    }

    #[test]
    fn a_file_not_in_the_plan_says_which_paths_were_compared() {
        let p = planned(&["8613300000001"], &["8613300000007"]);
        let mut doc = reviewed(&p);
        doc.targets[0].file = "other/./t.yaml".into();
        assert_eq!(
            check(&doc, &p),
            Review::Stale(vec![
                "t.yaml (resolved: t.yaml) is not in the reviewed plan, which has business phone 8615800001795 under other/./t.yaml (resolved: other/t.yaml)".into()
            ])
        );
        doc.targets[0].business_phone = "8615800009999".into();
        let Review::Stale(why) = check(&doc, &p) else {
            panic!("approved")
        };
        assert!(
            why[0].ends_with("which has no target for business phone 8615800001795"),
            "{why:?}"
        );
    }

    #[test]
    fn plans_from_another_version_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.json");
        let p = planned(&["8613300000001"], &[]);
        let mut doc = reviewed(&p);
        doc.tool_version = "0.0.1".into();
        std::fs::write(&path, serde_json::to_vec(&doc).unwrap()).unwrap();
        let refused = read(&path).unwrap().unwrap_err();
        assert!(refused.contains("blocklist 0.0.1"), "{refused}");
        doc.tool_version = env!("CARGO_PKG_VERSION").into();
        doc.format_version = 2;
        std::fs::write(&path, serde_json::to_vec(&doc).unwrap()).unwrap();
        assert!(read(&path).unwrap().unwrap_err().contains("plan format 2"));
        std::fs::write(&path, b"{not json").unwrap();
        assert!(format!("{:#}", read(&path).unwrap_err()).contains("is not a JSON plan"));
    }
}
