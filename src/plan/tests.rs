//! The plan against hand-made desired and live sets: every mode, expiry,
//! `wa_id` variants, users known by phone, by BSUID or both, and the
//! fingerprints.

use std::collections::HashSet;
use std::path::PathBuf;

use super::*;
use crate::config::{Location, ProviderSettings, Safety};

const TODAY: Date = Date {
    year: 2026,
    month: 11,
    day: 21,
};

/// A user from how a test writes it: digits, a BSUID, or `digits/BSUID`.
fn u(text: &str) -> User {
    match text.split_once('/') {
        Some((phone, id)) => User::new(Some(phone.into()), Some(id.into())).expect("two ids"),
        None if crate::user::looks_like_bsuid(text) => User::bsuid(text),
        None => User::phone(text),
    }
}

fn entry(user: &str, expires: Option<&str>) -> Entry {
    entry_for(u(user), expires)
}

fn entry_for(user: User, expires: Option<&str>) -> Entry {
    Entry {
        user,
        reason: None,
        expires: expires.and_then(Date::parse),
        at: Location {
            file: PathBuf::from("t.yaml"),
            line: 1,
            column: 1,
        },
    }
}

fn target(mode: Mode, blocked: Vec<Entry>, unblock: Vec<Entry>) -> Target {
    Target {
        file: PathBuf::from("t.yaml"),
        business_phone: "8615800001795".to_string(),
        provider: ProviderSettings::Sandbox,
        mode,
        blocked,
        unblock,
        safety: Safety::default(),
        includes: Vec::new(),
    }
}

fn strings(v: &[&str]) -> Vec<User> {
    v.iter().map(|s| u(s)).collect()
}

#[test]
fn exclusive_mode_reasons() {
    let t = target(
        Mode::Exclusive,
        vec![
            entry("8613300000001", None),
            entry("8613300000002", Some("2026-11-20")),
            entry("8613300000003", Some("2026-11-21")),
        ],
        vec![entry("8613300000004", None)],
    );
    let live = strings(&[
        "8613300000002",
        "8613300000003",
        "8613300000004",
        "8613300000005",
    ]);
    let p = plan(&t, &live, TODAY);
    assert_eq!(p.block, strings(&["8613300000001"]));
    assert_eq!(
        p.unblock,
        vec![
            Unblock {
                user: u("8613300000002"),
                reason: UnblockReason::Expired
            },
            Unblock {
                user: u("8613300000004"),
                reason: UnblockReason::ListedInUnblock
            },
            Unblock {
                user: u("8613300000005"),
                reason: UnblockReason::NotInFile
            },
        ]
    );
    assert_eq!(
        p.unchanged, 1,
        "an entry expiring today is still desired today"
    );
    assert_eq!(p.desired, strings(&["8613300000001", "8613300000003"]));
}

#[test]
fn unconfirmed_changes_are_sent_again_whichever_way_the_files_say() {
    // 1 and 2 are pending in a WAHA ledger, so they are listed as live.
    // The files want 1 (blocked again) but not 2 (unblocked); 3 is a
    // confirmed block and stays unchanged.
    for mode in [Mode::Exclusive, Mode::Additive] {
        let t = target(
            mode,
            vec![entry("8613300000001", None), entry("8613300000003", None)],
            vec![entry("8613300000002", None)],
        );
        let live = strings(&["8613300000001", "8613300000002", "8613300000003"]);
        let mut p = plan(&t, &live, TODAY);
        assert_eq!((p.block.len(), p.unchanged), (0, 2), "{mode:?}");
        p.resend(&strings(&[
            "8613300000001",
            "8613300000002",
            "8613300000009",
        ]));
        assert_eq!(p.block, strings(&["8613300000001"]), "{mode:?}");
        assert_eq!(p.unblock.len(), 1, "{mode:?}");
        assert_eq!(p.unblock[0].user, u("8613300000002"), "{mode:?}");
        assert_eq!(p.unchanged, 1, "{mode:?}");
        // Sending again twice plans it once.
        p.resend(&strings(&["8613300000001"]));
        assert_eq!(p.block, strings(&["8613300000001"]), "{mode:?}");
    }
}

#[test]
fn additive_mode_only_unblocks_what_unblock_names() {
    let t = target(
        Mode::Additive,
        vec![
            entry("8613300000001", None),
            entry("8613300000002", Some("2020-01-01")),
        ],
        vec![entry("8613300000004", None)],
    );
    let live = strings(&["8613300000002", "8613300000004", "8613300000005"]);
    let p = plan(&t, &live, TODAY);
    assert_eq!(p.block, strings(&["8613300000001"]));
    assert_eq!(
        p.unblock,
        vec![Unblock {
            user: u("8613300000004"),
            reason: UnblockReason::ListedInUnblock
        }]
    );
    assert_eq!(p.unchanged, 2);
}

