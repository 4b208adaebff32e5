//! Plan and report renderings, one file per format. Renderers are pure:
//! they turn results into text and never print or fetch anything.

use std::path::PathBuf;

use crate::apply::TargetReport;
use crate::config::Target;
use crate::plan::Plan;
use crate::safety::Refusal;

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
