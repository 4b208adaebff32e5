//! The JSON documents of docs/json-output.md: a contract pipelines depend on, and
//! the format `apply --plan FILE` reads back.
//!
//! These wire types are deliberately separate from the domain types (after
//! ripgrep's `jsont`): renaming a field or variant inside the tool must never
//! change the format by accident. Field order here is the order in the spec,
//! and serde keeps it. A change to this file is a change to the contract:
//! bump `format_version` for anything a reader could notice.

use crate::deferral::Deferral;
use crate::user::User;
use serde::{Deserialize, Serialize};

use super::{AppliedTarget, PlannedTarget, TargetError};
use crate::apply::UserOutcome;
use crate::config::Mode;
use crate::plan::{Unblock, UnblockReason};
use crate::safety::{Figure, Refusal, Rule};

/// The version of both documents' layout.
pub const FORMAT_VERSION: u32 = 1;

/// `plan --format json` and `plan --out FILE`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanDocument {
    pub format_version: u32,
    pub tool_version: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub targets: Vec<TargetPlanWire>,
    pub summary: PlanSummaryWire,
    /// Targets that could not be planned. Absent when there are none, so the
    /// common document is exactly the one in the spec.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ErrorWire>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetPlanWire {
    pub file: String,
    pub business_phone: String,
    pub provider: String,
    pub mode: ModeWire,
    pub desired_count: u64,
    pub live_count: u64,
    pub desired_fingerprint: String,
    pub live_fingerprint: String,
    pub block: Vec<String>,
    pub unblock: Vec<UnblockWire>,
    pub unchanged: u64,
    /// Serialised as `null` when no guard tripped (the field is always present).
    pub refused: Option<RefusalWire>,
    /// What a reader must know about this target (e.g. for WAHA, that blocks
    /// made outside the tool are invisible to it). Absent when there is none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Those of `block` the state knows the platform refused before (the
    /// 24-hour rule). Absent when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deferred: Vec<DeferralWire>,
}

/// A known deferral: `{"user", "user_id"?, "since", "attempts", "code"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeferralWire {
    /// Phone digits, or the BSUID when no phone is known.
    pub user: String,
    /// The BSUID beside the phone, when both are known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// RFC 3339, UTC: when the platform first refused the block.
    pub since: String,
    pub attempts: u32,
    pub code: i64,
}

