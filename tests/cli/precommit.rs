//! `.pre-commit-hooks.yaml`: its hooks run `blocklist validate` the way
//! pre-commit would (entry, then args; no file names).

use std::path::Path;

use crate::harness::*;

#[test]
fn the_hooks_run_validate() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(".pre-commit-hooks.yaml");
    let hooks: serde_json::Value = serde_yaml::from_str(&read(&path)).expect("valid YAML");
    let hooks = hooks.as_array().expect("a list of hooks");
    let ids: Vec<&str> = hooks.iter().filter_map(|h| h["id"].as_str()).collect();
    assert_eq!(ids, ["blocklist-validate", "blocklist-validate-system"]);
    let ws = Workspace::new();
    ws.write(
        "blocklists/shop.yaml",
        "business_phone: \"8615800001795\"\nprovider: {kind: sandbox}\nblocked:\n  - \"8613300000001\"\n",
    );
    for hook in hooks {
        assert_eq!(hook["pass_filenames"], false, "{hook}");
        assert_eq!(hook["files"], "\\.ya?ml$", "{hook}");
        assert!(
            matches!(hook["language"].as_str(), Some("rust" | "system")),
            "{hook}"
        );
        let entry: Vec<&str> = hook["entry"].as_str().unwrap().split_whitespace().collect();
        assert_eq!(entry[0], "blocklist");
        let mut args: Vec<&str> = entry[1..].to_vec();
        args.push("blocklists/"); // the user's args: [blocklists/]
        ws.command(&args).run().code(0);
        ws.write(
            "blocklists/bad.yaml",
            "business_phone: \"86133xx\"\nprovider: {kind: sandbox}\n",
        );
        let run = ws.command(&args).run();
        run.code(1);
        assert!(
            run.stdout.contains("blocklists/bad.yaml:1:17"),
            "{}",
            run.stdout
        );
        std::fs::remove_file(ws.path("blocklists/bad.yaml")).unwrap();
    }
}
