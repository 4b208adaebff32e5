//! The JSON documents read back into the types the renderers take, so
//! `blocklist show` re-renders a saved plan or apply report with the very
//! renderers `plan` and `apply` use (no second copy of them to drift apart).
//!
//! A document holds less than a run knew: no entry reasons for blocks, no
//! desired or live lists (only their counts and fingerprints), no provider
//! settings beyond the kind. The renderings of text and markdown need none
//! of those; `show --format json` re-emits the document itself.

use std::path::PathBuf;

use anyhow::{Context, bail};

use super::json::{
    DeferralWire, ErrorWire, FigureWire, ModeWire, OutcomeWire, PlanDocument, RefusalWire,
    ReportDocument, RuleWire, TargetPlanWire, TargetReportWire, UnblockReasonWire, UnblockWire,
};
use super::{AppliedTarget, PlannedTarget, TargetError};
use crate::apply::{TargetReport, UserOutcome};
use crate::config::{Kind, Mode, ProviderSettings, Safety, Target};
use crate::deferral::Deferral;
use crate::plan::{Plan, Unblock, UnblockReason};
use crate::provider::{cloud_api, nxcloud, waha};
use crate::safety::{Figure, Refusal, Rule};
use crate::user::User;

/// A saved document, recognised.
#[derive(Debug)]
pub enum Saved {
    /// `plan --out FILE` or `plan --format json`.
    Plan(PlanDocument),
    /// `apply --report FILE` or `apply --format json`.
    Report(ReportDocument),
}

/// Recognise and read a saved plan or apply report. Errors say what the
/// text is not, never quote more of it than a field name.
pub fn read(bytes: &[u8]) -> anyhow::Result<Saved> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .context("it is not JSON (a saved plan or apply report is; is the file damaged?)")?;
    let Some(object) = value.as_object() else {
        bail!("it is JSON but not a plan or apply report (those are JSON objects)");
    };
    let Some(version) = object.get("format_version").and_then(|v| v.as_u64()) else {
        bail!("it has no format_version, so it is not a plan or apply report of blocklist");
    };
    if version > u64::from(super::FORMAT_VERSION) {
        bail!(
            "it has format_version {version}, newer than this blocklist reads ({}): show it with a newer blocklist",
            super::FORMAT_VERSION
        );
    }
    let kind = if object.contains_key("checked_at") {
        bail!(
            "it is a drift report; show re-renders saved plans and apply reports (run drift again for another format)"
        );
    } else if object.contains_key("created_at") {
        "plan"
    } else {
        "apply report"
    };
    let saved = match kind {
        "plan" => serde_json::from_value(value).map(Saved::Plan),
        _ => serde_json::from_value(value).map(Saved::Report),
    };
    saved.with_context(|| format!("it looks like a saved {kind} but is damaged"))
}

/// The plan's targets and errors, as `plan` had them.
pub fn plan(doc: &PlanDocument) -> anyhow::Result<(Vec<PlannedTarget>, Vec<TargetError>)> {
    let targets = doc
        .targets
        .iter()
        .map(planned_target)
        .collect::<anyhow::Result<_>>()?;
    Ok((targets, errors(&doc.errors)))
}

/// The report's targets and errors, as `apply` had them.
pub fn report(doc: &ReportDocument) -> anyhow::Result<(Vec<AppliedTarget>, Vec<TargetError>)> {
    let targets = doc
        .targets
        .iter()
        .map(applied_target)
        .collect::<anyhow::Result<_>>()?;
    Ok((targets, errors(&doc.errors)))
}

fn errors(errors: &[ErrorWire]) -> Vec<TargetError> {
    errors
        .iter()
        .map(|e| TargetError {
            file: PathBuf::from(&e.file),
            message: e.message.clone(),
        })
        .collect()
}

