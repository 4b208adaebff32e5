//! `blocklist schema`: the JSON Schema of the file format, checked with a
//! real JSON Schema 2020-12 validator against every example and fixture.

use std::path::{Path, PathBuf};

use crate::harness::*;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn printed_schema() -> (String, serde_json::Value) {
    let run = Workspace::new().command(&["schema"]).run();
    run.code(0);
    let value = run.json();
    (run.stdout, value)
}

fn validator() -> jsonschema::Validator {
    let (_, schema) = printed_schema();
    jsonschema::validator_for(&schema).expect("the schema compiles")
}

/// A YAML file as an editor's YAML language server sees it: plain YAML
/// 1.2 values (numbers, booleans, null), as JSON. `None` when it is not
/// one YAML document that converts (a schema has nothing to say then).
fn as_json(path: &Path) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_yaml::from_str(&text).ok()
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    files
}

/// What the schema says about a file: its first error, if any.
fn verdict(validator: &jsonschema::Validator, path: &Path) -> Option<String> {
    let value = as_json(path).unwrap_or_else(|| panic!("{} is not YAML", path.display()));
    validator.iter_errors(&value).next().map(|e| e.to_string())
}

#[test]
fn the_schema_is_a_valid_2020_12_schema_and_the_committed_copy() {
    let (text, schema) = printed_schema();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert!(jsonschema::meta::is_valid(&schema));
    assert_eq!(
        text,
        read(&root().join("schema/blocklist.schema.json")),
        "regenerate it: cargo run -- schema > schema/blocklist.schema.json"
    );
    let example = read(&root().join("blocklist.yaml.example"));
    assert_eq!(
        example.lines().next(),
        Some("# yaml-language-server: $schema=schema/blocklist.schema.json"),
        "the example points editors at the committed schema"
    );
}

#[test]
fn every_example_and_valid_fixture_passes() {
    let validator = validator();
    let mut files = vec![root().join("blocklist.yaml.example")];
    files.extend(yaml_files(&root().join("examples")));
    files.extend(yaml_files(&root().join("examples/sandbox")));
    files.extend(yaml_files(&root().join("examples/sandbox/lists")));
    files.extend(yaml_files(&root().join("tests/fixtures/broken/includes")));
    assert!(files.len() >= 7, "{files:?}");
    for file in &files {
        // `validate` agrees that each is valid (includes by themselves are
        // not desired-state files, so only the schema judges those).
        assert_eq!(verdict(&validator, file), None, "{}", file.display());
    }
}

/// Cases of the broken corpus whose problem needs more than one file's
/// shape to see: other files, duplicates, or the YAML text itself.
const NOT_FOR_A_SCHEMA: &[&str] = &[
    "blocked-and-unblocked.yaml", // a user in both lists: a relation
    "include-cycle.yaml",         // needs the included files
    "missing-include.yaml",       // likewise
    "duplicate-key.yaml",         // YAML itself: editors flag it on their own
    "yaml-tag.yaml",              // YAML itself: a tag is invisible in the value
];

#[test]
fn the_broken_corpus_fails_where_a_schema_can_tell() {
    let validator = validator();
    let dir = root().join("tests/fixtures/broken");
    let mut failed = Vec::new();
    for file in yaml_files(&dir) {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        // Not one plain YAML document (malformed, a second document,
        // duplicate keys, aliases, tags): the YAML parser reports those.
        if as_json(&file).is_none() {
            continue;
        }
        let verdict = verdict(&validator, &file);
        if NOT_FOR_A_SCHEMA.contains(&name.as_str()) {
            assert_eq!(verdict, None, "{name}");
        } else if verdict.is_none() {
            failed.push(name);
        }
    }
    assert!(
        failed.is_empty(),
        "the schema lets these through: {failed:?}"
    );
}

#[test]
fn per_kind_settings_and_credentials_are_checked() {
    let validator = validator();
    let check = |yaml: &str| -> bool {
        let value: serde_json::Value = serde_yaml::from_str(yaml).unwrap();
        validator.is_valid(&value)
    };
    let head = "business_phone: \"+86 158 0000 1795\"\n";
    assert!(check(&format!(
        "{head}provider: {{kind: nxcloud, appkey: a, credentials: {{access_key: KEY_SHOP, access_secret: SECRET_SHOP}}}}\n"
    )));
    assert!(!check(&format!(
        "{head}provider: {{kind: nxcloud, appkey: a, credentials: {{access_key: ak-live-1234}}}}\n"
    )));
    assert!(!check(&format!(
        "{head}provider: {{kind: nxcloud, appkey: a, credentials: {{token: T}}}}\n"
    )));
    assert!(!check(&format!(
        "{head}provider: {{kind: sandbox, credentials: {{token: T}}}}\n"
    )));
    assert!(check(&format!(
        "{head}provider: {{kind: cloud-api, endpoint: \"https://r.example/block_users\", auth_header: D360-API-KEY, credentials: {{token: D360_KEY_2}}}}\n"
    )));
    assert!(!check(&format!(
        "{head}provider: {{kind: cloud-api, endpoint: \"https://r.example/b\", phone_number_id: \"1\"}}\n"
    )));
    assert!(!check(&format!("{head}provider: {{kind: cloud-api}}\n")));
    assert!(!check(&format!(
        "{head}provider: {{kind: waha, base_url: \"http://u:p@h\"}}\n"
    )));
    assert!(!check(&format!(
        "{head}provider: {{kind: sandbox}}\nblocked:\n  - \"US.ENT.123\"\n"
    )));
    assert!(check(&format!(
        "{head}provider: {{kind: sandbox}}\nblocked:\n  - 8613300000001\n  - \"US.123\"\n  - {{user_id: \"US.1\", reason: r, expires: 2027-01-31}}\n"
    )));
}
