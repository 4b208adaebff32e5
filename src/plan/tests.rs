//! The plan against hand-made desired and live sets: every mode, expiry,
//! `wa_id` variants, and the fingerprints.

use std::path::PathBuf;

use super::*;
use crate::config::{Location, ProviderSettings, Safety};

const TODAY: Date = Date {
    year: 2026,
    month: 11,
    day: 21,
};

fn entry(user: &str, expires: Option<&str>) -> Entry {
    Entry {
        user: user.to_string(),
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
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// What the live list becomes once every planned change succeeds.
fn applied(live: &[String], plan: &Plan) -> Vec<String> {
    let gone: HashSet<&str> = plan.unblock.iter().map(|u| u.user.as_str()).collect();
    let mut next: Vec<String> = live
        .iter()
        .filter(|u| !gone.contains(u.as_str()))
        .cloned()
        .collect();
    next.extend(plan.block.iter().cloned());
    next
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
                user: "8613300000002".into(),
                reason: UnblockReason::Expired
            },
            Unblock {
                user: "8613300000004".into(),
                reason: UnblockReason::ListedInUnblock
            },
            Unblock {
                user: "8613300000005".into(),
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
        assert_eq!(p.unblock[0].user, "8613300000002", "{mode:?}");
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
            user: "8613300000004".into(),
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

/// Properties over many generated cases: the plan is deterministic,
/// its two directions are disjoint, and carrying it out yields the
/// desired set, after which there is nothing left to do.
#[test]
fn plan_properties_hold_on_generated_cases() {
    let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for case in 0..300 {
        let mut pick = |n: u64| next() % n;
        let user = |i: u64| format!("86133{:08}", i);
        let mode = if case % 3 == 0 {
            Mode::Additive
        } else {
            Mode::Exclusive
        };
        let blocked: Vec<Entry> = (0..pick(40))
            .map(|_| {
                let expires = match pick(4) {
                    0 => Some("2026-01-01"),
                    1 => Some("2027-01-01"),
                    _ => None,
                };
                entry(&user(pick(60)), expires)
            })
            .collect();
        // Files never list one user under both blocked and unblock (validation refuses it).
        let listed: HashSet<String> = blocked.iter().map(|e| e.user.clone()).collect();
        let unblock: Vec<Entry> = (0..pick(10))
            .map(|_| user(pick(60)))
            .filter(|u| !listed.contains(u))
            .map(|u| entry(&u, None))
            .collect();
        let live: Vec<String> = (0..pick(50)).map(|_| user(pick(60))).collect();
        let t = target(mode, blocked, unblock);

        let p = plan(&t, &live, TODAY);
        assert_eq!(p, plan(&t, &live, TODAY), "deterministic");
        let blocks: HashSet<&str> = p.block.iter().map(String::as_str).collect();
        assert!(
            p.unblock.iter().all(|u| !blocks.contains(u.user.as_str())),
            "disjoint"
        );
        assert!(
            p.block.windows(2).all(|w| w[0] < w[1]),
            "sorted, no duplicates"
        );
        assert!(
            p.unblock.windows(2).all(|w| w[0].user < w[1].user),
            "sorted, no duplicates"
        );

        let after = applied(&live, &p);
        let after_set: HashSet<&str> = after.iter().map(String::as_str).collect();
        assert!(
            p.desired.iter().all(|d| after_set.contains(d.as_str())),
            "every desired user is blocked"
        );
        if mode == Mode::Exclusive {
            let desired: HashSet<&str> = p.desired.iter().map(String::as_str).collect();
            assert!(
                after_set.iter().all(|u| desired.contains(u)),
                "exclusive: nothing else stays"
            );
        }
        let again = plan(&t, &after, TODAY);
        assert!(!again.has_changes(), "idempotent: {again:?}");
    }
}