fn planned_target(t: &TargetPlanWire) -> anyhow::Result<PlannedTarget> {
    let mode = mode(Some(t.mode));
    let block = t
        .block
        .iter()
        .map(|u| user(u, None))
        .collect::<anyhow::Result<_>>()?;
    let unblock = t
        .unblock
        .iter()
        .map(unblock)
        .collect::<anyhow::Result<_>>()?;
    let deferred = t
        .deferred
        .iter()
        .map(deferral)
        .collect::<anyhow::Result<_>>()?;
    let unchanged = usize::try_from(t.unchanged).context("unchanged is out of range")?;
    Ok(PlannedTarget {
        target: target(&t.file, &t.business_phone, &t.provider, mode)?,
        plan: Plan {
            desired: Vec::new(),
            live: Vec::new(),
            block,
            unblock,
            unchanged,
            desired_fingerprint: t.desired_fingerprint.clone(),
            live_fingerprint: t.live_fingerprint.clone(),
        },
        refused: t.refused.as_ref().map(refusal),
        notes: t.notes.clone(),
        deferred,
    })
}

fn applied_target(t: &TargetReportWire) -> anyhow::Result<AppliedTarget> {
    let users = |list: &[String]| -> anyhow::Result<Vec<User>> {
        list.iter().map(|u| user(u, None)).collect()
    };
    let outcomes = |list: &[OutcomeWire]| -> anyhow::Result<Vec<UserOutcome>> {
        list.iter().map(outcome).collect()
    };
    Ok(AppliedTarget {
        // Reports written before `mode` was added lack it; exclusive is
        // the default mode.
        target: target(&t.file, &t.business_phone, &t.provider, mode(t.mode))?,
        report: TargetReport {
            blocked: users(&t.blocked)?,
            unblocked: users(&t.unblocked)?,
            deferred: outcomes(&t.deferred)?,
            failed: outcomes(&t.failed)?,
            skipped_already_done: usize::try_from(t.skipped_already_done)
                .context("skipped_already_done is out of range")?,
            requests: t.requests,
            retries: t.retries,
            refused: t.refused.clone(),
        },
    })
}

/// A target as far as the document knows it: renderers use its file,
/// phone, provider kind and mode. Its settings are the kind's defaults.
fn target(file: &str, phone: &str, kind: &str, mode: Mode) -> anyhow::Result<Target> {
    let Some(kind) = Kind::from_name(kind) else {
        bail!("{file}: provider {kind:?} is not one of: nxcloud, cloud-api, waha, sandbox");
    };
    let provider = match kind {
        Kind::NxCloud => ProviderSettings::NxCloud {
            appkey: String::new(),
            base_url: None,
            access_key_var: nxcloud::ACCESS_KEY_VAR.to_string(),
            access_secret_var: nxcloud::ACCESS_SECRET_VAR.to_string(),
        },
        Kind::CloudApi => ProviderSettings::CloudApi {
            phone_number_id: None,
            api_version: String::new(),
            base_url: None,
            endpoint: None,
            auth_header: None,
            chunk_size: cloud_api::MAX_BATCH,
            token_var: cloud_api::TOKEN_VAR.to_string(),
        },
        Kind::Waha => ProviderSettings::Waha {
            base_url: String::new(),
            session: String::new(),
            ledger: PathBuf::new(),
            ledger_given: false,
            api_key_var: waha::API_KEY_VAR.to_string(),
        },
        Kind::Sandbox => ProviderSettings::Sandbox,
    };
    Ok(Target {
        file: PathBuf::from(file),
        business_phone: phone.to_string(),
        provider,
        mode,
        blocked: Vec::new(),
        unblock: Vec::new(),
        safety: Safety::default(),
        includes: Vec::new(),
    })
}

fn mode(mode: Option<ModeWire>) -> Mode {
    match mode {
        Some(ModeWire::Additive) => Mode::Additive,
        Some(ModeWire::Exclusive) | None => Mode::Exclusive,
    }
}

fn user(id: &str, user_id: Option<&String>) -> anyhow::Result<User> {
    match User::from_id(id) {
        Some(user) => Ok(user.with_user_id(user_id.cloned())),
        None => bail!("{id:?} is neither a phone number nor a BSUID"),
    }
}

fn unblock(u: &UnblockWire) -> anyhow::Result<Unblock> {
    Ok(Unblock {
        user: user(&u.user, u.user_id.as_ref())?,
        reason: match u.reason {
            UnblockReasonWire::NotInFile => UnblockReason::NotInFile,
            UnblockReasonWire::Expired => UnblockReason::Expired,
            UnblockReasonWire::ListedInUnblock => UnblockReason::ListedInUnblock,
        },
    })
}

