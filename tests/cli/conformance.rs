//! One conformance suite for every provider: the same scenarios run against
//! each backend through the emulator, so a new provider is proven by adding
//! it to [`PROVIDERS`].
//!
//! Providers differ in what the platform can do, not in what the tool
//! promises: WAHA cannot list its blocks (the ledger stands in for the live
//! list) and drives a WhatsApp Web session (no 24-hour rule, no Meta codes),
//! so scenarios that need those capabilities say so and skip it.

use crate::harness::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Provider {
    NxCloud,
    CloudApi,
    Waha,
}

const PROVIDERS: [Provider; 3] = [Provider::NxCloud, Provider::CloudApi, Provider::Waha];

const PHONE_NUMBER_ID: &str = "106540352242922";

impl Provider {
    /// The platform reads its block list back (WAHA cannot).
    fn lists(self) -> bool {
        self != Provider::Waha
    }

    /// Meta's per-user rules apply: 24 hours (131047), not yourself (131021).
    fn meta_rules(self) -> bool {
        self != Provider::Waha
    }

    /// Users are known by business-scoped user ID too (WAHA addresses
    /// contacts by phone only).
    fn knows_bsuids(self) -> bool {
        self != Provider::Waha
    }

    /// The request (method and path) that reads one list page.
    fn list_request(self) -> String {
        match self {
            Provider::NxCloud => "POST /api/wa/getBlockUsers".into(),
            Provider::CloudApi => format!("GET /v25.0/{PHONE_NUMBER_ID}/block_users"),
            Provider::Waha => String::new(),
        }
    }

    /// The requests (method and path) that block or unblock, for counting writes.
    fn write_requests(self) -> Vec<String> {
        let meta = format!("/v25.0/{PHONE_NUMBER_ID}/block_users");
        match self {
            Provider::NxCloud => vec![
                "POST /api/wa/createBlockUsers".into(),
                "POST /api/wa/deleteBlockUsers".into(),
            ],
            Provider::CloudApi => vec![format!("POST {meta}"), format!("DELETE {meta}")],
            Provider::Waha => vec![
                "POST /api/contacts/block".into(),
                "POST /api/contacts/unblock".into(),
            ],
        }
    }

    /// Emulator state with `live` blocked and `recent` allowed to be blocked.
    fn state(self, live: &[String], recent: &[String]) -> serde_json::Value {
        match self {
            Provider::NxCloud => serde_json::json!({"phones": {PHONE: {
                "appkey": APPKEY, "blocked": live, "recent_contacts": recent}}}),
            Provider::CloudApi => serde_json::json!({"phones": {PHONE: {
                "phone_number_id": PHONE_NUMBER_ID, "blocked": live, "recent_contacts": recent}}}),
            Provider::Waha => serde_json::json!({"phones": {},
                "waha": {"default": {"blocked": live}}}),
        }
    }

    /// The header of a desired-state file for this provider on `emu`.
    fn header(self, emu: &Emulator) -> String {
        let url = emu.base_url();
        let provider = match self {
            Provider::NxCloud => {
                format!("{{kind: nxcloud, appkey: {APPKEY}, base_url: \"{url}\"}}")
            }
            Provider::CloudApi => {
                format!(
                    "{{kind: cloud-api, phone_number_id: \"{PHONE_NUMBER_ID}\", base_url: \"{url}\"}}"
                )
            }
            Provider::Waha => format!("{{kind: waha, base_url: \"{url}\", session: default}}"),
        };
        format!("business_phone: \"+{PHONE}\"\nprovider: {provider}\n")
    }

    /// What the platform holds now.
    fn blocked(self, emu: &Emulator) -> Vec<String> {
        let state = emu.state();
        let list = match self {
            Provider::Waha => &state["waha"]["default"]["blocked"],
            _ => &state["phones"][PHONE]["blocked"],
        };
        let mut users: Vec<String> = list
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        users.sort();
        users
    }
}

/// One provider's world: an emulator with `live` blocked, and a workspace
/// whose target file is `t.yaml`. For WAHA the tool's ledger starts out
/// knowing what is live, as if the tool had blocked those users itself.
struct World {
    provider: Provider,
    emu: Emulator,
    ws: Workspace,
}

