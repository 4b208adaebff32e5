//! Two entries for one person in one desired set. Entries are compared as
//! [`crate::user`] says: by BSUID, or by phone with the Mexican `52`/`521`
//! and Brazilian ninth-digit variants counted as one. An entry that gives
//! both ids ties them together, so `user: P` and `user_id: X` are one person
//! once a third entry says `{user: P, user_id: X}`.

use std::collections::HashMap;
use std::path::PathBuf;

use super::Location;
use super::entry::Written;
use super::tree::Report;
use crate::user::{Lookup, User, phone_key};

/// Duplicate warnings shown one by one per file; the rest are counted in one
/// line. A file pasted together from exports can repeat a number a million
/// times, and a million warnings bury everything else (and take minutes).
pub(super) const SHOWN_PER_FILE: usize = 20;

/// The list without repeats, each repeat a warning naming both places (a
/// silent merge could hide a copy-paste mistake, but it is no reason to stop
/// a run). The entry kept for a person carries every id its duplicates
/// gave, so the plan matches them all.
///
/// A user stays desired while any of its entries does, so of two entries
/// the one that lasts longer gives the reason and expiry (no `expires`
/// outlasts any date): an expired copy in the file must never cost the
/// permanent block an include holds. Between equals, the first stays.
///
/// Entries that tie one id to two different others (one BSUID with two
/// phones, or one phone with two BSUIDs) are an error: one of them is out
/// of date, and guessing which could block or unblock the wrong person.
///
/// Past [`SHOWN_PER_FILE`] warnings in one file, one more says how many were
/// left out, at the first of them.
pub(super) fn dedupe(list: Vec<Written>, report: &mut Report) -> Vec<Written> {
    let mut kept: Vec<Option<Written>> = Vec::with_capacity(list.len());
    // Where an entry merged into another went: kept[i] is None and
    // moved[i] names the survivor (followed until it is not moved).
    let mut moved: Vec<usize> = Vec::with_capacity(list.len());
    let mut lookup: Lookup<usize> = Lookup::with_capacity(list.len());
    // Per file: warnings shown, and the first one left out with the count.
    let mut shown: HashMap<PathBuf, usize> = HashMap::new();
    let mut left_out: HashMap<PathBuf, (Location, usize)> = HashMap::new();
    for written in list {
        let resolve = |mut i: usize| {
            while moved[i] != i {
                i = moved[i];
            }
            i
        };
        let mut found: Vec<usize> = lookup
            .matches(&written.entry.user)
            .iter()
            .map(|&i| resolve(i))
            .collect();
        found.dedup();
        let Some(&first) = found.first() else {
            let at = kept.len();
            lookup.insert(&written.entry.user, at);
            kept.push(Some(written));
            moved.push(at);
            continue;
        };
        // Check every tie first, so a conflict changes nothing.
        let mut ids = written.entry.user.clone();
        let mut conflict = false;
        for &at in &found {
            if let Some(earlier) = &kept[at] {
                match merge_ids(earlier, &written, &ids, report) {
                    Some(both) => ids = both,
                    None => conflict = true,
                }
            }
        }
        if conflict {
            continue;
        }
        found.sort_unstable();
        // Each warning speaks of the new entry and one earlier one.
        for &at in &found {
            if let Some(earlier) = &kept[at] {
                let later_lasts_longer = lasts(&written) > lasts(earlier);
                let file = &written.entry.at.file;
                let count = shown.entry(file.clone()).or_default();
                if *count >= SHOWN_PER_FILE {
                    left_out
                        .entry(file.clone())
                        .or_insert_with(|| (written.entry.at.clone(), 0))
                        .1 += 1;
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
            }
        }
        // The survivor gives reason, expiry and place: the one that lasts
        // longest, the first of equals (`found` is in file order, and the
        // new entry comes after all of them).
        let mut merged: Option<Written> = None;
        for &earlier_at in &found {
            let Some(earlier) = kept[earlier_at].take() else {
                continue;
            };
            moved[earlier_at] = first;
            merged = Some(match merged {
                Some(m) if lasts(&earlier) > lasts(&m) => earlier,
                Some(m) => m,
                None => earlier,
            });
        }
        let mut merged = match merged {
            Some(m) if lasts(&written) > lasts(&m) => written,
            Some(m) => m,
            None => written,
        };
        merged.entry.user = ids;
        moved[first] = first;
        lookup.insert(&merged.entry.user, first);
        kept[first] = Some(merged);
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
    kept.into_iter().flatten().collect()
}

/// The ids gathered so far for `later`'s person (`b`) joined with those of
/// `earlier`, or `None` (and an error) when they tie one id to two
/// different others.
fn merge_ids(earlier: &Written, later: &Written, b: &User, report: &mut Report) -> Option<User> {
    let a = &earlier.entry.user;
    let phones_differ = matches!((a.phone_digits(), b.phone_digits()), (Some(x), Some(y)) if phone_key(x) != phone_key(y));
    let ids_differ = matches!((a.user_id(), b.user_id()), (Some(x), Some(y)) if x != y);
    if phones_differ || ids_differ {
        report.error(
            later.entry.at.clone(),
            format!(
                "{:?} and {:?} at {} share one id but disagree on the other; one person has one phone and one BSUID, so correct or remove the out-of-date entry",
                later.raw, earlier.raw, earlier.entry.at
            ),
        );
        return None;
    }
    let phone = a.phone_digits().or(b.phone_digits()).map(str::to_string);
    let user_id = a.user_id().or(b.user_id()).map(str::to_string);
    User::new(phone, user_id)
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
    let mut lookup: Lookup<&Written> = Lookup::with_capacity(blocked.len());
    for b in blocked {
        lookup.insert(&b.entry.user, b);
    }
    for u in unblock {
        if let Some(b) = lookup.get(&u.entry.user) {
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
                user: User::phone(crate::number::canonical(raw).expect("valid number")),
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

    fn with_id(raw: &str, user: User, line: usize) -> Written {
        let mut w = written("8613300000000", line);
        w.entry.user = user;
        w.raw = raw.to_string();
        w
    }

    fn both(phone: &str, id: &str) -> User {
        User::new(Some(phone.into()), Some(id.into())).unwrap()
    }

    #[test]
    fn the_same_bsuid_twice_is_a_duplicate() {
        let mut report = Report::default();
        let kept = dedupe(
            vec![
                with_id("US.1", User::bsuid("US.1"), 2),
                with_id("US.1", User::bsuid("US.1"), 3),
            ],
            &mut report,
        );
        assert_eq!(kept.len(), 1);
        let shown: Vec<String> = report.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            ["f.yaml:3:5: \"US.1\" duplicates \"US.1\" at f.yaml:2:5; keeping the first"]
        );
    }

    #[test]
    fn an_entry_with_both_ids_ties_a_phone_and_a_bsuid_together() {
        let mut report = Report::default();
        let kept = dedupe(
            vec![
                written("+86 133 0000 0001", 2),
                with_id("US.1", User::bsuid("US.1"), 3),
                with_id("8613300000001 (US.1)", both("8613300000001", "US.1"), 4),
            ],
            &mut report,
        );
        // One person, known by both ids, at the first entry's place.
        assert_eq!(kept.len(), 1, "{kept:?}");
        assert_eq!(kept[0].entry.user, both("8613300000001", "US.1"));
        assert_eq!(kept[0].entry.at.line, 2);
        let shown: Vec<String> = report.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "f.yaml:4:5: \"8613300000001 (US.1)\" duplicates \"+86 133 0000 0001\" at f.yaml:2:5; keeping the first",
                "f.yaml:4:5: \"8613300000001 (US.1)\" duplicates \"US.1\" at f.yaml:3:5; keeping the first",
            ]
        );
        assert!(report.errors.is_empty());
    }

    #[test]
    fn one_id_tied_to_two_others_is_an_error() {
        let mut report = Report::default();
        dedupe(
            vec![
                with_id("a", both("8613300000001", "US.1"), 2),
                with_id("b", both("8613300000001", "US.2"), 3),
            ],
            &mut report,
        );
        let shown: Vec<String> = report.errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "f.yaml:3:5: \"b\" and \"a\" at f.yaml:2:5 share one id but disagree on the other; one person has one phone and one BSUID, so correct or remove the out-of-date entry"
            ]
        );
    }

    #[test]
    fn a_bsuid_both_blocked_and_unblocked_is_an_error() {
        let mut report = Report::default();
        conflicts(
            &[with_id(
                "8613300000001 (US.1)",
                both("8613300000001", "US.1"),
                2,
            )],
            &[with_id("US.1", User::bsuid("US.1"), 9)],
            &mut report,
        );
        assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
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
