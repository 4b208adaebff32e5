//! `blocklist add` and `blocklist remove`: a file with comments, edited in
//! place, keeps every line it does not change.

use crate::harness::*;

const FILE: &str = r#"# Support line: who we block and why.
business_phone: "+86 158 0000 1795"   # the line
provider:
  kind: nxcloud
  appkey: pem28kje
mode: additive
include:
  - lists/spammers.yaml

blocked:   # reviewed every Monday
  # A bare number...
  - "8613300000001"
  # ...or an entry with metadata.
  - user: "+86 133 0000 0002"
    reason: "phishing links, ticket SUP-1234"
    expires: 2099-01-31
  # One person known both ways.
  - user: "+52 1 55 1234 5678"
    user_id: "MX.99812736450012"

# Appeals that were granted.
unblock:
  - "8613300000009"
"#;

fn workspace() -> Workspace {
    let ws = Workspace::new();
    ws.write("shop.yaml", FILE);
    ws.write(
        "lists/spammers.yaml",
        "# shared\nblocked:\n  - \"8613300000020\"\n",
    );
    ws
}

/// Every line of `before` is in `after`, in order.
fn keeps_every_line(before: &str, after: &str) {
    let mut rest = after.lines();
    for line in before.lines() {
        assert!(
            rest.any(|l| l == line),
            "{line:?} is gone or moved:\n{after}"
        );
    }
}

#[test]
fn add_keeps_comments_and_layout() {
    let ws = workspace();
    let run = ws
        .command(&[
            "add",
            "shop.yaml",
            "+86 133-0000-0003",
            "US.13491208655302741918",
            "--reason",
            "spam: links, #SUP-9",
            "--expires",
            "2099-12-31",
        ])
        .run();
    run.code(0);
    assert!(
        run.stderr.contains("Added 2 user(s) to shop.yaml."),
        "{}",
        run.stderr
    );
    let after = read(&ws.path("shop.yaml"));
    assert_eq!(
        after,
        FILE.replace(
            "    user_id: \"MX.99812736450012\"\n",
            "    user_id: \"MX.99812736450012\"\n  - user: \"8613300000003\"\n    reason: 'spam: links, #SUP-9'\n    expires: 2099-12-31\n  - user_id: \"US.13491208655302741918\"\n    reason: 'spam: links, #SUP-9'\n    expires: 2099-12-31\n"
        )
    );
    ws.command(&["validate", "shop.yaml"]).run().code(0);
    let why = ws.command(&["why", "8613300000003", "shop.yaml"]).run();
    why.code(0);
    assert!(why.stdout.contains("spam: links, #SUP-9"), "{}", why.stdout);

    // Days from today, and a bare number without metadata.
    let run = ws
        .command(&["add", "shop.yaml", "8613300000004", "--expires", "30d"])
        .run();
    run.code(0);
    assert!(read(&ws.path("shop.yaml")).contains("  - user: \"8613300000004\"\n    expires: "));
    let run = ws.command(&["add", "shop.yaml", "8613300000005"]).run();
    run.code(0);
    let after = read(&ws.path("shop.yaml"));
    assert!(
        after.contains("  - \"8613300000005\"\n\n# Appeals"),
        "{after}"
    );
    keeps_every_line(FILE, &after);
}

#[test]
fn a_duplicate_is_refused_and_the_file_left_alone() {
    let ws = workspace();
    for (user, said) in [
        (
            "+86 133 0000 0001",
            "8613300000001 is already listed at shop.yaml:12:5",
        ),
        // A wa_id variant of a listed Mexican mobile, and a listed BSUID.
        ("5215512345678", "is already listed at shop.yaml:18:11"),
        ("MX.99812736450012", "is already listed at shop.yaml:18:11"),
        (
            "8613300000020",
            "8613300000020 is already listed at lists/spammers.yaml:3:5 (included through shop.yaml:8:5)",
        ),
        (
            "8613300000009",
            "is listed in unblock: at shop.yaml:23:5; remove it there first",
        ),
    ] {
        let run = ws.command(&["add", "shop.yaml", user]).run();
        run.code(1);
        assert!(
            run.stderr.contains("shop.yaml left unchanged"),
            "{user}: {}",
            run.stderr
        );
        assert!(run.stderr.contains(said), "{user}: {}", run.stderr);
        assert_eq!(read(&ws.path("shop.yaml")), FILE);
    }
    let run = ws
        .command(&["add", "shop.yaml", "8613300000007", "+86 133 0000 0007"])
        .run();
    run.code(1);
    assert!(
        run.stderr.contains("names 8613300000007 twice"),
        "{}",
        run.stderr
    );
    let run = ws.command(&["add", "shop.yaml", "86133xx"]).run();
    run.code(1);
    assert!(
        run.stderr.contains("\"86133xx\" is not a phone number"),
        "{}",
        run.stderr
    );
    let run = ws
        .command(&[
            "add",
            "shop.yaml",
            "8613300000007",
            "--expires",
            "2001-01-01",
        ])
        .run();
    run.code(1);
    assert!(run.stderr.contains("has passed"), "{}", run.stderr);
    assert_eq!(read(&ws.path("shop.yaml")), FILE);
}

#[test]
fn remove_takes_out_only_the_entry() {
    let ws = workspace();
    let run = ws
        .command(&["remove", "shop.yaml", "8613300000002", "5215512345678"])
        .run();
    run.code(0);
    assert!(
        run.stderr.contains("Removed 2 entries from shop.yaml."),
        "{}",
        run.stderr
    );
    let after = read(&ws.path("shop.yaml"));
    assert_eq!(
        after,
        FILE.replace(
            "  - user: \"+86 133 0000 0002\"\n    reason: \"phishing links, ticket SUP-1234\"\n    expires: 2099-01-31\n",
            ""
        )
        .replace(
            "  - user: \"+52 1 55 1234 5678\"\n    user_id: \"MX.99812736450012\"\n",
            ""
        )
    );
    ws.command(&["validate", "shop.yaml"]).run().code(0);

    for (user, said) in [
        ("8613300000002", "8613300000002 is not listed in blocked:"),
        (
            "8613300000020",
            "is not in the file's own blocked: list but in an include, at lists/spammers.yaml:3:5 (included through shop.yaml:8:5); remove it there",
        ),
    ] {
        let run = ws.command(&["remove", "shop.yaml", user]).run();
        run.code(1);
        assert!(run.stderr.contains(said), "{user}: {}", run.stderr);
        assert_eq!(read(&ws.path("shop.yaml")), after);
    }
}

#[test]
fn a_file_that_does_not_validate_is_not_edited() {
    let ws = workspace();
    let broken = FILE.replace("mode: additive", "mode: additiv");
    ws.write("shop.yaml", &broken);
    let run = ws.command(&["add", "shop.yaml", "8613300000007"]).run();
    run.code(1);
    assert!(
        run.stderr.contains("shop.yaml does not validate, so it is left unchanged; fix it first:\nshop.yaml:6:7: mode \"additiv\""),
        "{}",
        run.stderr
    );
    assert_eq!(read(&ws.path("shop.yaml")), broken);
}