impl World {
    fn new(provider: Provider, live: &[String], recent: &[String], flags: &[&str]) -> World {
        let emu = Emulator::start(&provider.state(live, recent), flags);
        let ws = Workspace::new();
        if provider == Provider::Waha && !live.is_empty() {
            seed_ledger(&ws, live);
        }
        World { provider, emu, ws }
    }

    fn file(&self, body: &str) {
        self.ws.write(
            "t.yaml",
            &format!("{}{body}", self.provider.header(&self.emu)),
        );
    }

    fn run(&self, args: &[&str]) -> Run {
        self.ws.run(args)
    }

    fn writes(&self) -> u64 {
        self.provider
            .write_requests()
            .iter()
            .map(|r| self.emu.by_request(r))
            .sum()
    }
}

/// A ledger saying the tool blocked `users` (see the WAHA provider's ledger format).
fn seed_ledger(ws: &Workspace, users: &[String]) {
    let mut users = users.to_vec();
    users.sort();
    let ledger = serde_json::json!({
        "format_version": 1, "business_phone": PHONE, "session": "default", "blocked": users});
    ws.write(
        "t.ledger.json",
        &serde_json::to_string_pretty(&ledger).unwrap(),
    );
}

fn users(range: std::ops::Range<u32>) -> Vec<String> {
    range.map(|i| format!("86133{i:08}")).collect()
}

fn list(v: &[String]) -> String {
    v.iter().map(|u| format!("  - \"{u}\"\n")).collect()
}

fn each(scenario: impl Fn(Provider)) {
    for p in PROVIDERS {
        scenario(p);
    }
}

#[test]
fn plan_apply_replan() {
    each(|p| {
        let w = World::new(p, &users(7..8), &users(1..3), &[]);
        w.file(&format!(
            "safety: {{max_unblock_ratio: 1}}\nblocked:\n{}",
            list(&users(1..4))
        ));
        let plan = w.run(&["plan", "t.yaml", "--format", "json"]);
        plan.code(0);
        let t = &plan.json()["targets"][0];
        assert_eq!(t["block"], serde_json::json!(users(1..4)), "{p:?}");
        assert_eq!(t["unblock"][0]["user"], users(7..8)[0], "{p:?}");
        assert_eq!(w.writes(), 0, "{p:?}: plan changes nothing");

        let apply = w.run(&["apply", "t.yaml", "--yes", "--format", "json"]);
        apply.code(0);
        let r = &apply.json()["targets"][0];
        assert_eq!(r["unblocked"], serde_json::json!(users(7..8)), "{p:?}");
        if p.meta_rules() {
            // 3 has not messaged in 24 hours: deferred, not failed.
            assert_eq!(r["blocked"], serde_json::json!(users(1..3)), "{p:?}");
            assert_eq!(r["deferred"][0]["user"], users(3..4)[0], "{p:?}");
            assert_eq!(r["deferred"][0]["code"], 131047, "{p:?}");
        } else {
            assert_eq!(r["blocked"], serde_json::json!(users(1..4)), "{p:?}");
        }
        let expect = if p.meta_rules() {
            users(1..3)
        } else {
            users(1..4)
        };
        assert_eq!(p.blocked(&w.emu), expect, "{p:?}");

        let replan = w.run(&["plan", "t.yaml", "--format", "json", "--detailed-exitcode"]);
        let t = &replan.json()["targets"][0];
        if p.meta_rules() {
            // The state remembers the deferral: the block is still sent,
            // but shown apart and not counted as a change.
            replan.code(0);
            assert_eq!(
                t["block"],
                serde_json::json!(users(3..4)),
                "{p:?}: only the deferred user"
            );
            assert_eq!(t["deferred"][0]["user"], users(3..4)[0], "{p:?}");
            assert_eq!(t["deferred"][0]["attempts"], 1, "{p:?}");
        } else {
            replan.code(0);
        }
        assert_eq!(t["unblock"], serde_json::json!([]), "{p:?}");
    });
}

