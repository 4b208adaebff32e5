//! Import: the live list as a desired-state file's own `blocked:` list.
//! A pure function, like the plan, so every rule can be tested without I/O;
//! [`splice`] then writes the result into the file's text.
//!
//! The rules, all by either id ([`crate::user`]) so a `wa_id` variant, or
//! the BSUID of a person the file names by phone, matches the file's entry:
//! - a live user the file lists keeps the file's entry (spelling, reason,
//!   expiry); an expiry already past is left out, since the user is still
//!   blocked and import states what is, not what was planned;
//! - a live user an include lists stays covered by the include and is not
//!   copied into the file's own list;
//! - a live user the file's `unblock:` names is left out: the file says to
//!   unblock them, and listing them in both places is invalid;
//! - any other live user becomes an entry with the ids the platform gave:
//!   a bare number, a `user_id:` for a user whose phone is hidden, or both;
//! - an entry of the file's own list that is not live would be dropped
//!   ([`Imported::dropped`]): the caller decides whether that is allowed.

pub mod splice;

use crate::config::{Entry, Target};
use crate::date::Date;
use crate::plan::{by_id, sort_by_id};
use crate::user::{Lookup, User};

/// One entry of the new `blocked:` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry {
    /// The file's ids when it listed the user (with a live id it lacked
    /// added), else the live ids.
    pub user: User,
    pub reason: Option<String>,
    pub expires: Option<Date>,
}

/// An entry of the file's own list that the live list does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    pub user: User,
    /// The entry had expired already, so dropping it changes no plan.
    pub expired: Option<Date>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Imported {
    /// The file's new own `blocked:` list, sorted by user.
    pub entries: Vec<NewEntry>,
    /// Own entries not live: a block still deferred, or undone outside the files.
    pub dropped: Vec<Dropped>,
    /// Live users listed by include files (left to them).
    pub covered_by_include: usize,
    /// Of those, how many the include marks as expired: plan will still
    /// unblock them, and only the include can change that.
    pub expired_in_include: usize,
    /// Live users the file's `unblock:` names (left out), sorted.
    pub listed_in_unblock: Vec<User>,
    /// Own entries still live after their `expires` date, written without it.
    pub past_expiry_cleared: Vec<User>,
}

/// The new own `blocked:` list of `target` given its `live` list.
pub fn import(target: &Target, live: &[User], today: Date) -> Imported {
    let expired = |e: &Entry| e.expires.is_some_and(|d| d < today);
    let mut own: Lookup<&Entry> = Lookup::default();
    let mut included: Lookup<&Entry> = Lookup::default();
    for e in &target.blocked {
        // Includes are read from other files; their entries say so.
        let lookup = if e.at.file == target.file {
            &mut own
        } else {
            &mut included
        };
        lookup.insert(&e.user, e);
    }
    let mut unblock = Lookup::default();
    for e in &target.unblock {
        unblock.insert(&e.user, ());
    }

    // Sorted first, so which of two live spellings of one person wins does
    // not depend on the order the provider served them in.
    let mut live_sorted: Vec<&User> = live.iter().collect();
    live_sorted.sort_unstable_by(|a, b| by_id(a, b));
    let mut seen = Lookup::with_capacity(live.len());
    let mut out = Imported::default();
    for user in live_sorted {
        if seen.contains(user) {
            continue;
        }
        seen.insert(user, ());
        if let Some(e) = own.get(user) {
            let mut expires = e.expires;
            if expired(e) {
                expires = None;
                out.past_expiry_cleared.push(e.user.clone());
            }
            out.entries.push(NewEntry {
                user: with_live_ids(&e.user, user),
                reason: e.reason.clone(),
                expires,
            });
        } else if let Some(e) = included.get(user) {
            out.covered_by_include += 1;
            out.expired_in_include += usize::from(expired(e));
        } else if unblock.contains(user) {
            out.listed_in_unblock.push(user.clone());
        } else {
            out.entries.push(NewEntry {
                user: user.clone(),
                reason: None,
                expires: None,
            });
        }
    }
    out.dropped = target
        .blocked
        .iter()
        .filter(|e| e.at.file == target.file && !seen.contains(&e.user))
        .map(|e| Dropped {
            user: e.user.clone(),
            expired: e.expires.filter(|_| expired(e)),
        })
        .collect();
    out.entries.sort_unstable_by(|a, b| by_id(&a.user, &b.user));
    sort_by_id(&mut out.past_expiry_cleared);
    out.dropped.sort_unstable_by(|a, b| by_id(&a.user, &b.user));
    out
}

