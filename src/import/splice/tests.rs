use super::*;
use crate::config;
use crate::date::Date;

const HEADER: &str = "# Support line: who we block and why.\nbusiness_phone: \"+86 158 0000 1795\"   # the line\nprovider:\n  kind: sandbox\n";

fn bare(user: &str) -> NewEntry {
    NewEntry {
        user: crate::user::User::phone(user),
        reason: None,
        expires: None,
    }
}

fn with(user: &str, reason: Option<&str>, expires: Option<&str>) -> NewEntry {
    NewEntry {
        user: crate::user::User::phone(user),
        reason: reason.map(str::to_string),
        expires: expires.and_then(Date::parse),
    }
}

fn splice(source: &str, entries: &[NewEntry]) -> Spliced {
    replace_blocked(source, entries).unwrap_or_else(|e| panic!("{e:#}\n{source}"))
}

/// Load `text` as a desired-state file, as `plan` would: the proof that what
/// import writes is a valid file meaning what it should.
fn load(text: &str) -> config::Target {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("t.yaml");
    std::fs::write(&path, text).expect("write");
    let mut loaded = config::load(&[path]);
    assert!(loaded.errors.is_empty(), "{:?}\n{text}", loaded.errors);
    assert!(loaded.warnings.is_empty(), "{:?}\n{text}", loaded.warnings);
    loaded.targets.pop().expect("one target")
}

#[test]
fn replaces_the_list_and_keeps_everything_else_byte_for_byte() {
    let source = format!(
        "{HEADER}mode: exclusive\nblocked:   # reviewed monthly\n  - 8613300000009\n  # - \"8613300000010\"  waiting for SUP-7\n  - user: \"+86 133 0000 0002\"\n    reason: old\n\n# Appeals accepted:\nunblock:\n  - \"8613300000011\"\nsafety: {{max_unblocks: 5}}  # small list\n"
    );
    let out = splice(
        &source,
        &[
            bare("8613300000001"),
            with(
                "8613300000002",
                Some("phishing links, SUP-1234"),
                Some("2027-01-31"),
            ),
        ],
    );
    let want = format!(
        "{HEADER}mode: exclusive\nblocked:   # reviewed monthly\n  - \"8613300000001\"\n  - user: \"+86 133 0000 0002\"\n    reason: phishing links, SUP-1234\n    expires: 2027-01-31\n\n# Appeals accepted:\nunblock:\n  - \"8613300000011\"\nsafety: {{max_unblocks: 5}}  # small list\n"
    );
    assert_eq!(out.text, want);
    assert_eq!(out.comments_dropped, 1);
    let source = format!(
        "{HEADER}blocked:\n  - \"8613300000001\"   # known\n  - user: \"8613300000002\"\n    reason: \"ticket #12\"\n    expires: 2027-01-31 # a week\n"
    );
    assert_eq!(splice(&source, &[]).comments_dropped, 2);
    let t = load(&out.text);
    let users: Vec<&str> = t.blocked.iter().map(|e| e.user.id()).collect();
    assert_eq!(users, ["8613300000001", "8613300000002"]);
    assert_eq!(t.unblock.len(), 1);
}

#[test]
fn inline_empty_and_null_lists_are_replaced() {
    for list in [
        "blocked: []\n",
        "blocked:\n",
        "blocked: ~\n",
        "blocked: [\"1\",\n  \"2\"]\n",
    ] {
        let source = format!("{HEADER}{list}mode: additive\n");
        let out = splice(&source, &[bare("8613300000001")]);
        assert_eq!(
            out.text,
            format!("{HEADER}blocked:\n  - \"8613300000001\"\nmode: additive\n"),
            "{list:?}"
        );
    }
}

#[test]
fn a_missing_list_is_appended_and_an_empty_one_is_written_empty() {
    let out = splice(HEADER.trim_end(), &[bare("8613300000001")]);
    assert_eq!(
        out.text,
        format!("{HEADER}blocked:\n  - \"8613300000001\"\n")
    );
    let out = splice(&format!("{HEADER}blocked:\n  - \"8613300000001\"\n"), &[]);
    assert_eq!(out.text, format!("{HEADER}blocked: []\n"));
    assert!(load(&out.text).blocked.is_empty());
}

#[test]
fn the_last_key_keeps_trailing_comments_and_items_may_start_in_column_one() {
    let source =
        format!("{HEADER}blocked:\n- \"8613300000009\"\n- \"8613300000008\"\n\n# end of file\n");
    let out = splice(&source, &[bare("8613300000001")]);
    assert_eq!(
        out.text,
        format!("{HEADER}blocked:\n  - \"8613300000001\"\n\n# end of file\n")
    );
}

#[test]
fn crlf_and_byte_order_mark_are_kept() {
    let source = format!(
        "\u{feff}{}blocked: []\r\nmode: exclusive\r\n",
        HEADER.replace('\n', "\r\n")
    );
    let out = splice(&source, &[with("8613300000001", Some("x"), None)]);
    assert_eq!(
        out.text,
        format!(
            "\u{feff}{}blocked:\r\n  - user: \"8613300000001\"\r\n    reason: x\r\nmode: exclusive\r\n",
            HEADER.replace('\n', "\r\n")
        )
    );
    assert_eq!(load(&out.text).blocked.len(), 1);
}

#[test]
fn a_quoted_key_is_found_and_a_flow_top_level_refused() {
    let source = format!("{HEADER}\"blocked\": [\"8613300000009\"]\n");
    let out = splice(&source, &[bare("8613300000001")]);
    assert_eq!(
        out.text,
        format!("{HEADER}blocked:\n  - \"8613300000001\"\n")
    );
    let err = replace_blocked("{business_phone: \"1\", blocked: []}\n", &[]).unwrap_err();
    assert!(format!("{err:#}").contains("block-style"), "{err:#}");
}

/// Reasons are free text from people: whatever they hold, the written file
/// reads back with exactly the same reason.
#[test]
fn any_reason_reads_back_unchanged() {
    let reasons = [
        "phishing links, ticket SUP-1234",
        "yes",
        "123",
        "a: b",
        "#hashtag spam",
        "x #y",
        "- dash",
        "[x]",
        "{y}",
        "null",
        "~",
        "it's \"quoted\" and \\ backslashed",
        "tab\there",
        "ünïcödé 🚫",
        "two\nlines",
        "para\n\nwith a blank line",
        "  indented\nfirst line",
        "2027-01-31",
        "*star &amp !tag %pct @at `tick`",
    ];
    let entries: Vec<NewEntry> = reasons
        .iter()
        .enumerate()
        .map(|(i, r)| with(&format!("86133{i:08}"), Some(r), Some("2027-01-31")))
        .collect();
    let out = splice(&format!("{HEADER}blocked: []\n"), &entries);
    let t = load(&out.text);
    assert_eq!(t.blocked.len(), reasons.len(), "{}", out.text);
    for (e, want) in t.blocked.iter().zip(reasons) {
        // The loader trims reasons; so does this comparison.
        assert_eq!(e.reason.as_deref(), Some(want.trim()), "{}", out.text);
        assert_eq!(e.expires, Date::parse("2027-01-31"));
    }
}

#[test]
fn bare_cr_line_endings_are_refused_not_cut_wrongly() {
    let source = HEADER.replace('\n', "\r") + "blocked: []\rmode: exclusive\r";
    let err = replace_blocked(&source, &[bare("8613300000001")]).unwrap_err();
    assert!(format!("{err:#}").contains("bare CR"), "{err:#}");
}
