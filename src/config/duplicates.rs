//! Two spellings of one user in one desired set. Users are compared by
//! [`user_key`], so Mexican `52`/`521` and Brazilian ninth-digit variants of
//! one person count as the same user, as they do in the plan.

use std::collections::HashMap;
use std::collections::hash_map::Entry as Slot;

use super::entry::Written;
use super::tree::Report;
use crate::number::user_key;

/// The list without repeats, each repeat a warning naming both places (a
/// silent merge could hide a copy-paste mistake, but it is no reason to stop
/// a run).
///
/// A user stays desired while any of its entries does, so of two entries
/// the one that lasts longer is kept (no `expires` outlasts any date): an
/// expired copy in the file must never cost the permanent block an include
/// holds. Between equals, the first stays.
pub(super) fn dedupe(list: Vec<Written>, report: &mut Report) -> Vec<Written> {
    let mut first: HashMap<String, usize> = HashMap::with_capacity(list.len());
    let mut kept: Vec<Written> = Vec::with_capacity(list.len());
    for written in list {
        match first.entry(user_key(&written.entry.user)) {
            Slot::Occupied(slot) => {
                let earlier = &mut kept[*slot.get()];
                let later_lasts_longer = lasts(&written) > lasts(earlier);
                report.warn(
                    written.entry.at.clone(),
                    format!(
                        "{:?} duplicates {:?} at {}; keeping the {}",
                        written.raw,
                        earlier.raw,
                        earlier.entry.at,
                        if later_lasts_longer {
                            "later one, which lasts longer"
                        } else {
                            "first"
                        }
                    ),
                );
                if later_lasts_longer {
                    *earlier = written;
                }
            }
            Slot::Vacant(slot) => {
                slot.insert(kept.len());
                kept.push(written);
            }
        }
    }
    kept
}

/// How long an entry keeps its user desired: no expiry outlasts any date.
fn lasts(w: &Written) -> (bool, Option<crate::date::Date>) {
    (w.entry.expires.is_none(), w.entry.expires)
}

/// A user both blocked and listed for unblocking: the file contradicts
/// itself, and guessing which line wins could unblock a spammer.
pub(super) fn conflicts(blocked: &[Written], unblock: &[Written], report: &mut Report) {
    if unblock.is_empty() {
        return;
    }
    let by_key: HashMap<String, &Written> = blocked
        .iter()
        .map(|b| (user_key(&b.entry.user), b))
        .collect();
    for u in unblock {
        if let Some(b) = by_key.get(&user_key(&u.entry.user)) {
            report.error(
                u.entry.at.clone(),
                format!(
                    "{:?} is listed in unblock but also blocked as {:?} at {}; a user cannot be both, so remove one",
                    u.raw, b.raw, b.entry.at
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Entry, Location};

    fn written(raw: &str, line: usize) -> Written {
        Written {
            entry: Entry {
                user: crate::number::canonical(raw).expect("valid number"),
                reason: None,
                expires: None,
                at: Location {
                    file: "f.yaml".into(),
                    line,
                    column: 5,
                },
            },
            raw: raw.to_string(),
        }
    }

    #[test]
    fn keeps_the_first_and_warns_with_both_places() {
        let mut report = Report::default();
        let kept = dedupe(
            vec![
                written("8613300000002", 3),
                written("8613300000001", 4),
                written("+86 133 0000 0002", 5),
            ],
            &mut report,
        );
        assert_eq!(kept.len(), 2);
        assert_eq!(kept[0].entry.at.line, 3);
        let shown: Vec<String> = report.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "f.yaml:5:5: \"+86 133 0000 0002\" duplicates \"8613300000002\" at f.yaml:3:5; keeping the first"
            ]
        );
    }

    #[test]
    fn wa_id_variants_are_duplicates() {
        let mut report = Report::default();
        let kept = dedupe(
            vec![
                written("+52 55 1234 5678", 2),
                written("521 55 1234 5678", 3),
            ],
            &mut report,
        );
        assert_eq!(kept.len(), 1);
        assert_eq!(report.warnings.len(), 1);
    }

    #[test]
    fn blocked_and_unblocked_is_an_error_at_the_unblock_entry() {
        let mut report = Report::default();
        conflicts(
            &[written("5511987654321", 2)],
            &[written("551187654321", 9), written("8613300000009", 10)],
            &mut report,
        );
        let shown: Vec<String> = report.errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "f.yaml:9:5: \"551187654321\" is listed in unblock but also blocked as \"5511987654321\" at f.yaml:2:5; a user cannot be both, so remove one"
            ]
        );
    }
}
