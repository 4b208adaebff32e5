//! Includes through `load`: order, locations, missing files, cycles, shared
//! files, and duplicates across files.

use super::{PROVIDER, Scratch};

fn desired(phone: &str, rest: &str) -> String {
    format!("business_phone: \"{phone}\"\n{PROVIDER}{rest}")
}

#[test]
fn own_entries_first_then_includes_depth_first_each_with_its_location() {
    let s = Scratch::new();
    s.write(
        "targets/shop.yaml",
        &desired(
            "8615800001795",
            "include:\n  - ../lists/a.yaml\n  - ./../lists/c.yaml\nblocked:\n  - \"8613300000001\"\n",
        ),
    );
    s.write(
        "lists/a.yaml",
        "blocked:\n  - \"8613300000002\"\ninclude:\n  - nested/b.yaml\n",
    );
    s.write("lists/nested/b.yaml", "blocked: [\"8613300000003\"]\n");
    s.write(
        "lists/c.yaml",
        "include: []\nblocked:\n  - user: \"8613300000004\"\n    reason: shared\n",
    );
    let loaded = s.load(&["targets/shop.yaml"]);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let dir = s.path("");
    let got: Vec<String> = loaded.targets[0]
        .blocked
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e.user,
                e.at.to_string().replace(&dir.display().to_string(), "")
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            "8613300000001 targets/shop.yaml:7:5",
            "8613300000002 targets/../lists/a.yaml:2:5",
            "8613300000003 targets/../lists/nested/b.yaml:1:11",
            "8613300000004 targets/../lists/c.yaml:3:11",
        ]
    );
}

#[test]
fn a_missing_include_names_the_resolved_path_at_the_include_entry() {
    let s = Scratch::new();
    s.write(
        "t/a.yaml",
        &desired("8615800001795", "include:\n  - ../lists/gone.yaml\n"),
    );
    s.write("lists/b.yaml", "include: [gone-too.yaml]\n");
    s.write(
        "t/b.yaml",
        &desired("8615800001796", "include: [../lists/b.yaml]\n"),
    );
    let loaded = s.load(&["t/a.yaml", "t/b.yaml"]);
    let (errors, _) = s.shown(&loaded);
    assert_eq!(
        errors,
        [
            "t/a.yaml:4:5: include \"../lists/gone.yaml\" not found: looked for t/../lists/gone.yaml",
            "t/../lists/b.yaml:1:11: include \"gone-too.yaml\" not found: looked for t/../lists/gone-too.yaml",
        ]
    );
    assert!(loaded.targets.is_empty());
}

#[test]
fn cycles_name_the_chain_in_the_target_file() {
    let s = Scratch::new();
    s.write(
        "a.yaml",
        &desired("8615800001795", "include: [lists/b.yaml]\n"),
    );
    s.write("lists/b.yaml", "include: [c.yaml]\n");
    s.write("lists/c.yaml", "include: [b.yaml]\n");
    s.write(
        "self.yaml",
        &desired("8615800001796", "include: [self.yaml]\n"),
    );
    let loaded = s.load(&["a.yaml", "self.yaml"]);
    let (errors, _) = s.shown(&loaded);
    assert_eq!(
        errors,
        [
            "a.yaml:3:11: include cycle: a.yaml -> lists/b.yaml -> lists/c.yaml -> lists/b.yaml (closed by the include at lists/c.yaml:1:11)",
            "self.yaml:3:11: include cycle: self.yaml -> self.yaml",
        ]
    );
    assert!(loaded.targets.is_empty());
}

#[test]
fn an_include_file_holds_only_blocked_and_include() {
    let s = Scratch::new();
    s.write(
        "a.yaml",
        &desired("8615800001795", "include: [other.yaml]\n"),
    );
    s.write(
        "other.yaml",
        "business_phone: \"8615800001796\"\nblocked: [\"8613300000001\"]\nunblock: []\n",
    );
    let loaded = s.load(&["a.yaml"]);
    let (errors, _) = s.shown(&loaded);
    assert_eq!(
        errors,
        [
            "other.yaml:1:1: unknown key \"business_phone\" in an include file (expected one of: blocked, include)",
            "other.yaml:3:1: unknown key \"unblock\" in an include file (expected one of: blocked, include)",
        ]
    );
    assert!(loaded.targets.is_empty());
}

#[test]
fn a_shared_include_is_checked_once_but_fails_every_target() {
    let s = Scratch::new();
    s.write("lists/shared.yaml", "blocked: [\"123\"]\n");
    s.write(
        "a.yaml",
        &desired("8615800001795", "include: [lists/shared.yaml]\n"),
    );
    s.write(
        "b.yaml",
        &desired("8615800001796", "include: [lists/shared.yaml]\n"),
    );
    let loaded = s.load(&["a.yaml", "b.yaml"]);
    let (errors, _) = s.shown(&loaded);
    assert_eq!(
        errors,
        ["lists/shared.yaml:1:11: \"123\" is not a phone number (needs 8 to 15 digits, has 3)"]
    );
    assert!(loaded.targets.is_empty());
}

#[test]
fn a_diamond_counts_once_and_a_repeat_warns() {
    let s = Scratch::new();
    s.write("lists/base.yaml", "blocked: [\"8613300000001\"]\n");
    s.write("lists/x.yaml", "include: [base.yaml]\n");
    s.write("lists/y.yaml", "include: [base.yaml]\n");
    s.write(
        "a.yaml",
        &desired("8615800001795", "include: [lists/x.yaml, lists/y.yaml]\n"),
    );
    s.write(
        "b.yaml",
        &desired(
            "8615800001796",
            "include:\n  - lists/base.yaml\n  - lists/base.yaml\n",
        ),
    );
    let loaded = s.load(&["a.yaml", "b.yaml"]);
    let (errors, warnings) = s.shown(&loaded);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(
        warnings,
        [
            "b.yaml:5:5: include \"lists/base.yaml\" is already included at b.yaml:4:5; its entries count once"
        ]
    );
    assert!(loaded.targets.iter().all(|t| t.blocked.len() == 1));
}

