//! Safety guards (README, Safety guards). Unblocks are the dangerous direction: a bad
//! merge must not re-open a business to thousands of spammers.

use std::fmt;

use crate::config::{Mode, Safety};
use crate::plan::Plan;

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
            // Grouped as every count users read (`64,000`).
            Figure::Count(n) => write!(f, "{}", crate::render::Count(n)),
            // Enough digits that a refusal never reads "limit 0.25, actual 0.25".
            Figure::Ratio(r) => {
                let s = format!("{r:.4}");
                write!(f, "{}", s.trim_end_matches('0').trim_end_matches('.'))
            }
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
            "safety guard {} tripped: limit {}, actual {} (--force overrides it for one run)",
            self.rule.as_str(),
            self.limit,
            self.actual
        )
    }
}

/// The platform's block-list capacity (docs/platforms.md, Cloud API).
pub const CAPACITY: u64 = 64_000;
pub const DEFAULT_MAX_UNBLOCKS: u64 = 100;
pub const DEFAULT_MAX_UNBLOCK_RATIO: f64 = 0.25;

/// Per-run overrides from flags of the same names as the `safety:` keys.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub max_unblocks: Option<u64>,
    pub max_unblock_ratio: Option<f64>,
    pub allow_empty: bool,
    /// Skip every guard for this run (said loudly by the caller).
    pub force: bool,
}