/// A live list mixing users listed by both ids, by BSUID alone (a hidden
/// phone) and a file naming them by phone, by BSUID or both.
#[test]
fn users_known_by_bsuid_converge() {
    each(|p| {
        if !p.knows_bsuids() {
            return;
        }
        let phone = |i: u32| users(i..i + 1).remove(0);
        let live = ["CN.1".to_string(), "CN.2".into(), "CN.4".into()];
        let recent = [phone(1), "CN.2".into(), "CN.3".into()];
        let mut state = p.state(&live, &recent);
        state["phones"][PHONE]["users"] = serde_json::json!([
            {"phone": phone(1), "user_id": "CN.1"},
            {"phone": phone(2), "user_id": "CN.2", "phone_hidden": true},
            {"phone": phone(4), "user_id": "CN.4"},
            {"user_id": "CN.5"},
        ]);
        let emu = Emulator::start(&state, &["--max-page-size", "1"]);
        let w = World {
            provider: p,
            emu,
            ws: Workspace::new(),
        };
        w.file(&format!(
            "safety: {{max_unblock_ratio: 1}}\nblocked:\n  - \"{}\"\n  - CN.2\n  - user_id: CN.3\n  - CN.5\n",
            phone(1)
        ));
        let plan = w.run(&["plan", "t.yaml", "--format", "json"]);
        plan.code(0);
        let t = &plan.json()["targets"][0];
        assert_eq!(t["block"], serde_json::json!(["CN.3", "CN.5"]), "{p:?}");
        assert_eq!(
            t["unblock"],
            serde_json::json!([{"user": phone(4), "user_id": "CN.4", "reason": "not_in_file"}]),
            "{p:?}"
        );
        assert_eq!(t["unchanged"], 2, "{p:?}");

        let apply = w.run(&["apply", "t.yaml", "--yes", "--format", "json"]);
        apply.code(0);
        let r = &apply.json()["targets"][0];
        assert_eq!(r["blocked"], serde_json::json!(["CN.3"]), "{p:?}");
        // CN.5 has not written in 24 hours: deferred, by its BSUID.
        assert_eq!(r["deferred"][0]["user"], "CN.5", "{p:?}");
        assert_eq!(r["deferred"][0]["code"], 131047, "{p:?}");
        assert_eq!(p.blocked(&w.emu), ["CN.1", "CN.2", "CN.3"], "{p:?}");

        let replan = w.run(&["plan", "t.yaml", "--format", "json"]);
        let t = &replan.json()["targets"][0];
        assert_eq!(
            t["block"],
            serde_json::json!(["CN.5"]),
            "{p:?}: only the deferred user"
        );
        assert_eq!(t["unblock"], serde_json::json!([]), "{p:?}");
    });
}

#[test]
fn partial_failures_are_per_user() {
    each(|p| {
        if !p.meta_rules() {
            return;
        }
        let me = PHONE.to_string();
        let w = World::new(p, &[], &[users(1..2)[0].clone(), me.clone()], &[]);
        w.file(&format!("blocked:\n{}  - \"{me}\"\n", list(&users(1..3))));
        let run = w.run(&[
            "apply",
            "t.yaml",
            "--yes",
            "--format",
            "json",
            "--detailed-exitcode",
        ]);
        run.code(2);
        let r = &run.json()["targets"][0];
        assert_eq!(r["blocked"], serde_json::json!(users(1..2)), "{p:?}");
        assert_eq!(r["deferred"][0]["code"], 131047, "{p:?}");
        assert_eq!(r["failed"][0]["code"], 131021, "{p:?}");
        assert_eq!(r["failed"][0]["reason"], "cannot_block_self", "{p:?}");
    });
}

#[test]
fn retries_under_503_and_429_converge() {
    each(|p| {
        // `--rate-limit-first` makes sure a 429 comes however slowly a busy
        // machine sends; the per-second limit alone may never be reached.
        let limited = &["--rate-limit", "4", "--rate-limit-first", "2"][..];
        for flags in [&["--fail-first", "3"][..], limited] {
            let wanted = users(0..12);
            let w = World::new(p, &[], &wanted, flags);
            w.file(&format!("blocked:\n{}", list(&wanted)));
            let run = w.run(&[
                "apply",
                "t.yaml",
                "--yes",
                "--chunk-size",
                "3",
                "--format",
                "json",
            ]);
            run.code(0);
            assert!(
                run.json()["targets"][0]["retries"].as_u64().unwrap() >= 1,
                "{p:?} {flags:?}"
            );
            assert_eq!(p.blocked(&w.emu), wanted, "{p:?} {flags:?}");
            w.run(&["plan", "t.yaml", "--detailed-exitcode"]).code(0);
        }
    });
}

