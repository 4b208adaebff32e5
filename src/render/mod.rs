//! Plan and report renderings, one file per format. Renderers are pure:
//! they turn results into text and never print or fetch anything.
//!
//! `text` is for terminals and CI logs, `markdown` for PR comments and
//! `$GITHUB_STEP_SUMMARY`, `json` for pipelines (a contract: docs/json-output.md)
//! and `diff` for people who think in diffs. `drift` holds all three
//! renderings of the scheduled drift check.

use std::path::PathBuf;

use crate::apply::TargetReport;
use crate::config::{Entry, Target};
use crate::deferral::Deferral;
use crate::plan::{Plan, Unblock, UnblockReason};
use crate::safety::Refusal;
use crate::user::{Lookup, User};

mod budget;
mod diff;
pub mod drift;
mod json;
mod markdown;
pub mod restore;
mod text;

#[cfg(test)]
mod fixtures;

pub use budget::GITHUB_COMMENT_LIMIT;
pub use diff::plan_diff;
pub use drift::{DriftDocument, drift_document, drift_json, drift_markdown, drift_text};
pub use json::{
    ErrorWire, FORMAT_VERSION, ModeWire, OutcomeWire, PlanDocument, PlanSummaryWire, RefusalWire,
    ReportDocument, ReportSummaryWire, TargetPlanWire, TargetReportWire, UnblockWire, apply_json,
    plan_document, plan_json, report_document,
};
pub use markdown::{apply_markdown, plan_markdown};
pub(crate) use markdown::{code_span, escape as escape_markdown};
pub use text::{apply_text, plan_text};

/// One target's plan with everything a reader needs around it.
#[derive(Debug, Clone)]
pub struct PlannedTarget {
    /// The validated file (path, phone, provider, mode, entries with reasons).
    pub target: Target,
    pub plan: Plan,
    /// A tripped safety guard: shown so reviewers see it before merging.
    pub refused: Option<Refusal>,
    /// Things the reader must know about this target, e.g. for WAHA that
    /// blocks made outside the tool are invisible to it.
    pub notes: Vec<String>,
    /// Those of the plan's blocks the state knows the platform refused
    /// before (the 24-hour rule): sent again, but shown apart, as waiting
    /// for the user to write rather than as this change's own work.
    pub deferred: Vec<Deferral>,
}

impl PlannedTarget {
    /// The blocks that are not known deferrals: what this change itself adds.
    pub fn new_blocks(&self) -> impl Iterator<Item = &User> {
        let waiting: std::collections::HashSet<&User> =
            self.deferred.iter().map(|d| &d.user).collect();
        self.plan.block.iter().filter(move |u| !waiting.contains(u))
    }

    /// Changes other than blocks waiting for their users to write: what
    /// `--detailed-exitcode` and drift count.
    pub fn has_new_changes(&self) -> bool {
        !self.plan.unblock.is_empty() || self.plan.block.len() > self.deferred.len()
    }
}

/// One target's apply report.
#[derive(Debug, Clone)]
pub struct AppliedTarget {
    pub target: Target,
    pub report: TargetReport,
}

/// A target that could not be planned or applied (network, auth, API error).
#[derive(Debug, Clone)]
pub struct TargetError {
    pub file: PathBuf,
    /// The whole cause chain, already free of secrets.
    pub message: String,
}

/// The `--format` values of `plan`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Human-readable, for terminals and CI logs.
    #[default]
    Text,
    /// GitHub-flavoured markdown, for PR comments and step summaries.
    Markdown,
    /// Versioned JSON documents, described in docs/json-output.md.
    Json,
    /// A unified diff of the sorted live list against the list as apply will leave it.
    Diff,
}

/// The `--format` values of the other commands: `diff` only means something
/// for plans, so it is not offered (clap refuses it, exit 1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// Human-readable, for terminals and CI logs.
    #[default]
    Text,
    /// GitHub-flavoured markdown, for PR comments, issues and step summaries.
    Markdown,
    /// Versioned JSON documents, described in docs/json-output.md.
    Json,
}

