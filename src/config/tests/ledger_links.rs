//! Two WAHA targets whose ledgers are one file through a link.

use super::Scratch;

fn waha(phone: &str, ledger: &str) -> String {
    format!(
        "business_phone: \"{phone}\"\nprovider: {{kind: waha, base_url: \"http://127.0.0.1:9\", ledger: {ledger}}}\n"
    )
}

#[test]
fn a_symlink_to_another_targets_ledger_is_refused() {
    let s = Scratch::new();
    s.write("real.json", "{}");
    std::os::unix::fs::symlink(s.path("real.json"), s.path("link.json")).unwrap();
    s.write("a.yaml", &waha("8615800001791", "real.json"));
    s.write("b.yaml", &waha("8615800001792", "link.json"));
    let loaded = s.load(&["a.yaml", "b.yaml"]);
    let (errors, _) = s.shown(&loaded);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("link.json is also the ledger of a.yaml"),
        "{errors:?}"
    );
    assert!(loaded.targets.is_empty());
}

/// A linked directory leads to one ledger before its file exists.
#[test]
fn a_symlinked_directory_is_seen_through_before_the_ledger_exists() {
    let s = Scratch::new();
    std::fs::create_dir(s.path("state")).unwrap();
    std::os::unix::fs::symlink(s.path("state"), s.path("alias")).unwrap();
    s.write("a.yaml", &waha("8615800001791", "state/l.json"));
    s.write("b.yaml", &waha("8615800001792", "alias/l.json"));
    let loaded = s.load(&["a.yaml", "b.yaml"]);
    assert_eq!(loaded.errors.len(), 1, "{:?}", loaded.errors);
    assert!(loaded.targets.is_empty());
}

#[test]
fn a_hard_link_to_another_targets_ledger_is_refused() {
    let s = Scratch::new();
    s.write("one.json", "{}");
    std::fs::hard_link(s.path("one.json"), s.path("two.json")).unwrap();
    s.write("a.yaml", &waha("8615800001791", "one.json"));
    s.write("b.yaml", &waha("8615800001792", "two.json"));
    s.write("c.yaml", &waha("8615800001793", "three.json"));
    let loaded = s.load(&["a.yaml", "b.yaml", "c.yaml"]);
    let (errors, _) = s.shown(&loaded);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("two.json is also the ledger of a.yaml"),
        "{errors:?}"
    );
    assert_eq!(loaded.targets.len(), 1);
    assert!(loaded.targets[0].file.ends_with("c.yaml"));
}