#[test]
fn wa_id_variants_are_the_same_user() {
    // Dialled Mexican number in the file, wa_id form live: nothing to do.
    let t = target(Mode::Exclusive, vec![entry("525512345678", None)], vec![]);
    let p = plan(&t, &strings(&["5215512345678"]), TODAY);
    assert!(!p.has_changes(), "{p:?}");
    assert_eq!(p.unchanged, 1);
}

#[test]
fn fingerprint_is_md5_of_sorted_lines() {
    // md5("1\n2") computed independently.
    assert_eq!(
        fingerprint(["1", "2"].into_iter()),
        "a1fe7d8e64a2b3f20e90b79387bff527"
    );
    assert_eq!(
        fingerprint(std::iter::empty()),
        "d41d8cd98f00b204e9800998ecf8427e"
    );
    assert_eq!(
        fingerprint(["a"].into_iter()),
        "0cc175b9c0f1b6a831c399e269772661"
    );
}

#[test]
fn a_person_matches_by_either_id() {
    // The file names one by phone, one by BSUID, one by both; the platform
    // lists each with both ids, or by BSUID alone when the phone is hidden.
    let t = target(
        Mode::Exclusive,
        vec![
            entry("8613300000001", None),
            entry("CN.2", None),
            entry("8613300000003/CN.3", None),
        ],
        vec![],
    );
    let live = strings(&["8613300000001/CN.1", "8613300000002/CN.2", "CN.3"]);
    let p = plan(&t, &live, TODAY);
    assert!(!p.has_changes(), "{p:?}");
    assert_eq!(p.unchanged, 3);
}

#[test]
fn blocks_send_the_phone_when_known_and_unblocks_what_was_listed() {
    let t = target(
        Mode::Exclusive,
        vec![entry("8613300000001/CN.1", None), entry("CN.2", None)],
        vec![],
    );
    let live = strings(&["CN.9", "8613300000008/CN.8", "8613300000007"]);
    let p = plan(&t, &live, TODAY);
    assert_eq!(p.block, strings(&["8613300000001/CN.1", "CN.2"]));
    assert_eq!(p.block[0].wire(), crate::user::Wire::Phone("8613300000001"));
    assert_eq!(p.block[1].wire(), crate::user::Wire::UserId("CN.2"));
    let unblocked: Vec<&User> = p.unblock.iter().map(|u| &u.user).collect();
    assert_eq!(
        unblocked,
        [&u("8613300000007"), &u("8613300000008/CN.8"), &u("CN.9")]
    );
    // JSON and fingerprints name each user by phone when known, else BSUID.
    let ids: Vec<&str> = p.desired.iter().map(User::id).collect();
    assert_eq!(ids, ["8613300000001", "CN.2"]);
    assert_eq!(
        p.desired_fingerprint,
        fingerprint(["8613300000001", "CN.2"].into_iter())
    );
}

#[test]
fn a_listed_person_ties_two_entries_together() {
    // The file does not know that 1 and CN.1 are one person; the platform
    // does. Nothing is blocked twice and nothing is unblocked.
    let t = target(
        Mode::Exclusive,
        vec![entry("8613300000001", None), entry("CN.1", None)],
        vec![],
    );
    let p = plan(&t, &strings(&["8613300000001/CN.1"]), TODAY);
    assert!(!p.has_changes(), "{p:?}");
    assert_eq!((p.unchanged, p.live.len(), p.desired.len()), (1, 1, 2));
}

#[test]
fn expiry_and_unblock_lists_match_by_either_id() {
    let t = target(
        Mode::Exclusive,
        vec![entry("8613300000001/CN.1", Some("2020-01-01"))],
        vec![entry("CN.2", None)],
    );
    let p = plan(&t, &strings(&["CN.1", "8613300000002/CN.2"]), TODAY);
    let reasons: Vec<(String, UnblockReason)> = p
        .unblock
        .iter()
        .map(|x| (x.user.to_string(), x.reason))
        .collect();
    assert_eq!(
        reasons,
        [
            (
                "8613300000002 (CN.2)".to_string(),
                UnblockReason::ListedInUnblock
            ),
            ("CN.1".to_string(), UnblockReason::Expired),
        ]
    );
}

#[test]
fn one_person_listed_twice_is_one_live_user() {
    // A phone variant and the same person's BSUID entry.
    let t = target(Mode::Exclusive, vec![entry("CN.5", None)], vec![]);
    let p = plan(&t, &strings(&["525512345678", "5215512345678/CN.5"]), TODAY);
    assert!(!p.has_changes(), "{p:?}");
    assert_eq!((p.live.len(), p.unchanged), (1, 1));
}

/// A platform that knows who is who: person `i` has phone `86133000000i`
/// and BSUID `CN.i`; some hide their phone, so they are listed by BSUID
/// alone. Blocks and unblocks name a person by either id.
struct Platform {
    hidden: HashSet<u64>,
    /// Lists phones only, as a provider from before BSUIDs would.
    phones_only: bool,
    blocked: std::collections::BTreeSet<u64>,
}

