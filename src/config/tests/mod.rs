//! Tests of `load` as a whole: the broken-file corpus, collecting every
//! problem of every file, one file per business phone, and robustness.

use std::fs;
use std::path::{Path, PathBuf};

use super::{Loaded, load};

mod includes;
#[cfg(unix)]
mod ledger_links;

/// A temporary directory of YAML files, and messages shown relative to it.
pub(super) struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Scratch {
        Scratch {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("mkdir");
        }
        fs::write(&path, text).expect("write");
        path
    }

    pub fn load(&self, names: &[&str]) -> Loaded {
        let paths: Vec<PathBuf> = names.iter().map(|n| self.path(n)).collect();
        load(&paths)
    }

    /// `errors` then `warnings`, each as `file:line:col: message` with the
    /// directory left out.
    pub fn shown(&self, loaded: &Loaded) -> (Vec<String>, Vec<String>) {
        let prefix = format!("{}/", self.dir.path().display());
        let show = |ds: &[super::Diagnostic]| -> Vec<String> {
            ds.iter()
                .map(|d| d.headline().replace(&prefix, ""))
                .collect()
        };
        (show(&loaded.errors), show(&loaded.warnings))
    }
}

pub(super) const PROVIDER: &str =
    "provider: {kind: nxcloud, appkey: testapp, base_url: \"http://127.0.0.1:9\"}\n";

// The corpus is shared with the CLI tests, which run the same cases
// through the binary.
#[path = "../../../tests/cli/corpus.rs"]
mod corpus;

#[test]
fn every_broken_file_fails_where_and_how_its_expect_line_says() {
    for case in corpus::cases() {
        let loaded = load(std::slice::from_ref(&case.path));
        assert!(
            loaded.targets.is_empty(),
            "{}: produced a target",
            case.name
        );
        let found = loaded.errors.iter().any(|e| {
            e.location.file == case.path
                && e.location.line == case.line
                && e.location.column == case.column
                && e.message.contains(&case.message)
        });
        // credential-in-provider.yaml holds a value that must never be shown.
        assert!(
            loaded
                .errors
                .iter()
                .all(|e| !e.to_string().contains("do-not-echo"))
        );
        assert!(
            found,
            "{}: expected {}: {:?}, got:\n{:#?}",
            case.name,
            case.place(),
            case.message,
            loaded
                .errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        );
    }
}

#[test]
fn three_errors_in_one_file_are_all_reported() {
    let s = Scratch::new();
    s.write(
        "shop.yaml",
        &format!(
            "business_phone: \"+86 158 0000 1795\"\n{PROVIDER}bloked:\n  - \"8613300000001\"\nblocked:\n  - \"86133xx\"\n  - user: \"8613300000002\"\n    expires: 2027-13-01\n"
        ),
    );
    let loaded = s.load(&["shop.yaml"]);
    let (errors, _) = s.shown(&loaded);
    assert_eq!(
        errors,
        [
            "shop.yaml:3:1: unknown key \"bloked\" (expected one of: business_phone, provider, mode, include, blocked, unblock, safety; did you mean \"blocked\"?)",
            "shop.yaml:6:5: \"86133xx\" is not a phone number (unexpected character 'x'; only digits, '+', spaces, dashes, dots and parentheses are allowed)",
            "shop.yaml:8:14: expires \"2027-13-01\" is not a valid date; write YYYY-MM-DD, e.g. 2027-01-31",
        ]
    );
    assert!(loaded.targets.is_empty());
}

/// What users read: the headline, then the line with a caret under the
/// value, taken from the text already read (including an include's, and a
/// file that is not UTF-8, shown as far as it can be).
#[test]
fn diagnostics_show_the_line_with_a_caret() {
    let s = Scratch::new();
    s.write(
        "shop.yaml",
        &format!("business_phone: \"+86 158 0000 1795\"\n{PROVIDER}include: [l.yaml]\nblocked:\n  - \"86133xx\"\n"),
    );
    s.write("l.yaml", "blocked:\n\t- x\n");
    std::fs::write(s.path("bad.yaml"), b"a: 1\nbb: \"\xff\"\n").expect("write");
    let loaded = s.load(&["shop.yaml", "bad.yaml"]);
    let prefix = s.path("").display().to_string();
    let shown: Vec<String> = loaded
        .errors
        .iter()
        .map(|d| d.to_string().replace(&prefix, ""))
        .collect();
    assert_eq!(
        shown,
        [
            "shop.yaml:5:5: \"86133xx\" is not a phone number (unexpected character 'x'; only digits, '+', spaces, dashes, dots and parentheses are allowed)\n    5 |   - \"86133xx\"\n      |     ^~~~~~~~~",
            "l.yaml:2:2: the file is not valid YAML: tabs disallowed within this context (block indentation)\n    2 | \\t- x\n      |   ^",
            "bad.yaml:2:6: the file is not valid UTF-8 (byte 0xff); save it as UTF-8\n    2 | bb: \"\u{fffd}\"\n      |      ^~",
        ]
    );
}

#[test]
fn every_file_is_checked_and_good_ones_still_load() {
    let s = Scratch::new();
    s.write("a.yaml", "business_phone: \"1234\"\n");
    s.write(
        "b.yaml",
        &format!("business_phone: \"8615800001795\"\n{PROVIDER}"),
    );
    s.write(
        "c.yaml",
        &format!("business_phone: \"8615800001796\"\n{PROVIDER}mode: additiv\n"),
    );
    // "" is the directory itself.
    let loaded = s.load(&[""]);
    let (errors, _) = s.shown(&loaded);
    assert_eq!(
        errors,
        [
            "a.yaml:1:1: provider is missing; add provider: with kind: (one of: nxcloud, cloud-api, waha, sandbox)",
            "a.yaml:1:17: \"1234\" is not a phone number (needs 8 to 15 digits, has 4)",
            "c.yaml:3:7: mode \"additiv\" is not one of: exclusive, additive; did you mean \"additive\"?",
        ]
    );
    let files: Vec<&Path> = loaded.targets.iter().map(|t| t.file.as_path()).collect();
    assert_eq!(files, [s.path("b.yaml")]);
}

