//! Two spellings of one user in one desired set. Users are compared by
//! [`user_key`], so Mexican `52`/`521` and Brazilian ninth-digit variants of
//! one person count as the same user, as they do in the plan.

use std::collections::HashMap;
use std::collections::hash_map::Entry as Slot;
use std::path::PathBuf;

use super::Location;
use super::entry::Written;
use super::tree::Report;
use crate::number::user_key;

/// Duplicate warnings shown one by one per file; the rest are counted in one
/// line. A file pasted together from exports can repeat a number a million
/// times, and a million warnings bury everything else (and take minutes).
pub(super) const SHOWN_PER_FILE: usize = 20;

/// The list without repeats, each repeat a warning naming both places (a
/// silent merge could hide a copy-paste mistake, but it is no reason to stop
/// a run).
///
/// A user stays desired while any of its entries does, so of two entries
/// the one that lasts longer is kept (no `expires` outlasts any date): an
/// expired copy in the file must never cost the permanent block an include
/// holds. Between equals, the first stays.
///
/// Past [`SHOWN_PER_FILE`] warnings in one file, one more says how many were
/// left out, at the first of them.
pub(super) fn dedupe(list: Vec<Written>, report: &mut Report) -> Vec<Written> {
    let mut first: HashMap<String, usize> = HashMap::with_capacity(list.len());
    let mut kept: Vec<Written> = Vec::with_capacity(list.len());
    // Per file: warnings shown, and the first one left out with the count.
    let mut shown: HashMap<PathBuf, usize> = HashMap::new();
    let mut left_out: HashMap<PathBuf, (Location, usize)> = HashMap::new();
    for written in list {
        match first.entry(user_key(&written.entry.user)) {
            Slot::Occupied(slot) => {
                let earlier = &mut kept[*slot.get()];
                let later_lasts_longer = lasts(&written) > lasts(earlier);
                let file = &written.entry.at.file;
                let count = shown.entry(file.clone()).or_default();
                if *count >= SHOWN_PER_FILE {
                    left_out
                        .entry(file.clone())
                        .or_insert_with(|| (written.entry.at.clone(), 0))
                        .1 += 1;
                    if later_lasts_longer {
                        *earlier = written;
                    }
                    continue;
                }
                *count += 1;
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
    let mut left_out: Vec<_> = left_out.into_iter().collect();
    left_out.sort();
    for (file, (at, count)) in left_out {
        report.warn(
            at,
            format!(
                "… and {count} more duplicate{} in {} (the first {SHOWN_PER_FILE} are shown)",
                if count == 1 { "" } else { "s" },
                file.display()
            ),
        );
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
    fn past_twenty_per_file_the_rest_are_counted_in_one_line() {
        let mut report = Report::default();
        let mut list: Vec<Written> = (0..1000).map(|i| written("8613300000001", i + 2)).collect();
        let mut other = written("8613300000002", 3);
        other.entry.at.file = "include.yaml".into();
        list.push(other.clone());
        list.push(other);
        let kept = dedupe(list, &mut report);
        assert_eq!(kept.len(), 2);
        let shown: Vec<String> = report.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), SHOWN_PER_FILE + 2, "{shown:?}");
        assert!(
            shown[..SHOWN_PER_FILE]
                .iter()
                .all(|s| s.contains("duplicates"))
        );
        assert_eq!(
            shown[SHOWN_PER_FILE],
            "include.yaml:3:5: \"8613300000002\" duplicates \"8613300000002\" at include.yaml:3:5; keeping the first"
        );
        assert_eq!(
            shown[SHOWN_PER_FILE + 1],
            "f.yaml:23:5: … and 979 more duplicates in f.yaml (the first 20 are shown)"
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