/// The first guard a plan trips, if any. A flag beats the file, which beats
/// the default. No minimum list size: on a list of four, unblocking two is
/// half the list, and that is exactly when a reviewer should look twice.
///
/// The empty-set guard applies in exclusive mode only: there an empty file
/// means "unblock everyone", while an additive file only ever unblocks what
/// its `unblock:` names, which the other guards already weigh.
pub fn check(plan: &Plan, mode: Mode, file: &Safety, run: &Overrides) -> Option<Refusal> {
    if run.force {
        return None;
    }
    let live = plan.live.len() as u64;
    let unblocks = plan.unblock.len() as u64;
    let allow_empty = run.allow_empty || file.allow_empty.unwrap_or(false);
    if mode == Mode::Exclusive && plan.desired.is_empty() && live > 0 && !allow_empty {
        return Some(Refusal {
            rule: Rule::EmptyDesiredSet,
            limit: Figure::Count(1),
            actual: Figure::Count(0),
        });
    }
    let max_unblocks = run
        .max_unblocks
        .or(file.max_unblocks)
        .unwrap_or(DEFAULT_MAX_UNBLOCKS);
    if unblocks > max_unblocks {
        return Some(Refusal {
            rule: Rule::MaxUnblocks,
            limit: Figure::Count(max_unblocks),
            actual: Figure::Count(unblocks),
        });
    }
    let max_ratio = run
        .max_unblock_ratio
        .or(file.max_unblock_ratio)
        .unwrap_or(DEFAULT_MAX_UNBLOCK_RATIO);
    if live > 0 {
        let ratio = unblocks as f64 / live as f64;
        if ratio > max_ratio {
            return Some(Refusal {
                rule: Rule::MaxUnblockRatio,
                limit: Figure::Ratio(max_ratio),
                actual: Figure::Ratio(ratio),
            });
        }
    }
    let after = (live - unblocks) + plan.block.len() as u64;
    if !plan.block.is_empty() && after > CAPACITY {
        return Some(Refusal {
            rule: Rule::Capacity,
            limit: Figure::Count(CAPACITY),
            actual: Figure::Count(after),
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Unblock, UnblockReason};

    fn plan(live: usize, desired: usize, block: usize, unblock: usize) -> Plan {
        let users = |prefix: &str, n: usize| -> Vec<crate::user::User> {
            (0..n)
                .map(|i| crate::user::User::phone(format!("{prefix}{i:08}")))
                .collect()
        };
        Plan {
            desired: users("86133", desired),
            live: users("86144", live),
            block: users("86155", block),
            unblock: users("86144", unblock)
                .into_iter()
                .map(|user| Unblock {
                    user,
                    reason: UnblockReason::NotInFile,
                })
                .collect(),
            unchanged: 0,
            desired_fingerprint: String::new(),
            live_fingerprint: String::new(),
        }
    }

    fn rule(p: &Plan, file: &Safety, run: &Overrides) -> Option<(Rule, Figure, Figure)> {
        check(p, Mode::Exclusive, file, run).map(|r| (r.rule, r.limit, r.actual))
    }

    #[test]
    fn max_unblocks_default_file_and_flag() {
        let p = plan(1000, 900, 0, 101);
        let none = Safety::default();
        assert_eq!(
            rule(&p, &none, &Overrides::default()),
            Some((Rule::MaxUnblocks, Figure::Count(100), Figure::Count(101)))
        );
        let file = Safety {
            max_unblocks: Some(200),
            ..Safety::default()
        };
        assert_eq!(rule(&p, &file, &Overrides::default()), None);
        let flag = Overrides {
            max_unblocks: Some(50),
            ..Overrides::default()
        };
        assert_eq!(
            rule(&p, &file, &flag),
            Some((Rule::MaxUnblocks, Figure::Count(50), Figure::Count(101))),
            "the flag beats the file"
        );
        assert_eq!(
            rule(&plan(1000, 900, 0, 100), &none, &Overrides::default()),
            None,
            "at the limit is fine"
        );
    }

    #[test]
    fn ratio_applies_to_small_lists_too() {
        // Two of four is half the list: refused, however small.
        let p = plan(4, 2, 0, 2);
        assert_eq!(
            rule(&p, &Safety::default(), &Overrides::default()),
            Some((
                Rule::MaxUnblockRatio,
                Figure::Ratio(0.25),
                Figure::Ratio(0.5)
            ))
        );
        assert_eq!(
            rule(&plan(4, 3, 0, 1), &Safety::default(), &Overrides::default()),
            None,
            "exactly 0.25 passes"
        );
        let file = Safety {
            max_unblock_ratio: Some(0.5),
            ..Safety::default()
        };
        assert_eq!(rule(&p, &file, &Overrides::default()), None);
    }

    #[test]
    fn empty_desired_set_needs_allow_empty() {
        let p = plan(3, 0, 0, 3);
        assert_eq!(
            rule(&p, &Safety::default(), &Overrides::default()).map(|r| r.0),
            Some(Rule::EmptyDesiredSet)
        );
        let file = Safety {
            allow_empty: Some(true),
            max_unblock_ratio: Some(1.0),
            ..Safety::default()
        };
        assert_eq!(rule(&p, &file, &Overrides::default()), None);
        let flag = Overrides {
            allow_empty: true,
            max_unblock_ratio: Some(1.0),
            ..Overrides::default()
        };
        assert_eq!(rule(&p, &Safety::default(), &flag), None);
        assert_eq!(
            rule(&plan(0, 0, 0, 0), &Safety::default(), &Overrides::default()),
            None,
            "empty and empty is in sync"
        );
    }

    #[test]
    fn capacity_counts_what_the_list_would_hold() {
        let p = plan(63_990, 64_001, 11, 0);
        assert_eq!(
            rule(&p, &Safety::default(), &Overrides::default()),
            Some((Rule::Capacity, Figure::Count(64_000), Figure::Count(64_001)))
        );
        assert_eq!(
            rule(
                &plan(63_990, 64_000, 10, 0),
                &Safety::default(),
                &Overrides::default()
            ),
            None
        );
    }

    #[test]
    fn force_overrides_every_guard() {
        let force = Overrides {
            force: true,
            ..Overrides::default()
        };
        for p in [
            plan(4, 2, 0, 2),
            plan(3, 0, 0, 3),
            plan(1000, 900, 0, 101),
            plan(63_990, 64_001, 11, 0),
        ] {
            assert_eq!(rule(&p, &Safety::default(), &force), None);
        }
    }
}
