//! Safety guards (product.md §5). Unblocks are the dangerous direction: a bad
//! merge must not re-open a business to thousands of spammers.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    MaxUnblocks,
    MaxUnblockRatio,
    EmptyDesiredSet,
    Capacity,
}

impl Rule {
    /// The spelling in JSON plans and in flags.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::MaxUnblocks => "max_unblocks",
            Rule::MaxUnblockRatio => "max_unblock_ratio",
            Rule::EmptyDesiredSet => "empty_desired_set",
            Rule::Capacity => "capacity",
        }
    }
}

/// A figure a guard compares: a count of users or a ratio of the live list.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Figure {
    Count(u64),
    Ratio(f64),
}

impl fmt::Display for Figure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Figure::Count(n) => write!(f, "{n}"),
            Figure::Ratio(r) => write!(f, "{r:.2}"),
        }
    }
}

/// A tripped guard: the target is refused (exit 3) and nothing is sent for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub rule: Rule,
    pub limit: Figure,
    pub actual: Figure,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "refused by safety guard {}: limit {}, actual {}",
            self.rule.as_str(),
            self.limit,
            self.actual
        )
    }
}