impl Platform {
    fn person(user: &User) -> u64 {
        match (user.phone_digits(), user.user_id()) {
            (Some(phone), _) => phone[5..].parse().expect("test phone"),
            (None, Some(id)) => id[3..].parse().expect("test BSUID"),
            (None, None) => unreachable!(),
        }
    }

    fn phone(i: u64) -> String {
        format!("86133{i:08}")
    }

    fn listed(&self) -> Vec<User> {
        (self.blocked.iter())
            .map(|&i| {
                let phone = (!self.hidden.contains(&i)).then(|| Self::phone(i));
                let id = (!self.phones_only).then(|| format!("CN.{i}"));
                User::new(phone, id).expect("every person is listed by some id")
            })
            .collect()
    }

    fn apply(&mut self, plan: &Plan) {
        for unblock in &plan.unblock {
            self.blocked.remove(&Self::person(&unblock.user));
        }
        for user in &plan.block {
            self.blocked.insert(Self::person(user));
        }
    }
}

/// Properties over many generated cases with mixed ids: the plan is
/// deterministic, never names one person twice or in both directions, and
/// carrying it out yields the desired set, after which nothing is left.
#[test]
fn plan_properties_hold_on_generated_cases() {
    let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for case in 0..400 {
        let mut pick = |n: u64| next() % n;
        let mode = if case % 3 == 0 {
            Mode::Additive
        } else {
            Mode::Exclusive
        };
        let phones_only = case % 5 == 0;
        let hidden: HashSet<u64> = if phones_only {
            HashSet::new()
        } else {
            (0..60).filter(|_| pick(4) == 0).collect()
        };
        // How a file names person i: by phone only where the platform
        // shows the phone (a hidden phone can only be matched by BSUID), by
        // BSUID only where the platform lists BSUIDs, or by both.
        let name = |i: u64, form: u64| {
            let phone = Platform::phone(i);
            let id = format!("CN.{i}");
            match form {
                0 if !hidden.contains(&i) => User::phone(phone),
                1 if !phones_only => User::bsuid(id),
                _ => User::new(Some(phone), Some(id)).expect("two ids"),
            }
        };
        // One entry per person, as validation leaves the files.
        let mut chosen = HashSet::new();
        let blocked: Vec<Entry> = (0..pick(40))
            .map(|_| pick(60))
            .filter(|&i| chosen.insert(i))
            .collect::<Vec<_>>()
            .into_iter()
            .map(|i| {
                let expires = match pick(4) {
                    0 => Some("2026-01-01"),
                    1 => Some("2027-01-01"),
                    _ => None,
                };
                entry_for(name(i, pick(3)), expires)
            })
            .collect();
        let unblock: Vec<Entry> = (0..pick(10))
            .map(|_| pick(60))
            .filter(|&i| chosen.insert(i))
            .collect::<Vec<_>>()
            .into_iter()
            .map(|i| entry_for(name(i, pick(3)), None))
            .collect();
        let mut platform = Platform {
            hidden,
            phones_only,
            blocked: (0..pick(50)).map(|_| pick(60)).collect(),
        };
        let t = target(mode, blocked, unblock);
        let live = platform.listed();

        let p = plan(&t, &live, TODAY);
        assert_eq!(p, plan(&t, &live, TODAY), "deterministic");
        let blocks: Vec<u64> = p.block.iter().map(Platform::person).collect();
        let unblocks: Vec<u64> = p
            .unblock
            .iter()
            .map(|x| Platform::person(&x.user))
            .collect();
        let block_set: HashSet<u64> = blocks.iter().copied().collect();
        let unblock_set: HashSet<u64> = unblocks.iter().copied().collect();
        assert_eq!(block_set.len(), blocks.len(), "no person blocked twice");
        assert_eq!(
            unblock_set.len(),
            unblocks.len(),
            "no person unblocked twice"
        );
        assert!(block_set.is_disjoint(&unblock_set), "disjoint");
        assert_eq!(
            p.live.len(),
            p.unchanged + p.unblock.len(),
            "every live user accounted for"
        );
        assert!(
            p.block.windows(2).all(|w| w[0].id() < w[1].id()),
            "sorted by id"
        );

        platform.apply(&p);
        let desired: HashSet<u64> = p.desired.iter().map(Platform::person).collect();
        assert!(
            desired.iter().all(|d| platform.blocked.contains(d)),
            "every desired user is blocked"
        );
        if mode == Mode::Exclusive {
            assert!(
                platform.blocked.iter().all(|b| desired.contains(b)),
                "exclusive: nothing else stays"
            );
        }
        let again = plan(&t, &platform.listed(), TODAY);
        assert!(!again.has_changes(), "idempotent: {again:?}");
    }
}