#[test]
fn paging_loses_nothing_and_restarts_on_a_changed_list() {
    each(|p| {
        if !p.lists() {
            return;
        }
        // With the pages each listing needs: 47 users in pages of 3 with
        // `next` (16); in pages of 5 ended by an empty page (10 + 1); in pages
        // of 10, changed after 2 (2, the stale cursor's 139102, then 5 again).
        for (flags, pages) in [
            (&["--max-page-size", "3"][..], 16),
            (
                &["--max-page-size", "5", "--paging", "cursors-only"][..],
                11,
            ),
            (
                &["--max-page-size", "10", "--change-list-after-pages", "2"][..],
                8,
            ),
        ] {
            let live = users(0..47);
            let w = World::new(p, &live, &[], flags);
            w.file(&format!("blocked:\n{}", list(&live)));
            let run = w.run(&["plan", "t.yaml", "--format", "json", "--detailed-exitcode"]);
            run.code(0);
            let t = &run.json()["targets"][0];
            assert_eq!(t["live_count"], 47, "{p:?} {flags:?}");
            assert_eq!(t["unchanged"], 47, "{p:?} {flags:?}");
            assert_eq!(
                w.emu.by_request(&p.list_request()),
                pages,
                "{p:?} {flags:?}"
            );
        }
    });
}

#[test]
fn guards_refuse_and_send_nothing() {
    each(|p| {
        let live = users(0..4);
        let w = World::new(p, &live, &live, &[]);
        w.file(&format!("blocked:\n{}", list(&live[2..])));
        let plan = w.run(&["plan", "t.yaml", "--format", "json"]);
        plan.code(3);
        assert_eq!(
            plan.json()["targets"][0]["refused"]["rule"],
            "max_unblock_ratio",
            "{p:?}"
        );
        w.run(&["apply", "t.yaml", "--yes"]).code(3);
        assert_eq!(w.writes(), 0, "{p:?}");
        assert_eq!(p.blocked(&w.emu), live, "{p:?}");
    });
}

#[test]
fn reviewed_plans_apply_exactly_what_was_reviewed() {
    each(|p| {
        let w = World::new(p, &[], &users(1..3), &[]);
        w.file(&format!("blocked:\n{}", list(&users(1..3))));
        w.run(&["plan", "t.yaml", "--out", "plan.json"]).code(0);
        let run = w.run(&["apply", "--plan", "plan.json", "--format", "json"]);
        run.code(0);
        assert_eq!(
            run.json()["targets"][0]["blocked"],
            serde_json::json!(users(1..3)),
            "{p:?}"
        );
        // The file grows after the review: the reviewed plan is stale, and
        // nothing is sent.
        let writes = w.writes();
        w.file(&format!("blocked:\n{}", list(&users(1..4))));
        w.run(&["apply", "--plan", "plan.json"]).code(3);
        assert_eq!(w.writes(), writes, "{p:?}");
    });
}

#[test]
fn secrets_are_never_printed() {
    each(|p| {
        let w = World::new(p, &users(7..8), &users(1..2), &["--fail-first", "2"]);
        w.file(&format!(
            "safety: {{max_unblock_ratio: 1}}\nblocked:\n{}",
            list(&users(1..2))
        ));
        let plan = w.run(&["plan", "t.yaml", "-vv", "--out", "plan.json"]);
        let apply = w.run(&["apply", "t.yaml", "-vv", "--yes", "--report", "report.json"]);
        apply.code(0);
        let everything = [
            plan.all(),
            apply.all(),
            read(&w.ws.path("plan.json")),
            read(&w.ws.path("report.json")),
            w.emu.log(),
        ]
        .concat();
        for secret in [ACCESS_SECRET, ACCESS_KEY, WHATSAPP_TOKEN, WAHA_API_KEY] {
            assert!(
                !everything.contains(secret),
                "{p:?} leaked {secret}:\n{everything}"
            );
        }
    });
}