#[test]
fn duplicates_and_conflicts_reach_into_includes() {
    let s = Scratch::new();
    s.write(
        "lists/l.yaml",
        "blocked:\n  - \"+52 55 1234 5678\"\n  - \"8613300000009\"\n",
    );
    s.write(
        "a.yaml",
        &desired(
            "8615800001795",
            "mode: additive\ninclude: [lists/l.yaml]\nblocked: [\"5215512345678\"]\nunblock: [\"8613300000009\"]\n",
        ),
    );
    let loaded = s.load(&["a.yaml"]);
    let (errors, warnings) = s.shown(&loaded);
    assert_eq!(
        warnings,
        [
            "lists/l.yaml:2:5: \"+52 55 1234 5678\" duplicates \"5215512345678\" at a.yaml:5:11; keeping the first"
        ]
    );
    assert_eq!(
        errors,
        [
            "a.yaml:6:11: \"8613300000009\" is listed in unblock but also blocked as \"8613300000009\" at lists/l.yaml:3:5; a user cannot be both, so remove one"
        ]
    );
}

#[test]
fn include_paths_must_be_relative() {
    let s = Scratch::new();
    s.write(
        "a.yaml",
        &desired("8615800001795", "include: [/etc/lists.yaml, \"\"]\n"),
    );
    let (errors, _) = s.shown(&s.load(&["a.yaml"]));
    assert_eq!(
        errors,
        [
            "a.yaml:3:11: include \"/etc/lists.yaml\" must be a path relative to this file, so the repository works wherever it is checked out",
            "a.yaml:3:28: entry 2 of include is empty; give it a value",
        ]
    );
}

#[test]
fn an_unusable_include_file_is_reported_at_the_include_item() {
    let s = Scratch::new();
    s.write("lists/empty.yaml", "# nothing yet\n");
    std::fs::create_dir_all(s.path("lists/dir.yaml")).expect("mkdir");
    s.write(
        "a.yaml",
        &desired(
            "8615800001795",
            "include: [lists/empty.yaml, lists/dir.yaml]\n",
        ),
    );
    let (errors, _) = s.shown(&s.load(&["a.yaml"]));
    assert_eq!(
        errors,
        [
            "a.yaml:3:11: include \"lists/empty.yaml\": the file is empty; an include file holds a blocked: list",
            "a.yaml:3:29: include \"lists/dir.yaml\": it is a directory, not a YAML file",
        ]
    );
}

#[test]
fn an_expired_copy_never_costs_the_permanent_block() {
    let s = Scratch::new();
    s.write("lists/spammers.yaml", "blocked:\n  - \"8613300000001\"\n");
    s.write(
        "a.yaml",
        &desired(
            "8615800001795",
            "include: [lists/spammers.yaml]\nblocked:\n  - {user: \"+86 133 0000 0001\", expires: 2025-01-01}\n",
        ),
    );
    let loaded = s.load(&["a.yaml"]);
    let (_, warnings) = s.shown(&loaded);
    assert_eq!(
        warnings,
        [
            "lists/spammers.yaml:2:5: \"8613300000001\" duplicates \"+86 133 0000 0001\" at a.yaml:5:12; keeping the later one, which lasts longer"
        ]
    );
    let blocked = &loaded.targets[0].blocked;
    assert_eq!(blocked.len(), 1);
    assert_eq!(
        blocked[0].expires, None,
        "the permanent entry is the one kept"
    );
    // And so the plan keeps the user blocked rather than unblocking it as expired.
    let today = crate::date::Date::parse("2026-11-21").unwrap();
    let plan = crate::plan::plan(
        &loaded.targets[0],
        &crate::user::phones(&["8613300000001"]),
        today,
    );
    assert!(!plan.has_changes(), "{plan:?}");
}

#[test]
fn an_include_path_with_a_control_character_is_an_error_quoted_escaped() {
    let s = Scratch::new();
    s.write(
        "shop.yaml",
        &desired(
            "8615800001795",
            "include:\n  - \"lists/evil\\n::set-output name=a::b.yaml\"\n",
        ),
    );
    let loaded = s.load(&["shop.yaml"]);
    let shown: Vec<String> = loaded.errors.iter().map(|e| e.headline()).collect();
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert!(
        shown[0].ends_with("shop.yaml:4:5: include \"lists/evil\\n::set-output name=a::b.yaml\" holds a control character; a file name with one would break every line that shows it"),
        "{shown:?}"
    );
}

/// A shared list left directly in a targets directory fails as a target,
/// with one error that says what it is and where it belongs.
#[test]
fn a_shared_list_among_the_targets_is_told_to_move() {
    let s = Scratch::new();
    s.write(
        "dir/a.yaml",
        &desired("8615800001795", "include: [spammers.yaml]\n"),
    );
    s.write("dir/spammers.yaml", "blocked: [\"8613300000001\"]\n");
    let loaded = s.load(&["dir"]);
    let (errors, _) = s.shown(&loaded);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("dir/spammers.yaml:1:1: this looks like a shared list"));
    assert!(errors[0].contains("move it to a subdirectory (e.g. lists/spammers.yaml)"));
    // The target that includes it is still fine.
    assert_eq!(loaded.targets.len(), 1);
}
