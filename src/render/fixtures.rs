//! Small hand-made targets shared by the rendering tests. Plans come from
//! the real [`crate::plan::plan`] with a fixed date, so the snapshots show
//! what users will see for these files, not what a hand-written Plan says.

use std::path::PathBuf;

use super::{AppliedTarget, PlannedTarget, TargetError};
use crate::apply::{TargetReport, UserOutcome};
use crate::config::{Entry, Location, Mode, ProviderSettings, Safety, Target};
use crate::date::Date;
use crate::deferral::Deferral;
use crate::plan::plan;
use crate::safety::{Figure, Refusal, Rule};
use crate::user::User;

pub const CREATED_AT: &str = "2026-11-21T10:00:00Z";

pub fn today() -> Date {
    Date {
        year: 2026,
        month: 11,
        day: 21,
    }
}

/// `(user, reason, expires)` as a file would hold them.
type Row<'a> = (&'a str, Option<&'a str>, Option<&'a str>);

/// A user as fixtures write it: digits, a BSUID, or `digits/BSUID`.
pub fn user(text: &str) -> User {
    match text.split_once('/') {
        Some((phone, id)) => User::new(Some(phone.into()), Some(id.into())).expect("two ids"),
        None => User::from(text),
    }
}

fn entries(file: &str, rows: &[Row]) -> Vec<Entry> {
    rows.iter()
        .enumerate()
        .map(|(i, (text, reason, expires))| Entry {
            user: user(text),
            reason: reason.map(str::to_string),
            expires: expires.and_then(Date::parse),
            at: Location {
                file: PathBuf::from(file),
                line: i + 8,
                column: 5,
            },
        })
        .collect()
}

pub fn target(
    file: &str,
    provider: ProviderSettings,
    mode: Mode,
    blocked: &[Row],
    unblock: &[Row],
) -> Target {
    Target {
        file: PathBuf::from(file),
        business_phone: "8615800001795".to_string(),
        provider,
        mode,
        blocked: entries(file, blocked),
        unblock: entries(file, unblock),
        safety: Safety::default(),
        includes: Vec::new(),
    }
}

pub fn planned(target: Target, live: &[&str]) -> PlannedTarget {
    let live: Vec<User> = live.iter().map(|s| user(s)).collect();
    PlannedTarget {
        plan: plan(&target, &live, today()),
        target,
        refused: None,
        notes: Vec::new(),
        deferred: Vec::new(),
    }
}

fn nxcloud() -> ProviderSettings {
    ProviderSettings::NxCloud {
        appkey: "pem28kje".to_string(),
        base_url: None,
        access_key_var: "NXCLOUD_ACCESS_KEY".into(),
        access_secret_var: "NXCLOUD_ACCESS_SECRET".into(),
    }
}

fn cloud_api() -> ProviderSettings {
    ProviderSettings::CloudApi {
        phone_number_id: Some("106540352242922".to_string()),
        api_version: "v25.0".to_string(),
        base_url: None,
        endpoint: None,
        auth_header: None,
        chunk_size: 1000,
        token_var: "WHATSAPP_TOKEN".into(),
    }
}

/// Exclusive, with reasons and expiry: three blocks (bare, reason and
/// expiry, expiry only), an expired entry and two numbers not in the file.
pub fn support_line() -> PlannedTarget {
    let t = target(
        "blocklists/support-line.yaml",
        nxcloud(),
        Mode::Exclusive,
        &[
            ("8613300000001", None, None),
            (
                "8613300000002",
                Some("phishing links, ticket SUP-1234"),
                Some("2027-01-31"),
            ),
            ("8613300000003", Some("spam"), Some("2026-06-30")),
            ("8613300000004", Some("abusive messages"), None),
            ("8613300000005", None, Some("2026-12-31")),
        ],
        &[],
    );
    planned(
        t,
        &[
            "8613300000003",
            "8613300000004",
            "8613300000007",
            "8613300000008",
        ],
    )
}

/// Users known by phone, by BSUID (a hidden phone) and by both: blocks by
/// BSUID and by phone with its BSUID; unblocks of a listed two-id user and
/// of a BSUID-only one; one user matched by BSUID while listed with both.
pub fn username_line() -> PlannedTarget {
    let t = target(
        "blocklists/usernames.yaml",
        cloud_api(),
        Mode::Exclusive,
        &[
            (
                "US.13491208655302741918",
                Some("phishing, phone hidden"),
                None,
            ),
            ("8613300000021/CN.21", Some("spam"), None),
            ("CN.22", None, None),
        ],
        &[],
    );
    planned(t, &["8613300000022/CN.22", "8613300000023/CN.23", "MX.24"])
}

/// Blocks the platform refused before (the state remembers them), beside a
/// new block and an unblock; and a target whose only blocks are waiting.
pub fn waiting() -> Vec<PlannedTarget> {
    let deferral = |text: &str, since: &str, attempts| Deferral {
        user: user(text),
        since: since.to_string(),
        attempts,
        code: 131047,
    };
    let mut changes = planned(
        target(
            "blocklists/waiting.yaml",
            cloud_api(),
            Mode::Exclusive,
            &[
                ("8613300000031", Some("new this week"), None),
                ("8613300000032/CN.32", Some("spam"), None),
                ("US.33", None, None),
            ],
            &[],
        ),
        &["8613300000039"],
    );
    changes.deferred = vec![
        deferral("8613300000032/CN.32", "2026-11-18T09:30:00Z", 3),
        deferral("US.33", "2026-11-20T17:05:00Z", 1),
    ];
    let mut only_waiting = planned(
        target(
            "blocklists/quiet.yaml",
            nxcloud(),
            Mode::Additive,
            &[("8613300000041", None, None), ("8613300000042", None, None)],
            &[],
        ),
        &["8613300000042"],
    );
    only_waiting.deferred = vec![deferral("8613300000041", "2026-11-01T00:00:00Z", 7)];
    vec![changes, only_waiting]
}