#[test]
fn one_business_phone_one_file() {
    let s = Scratch::new();
    s.write(
        "a.yaml",
        &format!("business_phone: \"+52 55 1234 5678\"\n{PROVIDER}"),
    );
    s.write(
        "b.yaml",
        &format!("{PROVIDER}business_phone: \"5215512345678\"\n"),
    );
    s.write(
        "c.yaml",
        &format!("business_phone: \"8615800001795\"\n{PROVIDER}"),
    );
    let loaded = s.load(&["a.yaml", "b.yaml", "c.yaml"]);
    let (errors, _) = s.shown(&loaded);
    assert_eq!(
        errors,
        [
            "b.yaml:2:17: business phone \"5215512345678\" is already governed by a.yaml:1:17; one business phone needs exactly one file (share entries with include: instead)"
        ]
    );
    assert_eq!(loaded.targets.len(), 1);
    assert_eq!(loaded.targets[0].business_phone, "8615800001795");
}

#[test]
fn naming_a_file_twice_loads_it_once() {
    let s = Scratch::new();
    s.write(
        "a.yaml",
        &format!("business_phone: \"8615800001795\"\n{PROVIDER}"),
    );
    let loaded = s.load(&["a.yaml", "", "./a.yaml"]);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    assert_eq!(loaded.targets.len(), 1);
}

/// Small deterministic generator: the test must not depend on a seed file.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn mangled_files_never_panic() {
    let valid = format!(
        "business_phone: \"+86 158 0000 1795\"\n{PROVIDER}mode: additive\ninclude: [lists/x.yaml]\nblocked:\n  - \"8613300000001\"\n  - user: \"+86 133 0000 0002\"\n    reason: \"phishing\"\n    expires: 2027-01-31\nunblock: [\"8613300000009\"]\nsafety: {{max_unblocks: 5, max_unblock_ratio: 0.5, allow_empty: false}}\n"
    );
    let s = Scratch::new();
    s.write("lists/x.yaml", "blocked: [\"8613300000003\"]\n");
    let alphabet = b"-:[]{}&*!|>'\"#,? \n\t~%@`0123456789abcxyz+.\xff";
    let mut state = 0x9e37_79b9_7f4a_7c15;
    for round in 0..1500 {
        let mut bytes = valid.clone().into_bytes();
        for _ in 0..(1 + round % 6) {
            let at = (xorshift(&mut state) % bytes.len() as u64) as usize;
            let with = alphabet[(xorshift(&mut state) % alphabet.len() as u64) as usize];
            match xorshift(&mut state) % 3 {
                0 => bytes[at] = with,
                1 => bytes.insert(at, with),
                _ => {
                    bytes.remove(at);
                }
            }
        }
        let path = s.path("m.yaml");
        fs::write(&path, &bytes).expect("write");
        let loaded = load(std::slice::from_ref(&path));
        assert!(loaded.errors.is_empty() || loaded.targets.is_empty());
    }
}

/// `cargo test --release --lib config::tests::sixty_four_thousand -- --ignored --nocapture`
#[test]
/// A full list loads (its speed is measured by `examples/bench_plan.rs`, not here).
fn sixty_four_thousand_entries_load() {
    let s = Scratch::new();
    let mut text = format!("business_phone: \"+86 158 0000 1795\"\n{PROVIDER}blocked:\n");
    for i in 0..64_000u64 {
        if i % 4 == 0 {
            text.push_str(&format!(
                "  - user: \"+86 133 {:04} {:04}\"\n    reason: \"spam report {i}\"\n    expires: 2027-01-31\n",
                i / 10_000,
                i % 10_000
            ));
        } else {
            text.push_str(&format!("  - \"86133{:08}\"\n", i));
        }
    }
    s.write("big.yaml", &text);
    let loaded = s.load(&["big.yaml"]);
    assert!(loaded.errors.is_empty(), "{:?}", &loaded.errors[..1]);
    assert_eq!(loaded.targets[0].blocked.len(), 64_000);
}

#[test]
fn two_waha_targets_never_share_a_ledger() {
    let s = Scratch::new();
    let waha = |phone: &str, extra: &str| {
        format!(
            "business_phone: \"{phone}\"\nprovider: {{kind: waha, base_url: \"http://127.0.0.1:9\"{extra}}}\n"
        )
    };
    // `a.yaml` and `a.yml` both default to `a.ledger.json`.
    s.write("a.yaml", &waha("8615800001791", ""));
    s.write("a.yml", &waha("8615800001792", ""));
    // Two spellings of one explicit ledger.
    s.write("b.yaml", &waha("8615800001793", ", ledger: shared.json"));
    s.write(
        "c.yaml",
        &waha("8615800001794", ", ledger: ./x/../shared.json"),
    );
    s.write("d.yaml", &waha("8615800001795", ""));
    let loaded = s.load(&["a.yaml", "a.yml", "b.yaml", "c.yaml", "d.yaml"]);
    let (errors, _) = s.shown(&loaded);
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors[0].contains("is also the ledger of a.yaml"),
        "{errors:?}"
    );
    assert!(
        errors[1].contains("is also the ledger of b.yaml"),
        "{errors:?}"
    );
    assert_eq!(loaded.targets.len(), 1);
    assert!(loaded.targets[0].file.ends_with("d.yaml"));
}
