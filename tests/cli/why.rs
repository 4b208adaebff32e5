//! `blocklist why USER`: where the files list a user, through includes, and
//! whether each target has them blocked now.

use serde_json::json;

use crate::harness::*;

fn files(ws: &Workspace, emu: &Emulator) {
    ws.target(
        "bl/shop.yaml",
        emu,
        "include:\n  - ../lists/shared.yaml\nblocked:\n  - user: \"+86 133 0000 0001\"\n    reason: \"phishing, ticket SUP-1\"\n  - user: \"8613300000004\"\n    expires: 2020-01-01\n",
    );
    ws.write("lists/shared.yaml", "include:\n  - deeper/spam.yaml\n");
    ws.write(
        "lists/deeper/spam.yaml",
        "blocked:\n  - user_id: US.77\n    reason: spam wave\n  - \"8613300000002\"\n",
    );
}

#[test]
fn why_names_the_entry_its_include_chain_and_the_live_list() {
    let emu = Emulator::start(&state(&["8613300000001"], &[]), &[]);
    let ws = Workspace::new();
    files(&ws, &emu);

    let run = ws.run(&["why", "+86 133-0000-0001", "bl", "--live"]);
    run.code(0);
    let all = run.all();
    for line in [
        "8613300000001 is listed 1 time(s):",
        "bl/shop.yaml  phone 8615800001795, nxcloud",
        "  blocked by the entry at bl/shop.yaml:9:11",
        "  reason: phishing, ticket SUP-1",
        "  live: blocked now",
    ] {
        assert!(all.contains(line), "{line:?} not in:\n{all}");
    }

    let run = ws.run(&["why", "US.77", "bl", "--live", "--format", "json"]);
    run.code(0);
    assert_eq!(
        run.json(),
        json!({"user": "US.77", "targets": [{
            "file": "bl/shop.yaml", "business_phone": "8615800001795", "provider": "nxcloud",
            "listed": "blocked", "at": "bl/../lists/deeper/spam.yaml:2:14", "user": "US.77",
            "reason": "spam wave",
            "include_chain": ["bl/shop.yaml:7:5", "bl/../lists/shared.yaml:2:5"],
            "live": false,
        }], "journal": []})
    );

    let expired = ws.run(&["why", "8613300000004", "bl"]);
    assert!(
        expired
            .all()
            .contains("no longer desired (expired) by the entry at bl/shop.yaml:11:11"),
        "{}",
        expired.all()
    );
    assert!(expired.all().contains("expires: 2020-01-01"));

    let nobody = ws.run(&["why", "8613300000009", "bl"]);
    nobody.code(0);
    assert!(
        nobody
            .all()
            .contains("8613300000009 is not listed in any file.")
    );
}

#[test]
fn why_refuses_a_user_that_is_neither_a_phone_nor_a_bsuid() {
    let ws = Workspace::new();
    let run = ws.run(&["why", "us.77"]);
    run.code(1);
    assert!(
        run.all().contains("\"us.77\" is not a BSUID"),
        "{}",
        run.all()
    );
    let run = ws.run(&["why", "12ab"]);
    run.code(1);
    assert!(
        run.all().contains("\"12ab\" is not a phone number"),
        "{}",
        run.all()
    );
}