/// Looks up what the files say about a planned user, so text and markdown can
/// show why a number is blocked or unblocked. Built once per target because a
/// plan may hold 64 000 blocks and a linear search per line would be quadratic.
pub(crate) struct EntryIndex<'a> {
    /// `blocked:` entries. Blocks carry the file's own ids; unblocks carry
    /// the live ids, which may be the other `wa_id` variant or the other id
    /// of a person the file names, so all are found by either id.
    blocked: Lookup<&'a Entry>,
    /// Expired `blocked:` entries.
    expired: Lookup<&'a Entry>,
    /// `unblock:` entries.
    unblock: Lookup<&'a Entry>,
}

impl<'a> EntryIndex<'a> {
    pub(crate) fn new(target: &'a Target) -> Self {
        let mut blocked = Lookup::with_capacity(target.blocked.len());
        let mut expired = Lookup::default();
        for entry in &target.blocked {
            blocked.insert(&entry.user, entry);
            if entry.expires.is_some() {
                expired.insert(&entry.user, entry);
            }
        }
        let mut unblock = Lookup::default();
        for entry in &target.unblock {
            unblock.insert(&entry.user, entry);
        }
        EntryIndex {
            blocked,
            expired,
            unblock,
        }
    }

    /// The file's reason and expiry for a user to block, e.g.
    /// `phishing links; expires 2027-01-31`, or `None` for a bare number.
    pub(crate) fn block_detail(&self, user: &User) -> Option<String> {
        let entry = self.blocked.get(user)?;
        let reason = entry.reason.as_deref().map(one_line);
        let expires = entry.expires.map(|d| format!("expires {d}"));
        match (reason, expires) {
            (Some(r), Some(e)) => Some(format!("{r}; {e}")),
            (Some(r), None) => Some(r),
            (None, Some(e)) => Some(e),
            (None, None) => None,
        }
    }

    /// Why a user is unblocked, in words: `not in file`, `expired 2026-01-01`,
    /// `listed in unblock: appeal accepted`.
    pub(crate) fn unblock_detail(&self, unblock: &Unblock) -> String {
        match unblock.reason {
            UnblockReason::NotInFile => "not in file".to_string(),
            UnblockReason::Expired => match self.expired.get(&unblock.user).and_then(|e| e.expires)
            {
                Some(date) => format!("expired {date}"),
                None => "expired".to_string(),
            },
            UnblockReason::ListedInUnblock => match self
                .unblock
                .get(&unblock.user)
                .and_then(|e| e.reason.as_deref())
            {
                Some(reason) => format!("listed in unblock: {}", one_line(reason)),
                None => "listed in unblock".to_string(),
            },
        }
    }
}

/// Text from files and servers, made safe for one line of output: newlines
/// would break the line structure, and control characters (ESC above all)
/// would let a reason in a YAML file write escape codes into a terminal.
pub(crate) fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split(|c: char| c.is_whitespace() || c.is_control()) {
        if word.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Users as a comma-separated list for one line of a message.
pub fn user_list(users: &[User]) -> String {
    let shown: Vec<String> = users.iter().map(User::to_string).collect();
    shown.join(", ")
}

/// A count as users read it, in every text and markdown rendering: digits
/// grouped in threes with commas (`64,000`), so one style is used
/// everywhere. JSON keeps plain numbers.
#[derive(Debug, Clone, Copy)]
pub struct Count<T>(pub T);

impl<T: std::fmt::Display> std::fmt::Display for Count<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let digits = self.0.to_string();
        if digits.len() <= 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return f.write_str(&digits);
        }
        let mut out = String::with_capacity(digits.len() + digits.len() / 3);
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        f.write_str(&out)
    }
}

#[cfg(test)]
mod count_tests {
    use super::Count;

    #[test]
    fn counts_are_grouped_by_commas() {
        for (n, shown) in [
            (0u64, "0"),
            (999, "999"),
            (1_000, "1,000"),
            (64_000, "64,000"),
            (65_536, "65,536"),
            (1_234_567, "1,234,567"),
        ] {
            assert_eq!(Count(n).to_string(), shown);
        }
    }
}