fn deferral(d: &DeferralWire) -> anyhow::Result<Deferral> {
    Ok(Deferral {
        user: user(&d.user, d.user_id.as_ref())?,
        since: d.since.clone(),
        attempts: d.attempts,
        code: d.code,
    })
}

fn outcome(o: &OutcomeWire) -> anyhow::Result<UserOutcome> {
    Ok(UserOutcome {
        user: user(&o.user, o.user_id.as_ref())?,
        code: o.code,
        reason: o.reason.clone(),
        message: o.message.clone(),
    })
}

fn refusal(r: &RefusalWire) -> Refusal {
    let figure = |f: FigureWire| match f {
        FigureWire::Count(n) => Figure::Count(n),
        FigureWire::Ratio(x) => Figure::Ratio(x),
    };
    Refusal {
        rule: match r.rule {
            RuleWire::MaxUnblocks => Rule::MaxUnblocks,
            RuleWire::MaxUnblockRatio => Rule::MaxUnblockRatio,
            RuleWire::EmptyDesiredSet => Rule::EmptyDesiredSet,
            RuleWire::Capacity => Rule::Capacity,
        },
        limit: figure(r.limit),
        actual: figure(r.actual),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::fixtures::*;
    use crate::render::{
        apply_json, apply_markdown, apply_text, plan_document, plan_json, plan_markdown, plan_text,
    };

    /// A plan read back renders as the plan did (blocks lose their entry
    /// reasons, which the document does not hold).
    #[test]
    fn a_saved_plan_renders_as_it_did() {
        // Block reasons come from the files, which a plan does not hold;
        // these targets have none.
        let targets = vec![bot(), marketing()];
        let errors = vec![broken()];
        let text = plan_json(&targets, &errors, CREATED_AT);
        let Ok(Saved::Plan(doc)) = read(text.as_bytes()) else {
            panic!("a plan is recognised")
        };
        let (back, back_errors) = plan(&doc).expect("valid plan");
        assert_eq!(
            plan_markdown(&back, &back_errors),
            plan_markdown(&targets, &errors)
        );
        assert_eq!(
            plan_text(&back, &back_errors, false),
            plan_text(&targets, &errors, false)
        );
        // Unblocks keep their reasons; blocks are listed without theirs.
        let (back, _) = plan(&plan_document(&[shop()], &[], CREATED_AT)).expect("valid plan");
        let shown = plan_markdown(&back, &[]);
        assert!(shown.contains("- `8613300000010`\n"), "{shown}");
        assert!(
            shown.contains("- `8613300000012` listed in unblock"),
            "{shown}"
        );
    }

    #[test]
    fn a_saved_report_renders_as_it_did() {
        let (applied, errors) = (applied(), vec![broken()]);
        let text = apply_json(&applied, &errors);
        let Ok(Saved::Report(doc)) = read(text.as_bytes()) else {
            panic!("a report is recognised")
        };
        let (back, back_errors) = report(&doc).expect("valid report");
        assert_eq!(
            apply_text(&back, &back_errors, false),
            apply_text(&applied, &errors, false)
        );
        assert_eq!(
            apply_markdown(&back, &back_errors),
            apply_markdown(&applied, &errors)
        );
    }

    #[test]
    fn what_is_not_a_document_is_said() {
        let error = |text: &str| format!("{:#}", read(text.as_bytes()).unwrap_err());
        assert!(error("{\"format_version\": 1, \"created").starts_with("it is not JSON"));
        assert!(error("[1]").contains("not a plan or apply report"));
        assert!(error("{\"targets\": []}").starts_with("it has no format_version"));
        assert!(
            error("{\"format_version\": 2, \"created_at\": \"x\"}")
                .starts_with("it has format_version 2, newer than this blocklist reads (1)")
        );
        assert!(
            error("{\"format_version\": 1, \"created_at\": \"x\", \"targets\": 3}")
                .starts_with("it looks like a saved plan but is damaged")
        );
        assert!(error("{\"format_version\": 1, \"checked_at\": \"x\"}").contains("drift report"));
    }
}