/// The file's entry with the id the live list adds (the BSUID beside a
/// phone the file names, or the phone beside its BSUID), so the file learns
/// both ids of the person while it still can: a user who later hides their
/// phone still matches. A live id that contradicts the file's is left out.
fn with_live_ids(file: &User, live: &User) -> User {
    let phone = file.phone_digits().or(live.phone_digits());
    let user_id = file.user_id().or(live.user_id());
    let merged = User::new(phone.map(str::to_string), user_id.map(str::to_string));
    match merged {
        Some(merged) if merged.same_person(live) => merged,
        _ => file.clone(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::config::{Location, Mode, ProviderSettings, Safety};

    const TODAY: Date = Date {
        year: 2026,
        month: 11,
        day: 21,
    };

    fn entry(file: &str, user: &str, reason: Option<&str>, expires: Option<&str>) -> Entry {
        Entry {
            user: User::phone(user),
            reason: reason.map(str::to_string),
            expires: expires.and_then(Date::parse),
            at: Location {
                file: PathBuf::from(file),
                line: 1,
                column: 1,
            },
        }
    }

    fn target(blocked: Vec<Entry>, unblock: Vec<Entry>) -> Target {
        Target {
            file: PathBuf::from("t.yaml"),
            business_phone: "8615800001795".to_string(),
            provider: ProviderSettings::Sandbox,
            mode: Mode::Exclusive,
            blocked,
            unblock,
            safety: Safety::default(),
            includes: Vec::new(),
        }
    }

    fn live(users: &[&str]) -> Vec<User> {
        users.iter().map(|s| User::phone(*s)).collect()
    }

    fn bare(user: &str) -> NewEntry {
        NewEntry {
            user: User::phone(user),
            reason: None,
            expires: None,
        }
    }

    #[test]
    fn every_live_user_sorted_with_the_files_metadata() {
        let t = target(
            vec![
                entry(
                    "t.yaml",
                    "8613300000002",
                    Some("phishing"),
                    Some("2027-01-31"),
                ),
                entry("t.yaml", "8613300000003", None, None),
            ],
            vec![],
        );
        let got = import(
            &t,
            &live(&["8613300000003", "8613300000001", "8613300000002"]),
            TODAY,
        );
        assert_eq!(
            got.entries,
            vec![
                bare("8613300000001"),
                NewEntry {
                    user: User::phone("8613300000002"),
                    reason: Some("phishing".to_string()),
                    expires: Date::parse("2027-01-31"),
                },
                bare("8613300000003"),
            ]
        );
        assert!(got.dropped.is_empty());
    }

    #[test]
    fn the_files_spelling_wins_over_a_wa_id_variant_and_variants_collapse() {
        // Dialled Mexican form in the file, both wa_id forms live.
        let t = target(
            vec![entry("t.yaml", "525512345678", Some("x"), None)],
            vec![],
        );
        let got = import(&t, &live(&["5215512345678", "525512345678"]), TODAY);
        assert_eq!(got.entries.len(), 1, "{got:?}");
        assert_eq!(got.entries[0].user.id(), "525512345678");
        assert!(got.dropped.is_empty());
        // Without a file entry, the smaller live spelling, whatever the order served.
        let t = target(vec![], vec![]);
        let a = import(&t, &live(&["5215512345678", "525512345678"]), TODAY);
        let b = import(&t, &live(&["525512345678", "5215512345678"]), TODAY);
        assert_eq!(a, b);
        assert_eq!(a.entries, vec![bare("5215512345678")]);
    }

    #[test]
    fn entries_not_live_are_dropped_and_said() {
        let t = target(
            vec![
                entry("t.yaml", "8613300000001", None, None),
                entry("t.yaml", "8613300000004", None, Some("2026-01-01")),
                entry("t.yaml", "8613300000005", None, Some("2027-01-01")),
            ],
            vec![],
        );
        let got = import(&t, &live(&["8613300000001"]), TODAY);
        assert_eq!(
            got.dropped,
            vec![
                Dropped {
                    user: User::phone("8613300000004"),
                    expired: Date::parse("2026-01-01"),
                },
                Dropped {
                    user: User::phone("8613300000005"),
                    expired: None,
                },
            ]
        );
    }

    #[test]
    fn a_past_expiry_of_a_live_user_is_cleared() {
        let t = target(
            vec![entry(
                "t.yaml",
                "8613300000001",
                Some("spam"),
                Some("2026-01-01"),
            )],
            vec![],
        );
        let got = import(&t, &live(&["8613300000001"]), TODAY);
        assert_eq!(got.entries[0].expires, None);
        assert_eq!(got.entries[0].reason.as_deref(), Some("spam"));
        assert_eq!(
            crate::user::ids(&got.past_expiry_cleared),
            ["8613300000001"]
        );
    }

    #[test]
    fn includes_keep_their_users_and_unblock_names_are_left_out() {
        let t = target(
            vec![
                entry("t.yaml", "8613300000001", None, None),
                entry("lists/shared.yaml", "8613300000002", None, None),
                entry(
                    "lists/shared.yaml",
                    "8613300000003",
                    None,
                    Some("2026-01-01"),
                ),
                // Not live: an include's entries are never "dropped" by a rewrite.
                entry("lists/shared.yaml", "8613300000008", None, None),
            ],
            vec![entry("t.yaml", "8613300000009", None, None)],
        );
        let got = import(
            &t,
            &live(&[
                "8613300000001",
                "8613300000002",
                "8613300000003",
                "8613300000009",
            ]),
            TODAY,
        );
        assert_eq!(got.entries, vec![bare("8613300000001")]);
        assert_eq!((got.covered_by_include, got.expired_in_include), (2, 1));
        assert_eq!(crate::user::ids(&got.listed_in_unblock), ["8613300000009"]);
        assert!(got.dropped.is_empty(), "{got:?}");
    }
}
