//! The drift document (`drift --format json`): a contract like the plan and
//! report documents of docs/json-output.md, with its own wire types so the domain
//! can change without changing what pipelines read.
//!
//! `missing` and `unexpected` are the plan's `block` and `unblock` lists under
//! the names a scheduled check speaks; `unexpected` keeps the plan's reasons
//! (`not_in_file`, `expired`, `listed_in_unblock`) and their spelling.

use serde::{Deserialize, Serialize};

use super::super::json::{DeferralWire, ErrorWire, FORMAT_VERSION, UnblockWire, to_pretty};
use super::super::{PlannedTarget, TargetError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftDocument {
    pub format_version: u32,
    pub tool_version: String,
    /// RFC 3339, UTC: when the live lists were read.
    pub checked_at: String,
    pub targets: Vec<TargetDriftWire>,
    pub summary: DriftSummaryWire,
    /// Targets that could not be checked; absent when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ErrorWire>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetDriftWire {
    pub file: String,
    pub business_phone: String,
    pub provider: String,
    /// Desired but not live, in the files' spelling, sorted; known
    /// deferrals are under `deferred` instead.
    pub missing: Vec<String>,
    /// Desired blocks the platform refused under its 24-hour rule: waiting
    /// for the user to write, not drift. Absent when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deferred: Vec<DeferralWire>,
    /// Live but not desired, in the live spelling, sorted, with the reason.
    pub unexpected: Vec<UnblockWire>,
    /// Live users the files agree with.
    pub in_sync: u64,
    /// What a reader must know (for WAHA: drift cannot see blocks made
    /// outside the tool). Absent when there is none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftSummaryWire {
    /// Targets checked (those with errors are under `errors` instead).
    pub targets: u64,
    /// Targets with at least one missing or unexpected user.
    pub drifted: u64,
    pub missing: u64,
    pub unexpected: u64,
    pub in_sync: u64,
    /// Known deferrals across targets; absent when there are none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub deferred: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

pub fn drift_document(
    targets: &[PlannedTarget],
    errors: &[TargetError],
    checked_at: &str,
) -> DriftDocument {
    let targets: Vec<TargetDriftWire> = targets.iter().map(TargetDriftWire::from).collect();
    let summary = DriftSummaryWire {
        targets: targets.len() as u64,
        drifted: targets
            .iter()
            .filter(|t| !t.missing.is_empty() || !t.unexpected.is_empty())
            .count() as u64,
        missing: targets.iter().map(|t| t.missing.len() as u64).sum(),
        unexpected: targets.iter().map(|t| t.unexpected.len() as u64).sum(),
        in_sync: targets.iter().map(|t| t.in_sync).sum(),
        deferred: targets.iter().map(|t| t.deferred.len() as u64).sum(),
    };
    DriftDocument {
        format_version: FORMAT_VERSION,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        checked_at: checked_at.to_string(),
        targets,
        summary,
        errors: errors.iter().map(ErrorWire::from).collect(),
    }
}

/// The drift document, pretty-printed with a trailing newline.
pub fn drift_json(targets: &[PlannedTarget], errors: &[TargetError], checked_at: &str) -> String {
    to_pretty(&drift_document(targets, errors, checked_at))
}

impl From<&PlannedTarget> for TargetDriftWire {
    fn from(t: &PlannedTarget) -> Self {
        TargetDriftWire {
            file: t.target.file.display().to_string(),
            business_phone: t.target.business_phone.clone(),
            provider: t.target.provider.kind().to_string(),
            missing: t.new_blocks().map(|u| u.id().to_string()).collect(),
            deferred: t.deferred.iter().map(DeferralWire::from).collect(),
            unexpected: t.plan.unblock.iter().map(UnblockWire::from).collect(),
            in_sync: t.plan.unchanged as u64,
            notes: t.notes.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::render::fixtures::*;

    #[test]
    fn fields_and_values() {
        let text = drift_json(&mixed_plan(), &[broken()], CREATED_AT);
        assert!(text.ends_with("}\n"));
        let v: Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(v["format_version"], json!(1));
        assert_eq!(v["checked_at"], json!(CREATED_AT));
        let support = &v["targets"][0];
        assert_eq!(
            support["missing"],
            json!(["8613300000001", "8613300000002", "8613300000005"])
        );
        assert_eq!(
            support["unexpected"][0],
            json!({"user": "8613300000003", "reason": "expired"})
        );
        assert_eq!(support["in_sync"], json!(1));
        assert_eq!(
            v["summary"],
            json!({"targets": 4, "drifted": 3, "missing": 4, "unexpected": 7, "in_sync": 5})
        );
        assert_eq!(v["errors"][0]["file"], json!("blocklists/broken.yaml"));

        // Field order is part of what a reader sees.
        let order = [
            "\"format_version\"",
            "\"tool_version\"",
            "\"checked_at\"",
            "\"targets\"",
            "\"file\"",
            "\"business_phone\"",
            "\"provider\"",
            "\"missing\"",
            "\"unexpected\"",
            "\"in_sync\"",
            "\"summary\"",
            "\"errors\"",
        ];
        let at: Vec<usize> = order.iter().filter_map(|k| text.find(k)).collect();
        assert_eq!(at.len(), order.len(), "{text}");
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{text}");
    }

    #[test]
    fn no_errors_key_when_there_are_none_and_it_reads_back() {
        let text = drift_json(&[bot()], &[], CREATED_AT);
        assert!(!text.contains("\"errors\""), "{text}");
        let back: DriftDocument = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(back, drift_document(&[bot()], &[], CREATED_AT));
    }
}