/// The apply report of [`username_line`], with a BSUID deferred.
pub fn username_applied() -> AppliedTarget {
    AppliedTarget {
        target: username_line().target,
        report: TargetReport {
            blocked: vec![user("8613300000021/CN.21")],
            unblocked: vec![user("8613300000023/CN.23"), user("MX.24")],
            deferred: vec![UserOutcome {
                user: user("US.13491208655302741918"),
                code: 131047,
                reason: "not_messaged_24h".into(),
                message: "Re-engagement check failed".into(),
            }],
            failed: vec![UserOutcome {
                user: user("8613300000025/CN.25"),
                code: -1,
                reason: "unknown".into(),
                message: "the platform gave no error code".into(),
            }],
            requests: 3,
            ..TargetReport::default()
        },
    }
}

/// Additive: a number blocked outside the files stays, `unblock:` is honoured.
pub fn shop() -> PlannedTarget {
    let t = target(
        "blocklists/shop.yaml",
        ProviderSettings::CloudApi {
            phone_number_id: Some("106540352242922".to_string()),
            api_version: "v25.0".to_string(),
            base_url: None,
            endpoint: None,
            auth_header: None,
            chunk_size: 1000,
            token_var: "WHATSAPP_TOKEN".into(),
        },
        Mode::Additive,
        &[("8613300000010", Some("fake orders"), None)],
        &[("8613300000012", Some("appeal accepted, SUP-2001"), None)],
    );
    planned(t, &["8613300000011", "8613300000012"])
}

/// In sync, with a note the reader must see.
pub fn bot() -> PlannedTarget {
    let t = target(
        "blocklists/bot.yaml",
        ProviderSettings::Waha {
            base_url: "http://localhost:3000".to_string(),
            session: "default".to_string(),
            ledger: PathBuf::from("blocklists/bot.ledger.json"),
            ledger_given: false,
            api_key_var: "WAHA_API_KEY".into(),
        },
        Mode::Exclusive,
        &[("8613300000020", None, None), ("8613300000021", None, None)],
        &[],
    );
    let mut p = planned(t, &["8613300000020", "8613300000021"]);
    p.notes.push(
        "WAHA cannot list blocks: the live list is the tool's ledger, so blocks made outside blocklist are invisible to it.".to_string(),
    );
    p
}

/// Three of four live numbers would be unblocked: the ratio guard trips.
pub fn marketing() -> PlannedTarget {
    let t = target(
        "blocklists/marketing.yaml",
        ProviderSettings::Sandbox,
        Mode::Exclusive,
        &[("8613300000030", None, None)],
        &[],
    );
    let mut p = planned(
        t,
        &[
            "8613300000030",
            "8613300000031",
            "8613300000032",
            "8613300000033",
        ],
    );
    p.refused = Some(Refusal {
        rule: Rule::MaxUnblockRatio,
        limit: Figure::Ratio(0.25),
        actual: Figure::Ratio(0.75),
    });
    p
}

pub fn broken() -> TargetError {
    TargetError {
        file: PathBuf::from("blocklists/broken.yaml"),
        message: "reading the live list: NxCloud answered 401 Unauthorized: signature mismatch (check NXCLOUD_ACCESS_KEY and NXCLOUD_ACCESS_SECRET)".to_string(),
    }
}

/// Every case at once: changes, additive, in sync with a note, a refusal.
pub fn mixed_plan() -> Vec<PlannedTarget> {
    vec![support_line(), shop(), bot(), marketing()]
}

fn outcome(user: &str, code: i64, reason: &str, message: &str) -> UserOutcome {
    UserOutcome {
        user: User::from(user),
        code,
        reason: reason.to_string(),
        message: message.to_string(),
    }
}

/// Applied with a deferral, a failure and a retry; applied cleanly; nothing
/// to do; refused by a guard.
pub fn applied() -> Vec<AppliedTarget> {
    vec![
        AppliedTarget {
            target: support_line().target,
            report: TargetReport {
                blocked: vec![User::from("8613300000001")],
                unblocked: vec![
                    User::from("8613300000003"),
                    User::from("8613300000007"),
                    User::from("8613300000008"),
                ],
                deferred: vec![outcome(
                    "8613300000002",
                    131047,
                    "not_messaged_24h",
                    "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
                )],
                failed: vec![outcome(
                    "8613300000005",
                    131021,
                    "cannot_block_self",
                    "Recipient cannot be sender.",
                )],
                skipped_already_done: 0,
                requests: 3,
                retries: 1,
                refused: None,
            },
        },
        AppliedTarget {
            target: shop().target,
            report: TargetReport {
                blocked: vec![User::from("8613300000010")],
                unblocked: vec![User::from("8613300000012")],
                skipped_already_done: 1,
                requests: 2,
                ..TargetReport::default()
            },
        },
        AppliedTarget {
            target: bot().target,
            report: TargetReport::default(),
        },
        AppliedTarget {
            target: marketing().target,
            report: TargetReport {
                refused: Some(
                    "safety guard max_unblocks tripped: limit 100, actual 240 (--force overrides it for one run)".to_string(),
                ),
                requests: 1,
                ..TargetReport::default()
            },
        },
    ]
}