impl From<&Deferral> for DeferralWire {
    fn from(d: &Deferral) -> Self {
        DeferralWire {
            user: d.user.id().to_string(),
            user_id: d.user.extra_user_id().map(str::to_string),
            since: d.since.clone(),
            attempts: d.attempts,
            code: d.code,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModeWire {
    Exclusive,
    Additive,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnblockWire {
    /// Phone digits, or the BSUID when no phone is known.
    pub user: String,
    /// The BSUID beside the phone, when both are known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    pub reason: UnblockReasonWire,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnblockReasonWire {
    NotInFile,
    Expired,
    ListedInUnblock,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefusalWire {
    pub rule: RuleWire,
    pub limit: FigureWire,
    pub actual: FigureWire,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleWire {
    MaxUnblocks,
    MaxUnblockRatio,
    EmptyDesiredSet,
    Capacity,
}

/// A bare JSON number: counts are integers (`100`), ratios floats (`0.25`).
/// Untagged, and tried in this order, so `100` reads back as a count and
/// `0.25` or `1.0` as a ratio.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FigureWire {
    Count(u64),
    Ratio(f64),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanSummaryWire {
    pub targets: u64,
    pub block: u64,
    pub unblock: u64,
    pub unchanged: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorWire {
    pub file: String,
    pub message: String,
}

/// `apply --format json` and `apply --report FILE`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportDocument {
    pub format_version: u32,
    pub targets: Vec<TargetReportWire>,
    pub summary: ReportSummaryWire,
    /// Targets that could not be applied; absent when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ErrorWire>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetReportWire {
    pub file: String,
    pub business_phone: String,
    pub provider: String,
    pub blocked: Vec<String>,
    pub unblocked: Vec<String>,
    pub deferred: Vec<OutcomeWire>,
    pub failed: Vec<OutcomeWire>,
    pub skipped_already_done: u64,
    pub requests: u64,
    pub retries: u64,
    /// Why nothing was sent for this target (exit 3). Absent when applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    /// The target's mode, so `blocklist show` can say it again. Optional:
    /// added within format version 1, so older reports lack it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<ModeWire>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeWire {
    /// Phone digits, or the BSUID when no phone is known.
    pub user: String,
    /// The BSUID beside the phone, when both are known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    pub code: i64,
    pub reason: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportSummaryWire {
    pub blocked: u64,
    pub unblocked: u64,
    pub deferred: u64,
    pub failed: u64,
}

/// The plan document, for `plan --out FILE` and for [`plan_json`].
pub fn plan_document(
    targets: &[PlannedTarget],
    errors: &[TargetError],
    created_at: &str,
) -> PlanDocument {
    let targets: Vec<TargetPlanWire> = targets.iter().map(TargetPlanWire::from).collect();
    let summary = PlanSummaryWire {
        targets: targets.len() as u64,
        block: targets.iter().map(|t| t.block.len() as u64).sum(),
        unblock: targets.iter().map(|t| t.unblock.len() as u64).sum(),
        unchanged: targets.iter().map(|t| t.unchanged).sum(),
    };
    PlanDocument {
        format_version: FORMAT_VERSION,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        created_at: created_at.to_string(),
        targets,
        summary,
        errors: errors.iter().map(ErrorWire::from).collect(),
    }
}

/// The plan document, pretty-printed with a trailing newline.
pub fn plan_json(targets: &[PlannedTarget], errors: &[TargetError], created_at: &str) -> String {
    to_pretty(&plan_document(targets, errors, created_at))
}

/// The apply report document, for `apply --report FILE` and [`apply_json`].
pub fn report_document(applied: &[AppliedTarget], errors: &[TargetError]) -> ReportDocument {
    let targets: Vec<TargetReportWire> = applied.iter().map(TargetReportWire::from).collect();
    let total = |f: fn(&TargetReportWire) -> usize| targets.iter().map(|t| f(t) as u64).sum();
    let summary = ReportSummaryWire {
        blocked: total(|t| t.blocked.len()),
        unblocked: total(|t| t.unblocked.len()),
        deferred: total(|t| t.deferred.len()),
        failed: total(|t| t.failed.len()),
    };
    ReportDocument {
        format_version: FORMAT_VERSION,
        targets,
        summary,
        errors: errors.iter().map(ErrorWire::from).collect(),
    }
}

/// The apply report document, pretty-printed with a trailing newline.
pub fn apply_json(applied: &[AppliedTarget], errors: &[TargetError]) -> String {
    to_pretty(&report_document(applied, errors))
}

pub(super) fn to_pretty<T: Serialize>(doc: &T) -> String {
    // Cannot fail: plain structs with string keys, no maps, no custom
    // serialisers. (A non-finite ratio would print as `null`, not fail.)
    let mut s = serde_json::to_string_pretty(doc).expect("wire types always serialise");
    s.push('\n');
    s
}

impl From<&PlannedTarget> for TargetPlanWire {
    fn from(t: &PlannedTarget) -> Self {
        let plan = &t.plan;
        TargetPlanWire {
            file: t.target.file.display().to_string(),
            business_phone: t.target.business_phone.clone(),
            provider: t.target.provider.kind().to_string(),
            mode: mode_wire(t.target.mode),
            desired_count: plan.desired.len() as u64,
            live_count: plan.live.len() as u64,
            desired_fingerprint: plan.desired_fingerprint.clone(),
            live_fingerprint: plan.live_fingerprint.clone(),
            block: ids(&plan.block),
            unblock: plan.unblock.iter().map(UnblockWire::from).collect(),
            unchanged: plan.unchanged as u64,
            refused: t.refused.as_ref().map(RefusalWire::from),
            notes: t.notes.clone(),
            deferred: t.deferred.iter().map(DeferralWire::from).collect(),
        }
    }
}

/// Also the `unexpected` entries of the drift document: the same users with
/// the same reasons, so pipelines read one vocabulary.
impl From<&Unblock> for UnblockWire {
    fn from(u: &Unblock) -> Self {
        UnblockWire {
            user: u.user.id().to_string(),
            user_id: u.user.extra_user_id().map(str::to_string),
            reason: match u.reason {
                UnblockReason::NotInFile => UnblockReasonWire::NotInFile,
                UnblockReason::Expired => UnblockReasonWire::Expired,
                UnblockReason::ListedInUnblock => UnblockReasonWire::ListedInUnblock,
            },
        }
    }
}

impl From<&Refusal> for RefusalWire {
    fn from(r: &Refusal) -> Self {
        let figure = |f: Figure| match f {
            Figure::Count(n) => FigureWire::Count(n),
            Figure::Ratio(x) => FigureWire::Ratio(x),
        };
        RefusalWire {
            rule: match r.rule {
                Rule::MaxUnblocks => RuleWire::MaxUnblocks,
                Rule::MaxUnblockRatio => RuleWire::MaxUnblockRatio,
                Rule::EmptyDesiredSet => RuleWire::EmptyDesiredSet,
                Rule::Capacity => RuleWire::Capacity,
            },
            limit: figure(r.limit),
            actual: figure(r.actual),
        }
    }
}

impl From<&AppliedTarget> for TargetReportWire {
    fn from(a: &AppliedTarget) -> Self {
        let r = &a.report;
        TargetReportWire {
            file: a.target.file.display().to_string(),
            business_phone: a.target.business_phone.clone(),
            provider: a.target.provider.kind().to_string(),
            blocked: ids(&r.blocked),
            unblocked: ids(&r.unblocked),
            deferred: r.deferred.iter().map(OutcomeWire::from).collect(),
            failed: r.failed.iter().map(OutcomeWire::from).collect(),
            skipped_already_done: r.skipped_already_done as u64,
            requests: r.requests,
            retries: r.retries,
            refused: r.refused.clone(),
            mode: Some(mode_wire(a.target.mode)),
        }
    }
}

fn mode_wire(mode: Mode) -> ModeWire {
    match mode {
        Mode::Exclusive => ModeWire::Exclusive,
        Mode::Additive => ModeWire::Additive,
    }
}

impl From<&UserOutcome> for OutcomeWire {
    fn from(o: &UserOutcome) -> Self {
        OutcomeWire {
            user: o.user.id().to_string(),
            user_id: o.user.extra_user_id().map(str::to_string),
            code: o.code,
            reason: o.reason.clone(),
            message: o.message.clone(),
        }
    }
}

/// Users as JSON strings: phone digits, or the BSUID where no phone is known.
pub(super) fn ids(users: &[User]) -> Vec<String> {
    users.iter().map(|u| u.id().to_string()).collect()
}

impl From<&TargetError> for ErrorWire {
    fn from(e: &TargetError) -> Self {
        ErrorWire {
            file: e.file.display().to_string(),
            message: e.message.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::render::fixtures::*;

    #[test]
    fn plan() {
        // The version is the crate's; the snapshot should not change with it.
        let out = plan_json(&mixed_plan(), &[broken()], CREATED_AT).replace(
            &format!("\"tool_version\": \"{}\"", env!("CARGO_PKG_VERSION")),
            "\"tool_version\": \"[version]\"",
        );
        insta::assert_snapshot!(out);
    }

    #[test]
    fn plans_carry_known_deferrals() {
        let doc: Value =
            serde_json::from_str(&plan_json(&waiting(), &[], CREATED_AT)).expect("valid JSON");
        let t = &doc["targets"][0];
        // `block` holds every block to send; `deferred` names those waiting.
        assert_eq!(
            t["block"],
            json!(["8613300000031", "8613300000032", "US.33"])
        );
        assert_eq!(t["deferred"][0]["user"], "8613300000032");
        assert_eq!(t["deferred"][0]["user_id"], "CN.32");
        assert_eq!(
            t["deferred"][1],
            json!({"user": "US.33", "since": "2026-11-20T17:05:00Z", "attempts": 1, "code": 131047})
        );
        assert!(doc["targets"][1].get("deferred").is_some());
        let plain: Value =
            serde_json::from_str(&plan_json(&mixed_plan(), &[], CREATED_AT)).expect("valid JSON");
        assert!(
            plain["targets"][0].get("deferred").is_none(),
            "absent when none"
        );
    }

    #[test]
    fn users_known_by_bsuid() {
        let plan: Value = serde_json::from_str(&plan_json(&[username_line()], &[], CREATED_AT))
            .expect("valid JSON");
        let t = &plan["targets"][0];
        assert_eq!(
            t["block"],
            json!(["8613300000021", "US.13491208655302741918"])
        );
        assert_eq!(
            t["unblock"],
            json!([
                {"user": "8613300000023", "user_id": "CN.23", "reason": "not_in_file"},
                {"user": "MX.24", "reason": "not_in_file"},
            ])
        );
        assert_eq!(
            (t["desired_count"].as_u64(), t["live_count"].as_u64()),
            (Some(3), Some(3))
        );
        let report: Value =
            serde_json::from_str(&apply_json(&[username_applied()], &[])).expect("valid JSON");
        let r = &report["targets"][0];
        assert_eq!(r["blocked"], json!(["8613300000021"]));
        assert_eq!(r["unblocked"], json!(["8613300000023", "MX.24"]));
        assert_eq!(
            r["deferred"],
            json!([{"user": "US.13491208655302741918", "code": 131047,
                "reason": "not_messaged_24h", "message": "Re-engagement check failed"}])
        );
        assert_eq!(
            r["failed"],
            json!([{"user": "8613300000025", "user_id": "CN.25", "code": -1,
                "reason": "unknown", "message": "the platform gave no error code"}])
        );
    }

    #[test]
    fn apply() {
        insta::assert_snapshot!(apply_json(&applied(), &[broken()]));
    }

    #[test]
    fn documents_round_trip() {
        let text = plan_json(&mixed_plan(), &[broken()], CREATED_AT);
        assert!(text.ends_with("}\n"));
        let back: PlanDocument = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(back, plan_document(&mixed_plan(), &[broken()], CREATED_AT));
        // Without errors the key is absent, and reads back as empty.
        let text = plan_json(&[bot()], &[], CREATED_AT);
        let back: PlanDocument = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(back, plan_document(&[bot()], &[], CREATED_AT));

        let text = apply_json(&applied(), &[broken()]);
        let back: ReportDocument = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(back, report_document(&applied(), &[broken()]));
    }

    /// The object's keys, space-separated, in the order they first appear in
    /// `text` after `from` (`Value` sorts its keys, and the order is part of
    /// what a reader sees).
    fn keys(text: &str, from: &str, v: &Value) -> String {
        let text = text.find(from).map_or(text, |i| &text[i..]);
        let mut keys: Vec<&str> = v
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        keys.sort_by_key(|k| text.find(&format!("\"{k}\":")).unwrap_or(usize::MAX));
        keys.join(" ")
    }

    /// docs/json-output.md, field by field and in order: pipelines read these names.
    #[test]
    fn plan_fields_match_the_spec() {
        let text = plan_json(&[marketing()], &[], CREATED_AT);
        let v: Value = serde_json::from_str(&text).expect("valid JSON");
        let top = "format_version tool_version created_at targets summary";
        assert_eq!(keys(&text, "", &v), top);
        assert_eq!(v["format_version"], json!(1));
        assert_eq!(v["tool_version"], json!(env!("CARGO_PKG_VERSION")));
        let t = &v["targets"][0];
        let target = "file business_phone provider mode desired_count live_count \
                      desired_fingerprint live_fingerprint block unblock unchanged refused";
        assert_eq!(keys(&text, "\"targets\":", t), target);
        assert_eq!(keys(&text, "\"unblock\":", &t["unblock"][0]), "user reason");
        assert_eq!(t["unblock"][0]["reason"], json!("not_in_file"));
        let refused = json!({"rule": "max_unblock_ratio", "limit": 0.25, "actual": 0.75});
        assert_eq!(t["refused"], refused);
        let summary = "targets block unblock unchanged";
        assert_eq!(keys(&text, "\"summary\":", &v["summary"]), summary);
        // Counts are integers, not floats.
        assert!(t["desired_count"].is_u64() && v["summary"]["unchanged"].is_u64());

        // No guard: `null`. A count guard: integers. Errors: a list of objects.
        let mut counted = marketing();
        counted.refused = Some(Refusal {
            rule: Rule::MaxUnblocks,
            limit: Figure::Count(100),
            actual: Figure::Count(150),
        });
        let text = plan_json(&[bot(), counted], &[broken()], CREATED_AT);
        let v: Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(v["targets"][0]["refused"], Value::Null);
        let refused = &v["targets"][1]["refused"];
        assert_eq!(
            refused,
            &json!({"rule": "max_unblocks", "limit": 100, "actual": 150})
        );
        assert!(refused["limit"].is_u64());
        let errors = json!([{"file": "blocklists/broken.yaml", "message": broken().message}]);
        assert_eq!(v["errors"], errors);
    }

    #[test]
    fn report_fields_match_the_spec() {
        let text = apply_json(&applied(), &[]);
        let v: Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(keys(&text, "", &v), "format_version targets summary");
        let t = &v["targets"][0];
        let target = "file business_phone provider blocked unblocked deferred failed \
                      skipped_already_done requests retries mode";
        assert_eq!(keys(&text, "\"targets\":", t), target);
        let outcome = "user code reason message";
        assert_eq!(keys(&text, "\"deferred\":", &t["deferred"][0]), outcome);
        assert_eq!(keys(&text, "\"failed\":", &t["failed"][0]), outcome);
        assert_eq!(t["deferred"][0]["code"], json!(131047));
        let summary = json!({"blocked": 2, "unblocked": 4, "deferred": 1, "failed": 1});
        assert_eq!(v["summary"], summary);
    }
}
