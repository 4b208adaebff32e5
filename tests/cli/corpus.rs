//! The broken-input corpus, `tests/fixtures/broken/*.yaml`: one bad file per
//! case, its first line saying where and how it must fail:
//!
//! ```yaml
//! # expect: 5:5: "86133xx" is not a phone number
//! ```
//!
//! Read by the unit tests of `config::load` (compiled into the library's
//! tests with `#[path]`) and by the CLI tests, so both check the same cases
//! the same way. Integration tests cannot see the library's `#[cfg(test)]`
//! code, and the library should not export test support, hence one source
//! file compiled twice. Each side uses part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// Where the corpus lives; `includes/` in it holds files the cases include.
pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/broken")
}

/// One broken file and what it must produce.
#[derive(Debug)]
pub struct Case {
    pub path: PathBuf,
    /// The file name, e.g. `bad-number.yaml`.
    pub name: String,
    pub text: String,
    /// Where the expected error is, 1-based.
    pub line: usize,
    pub column: usize,
    /// A part of the expected message.
    pub message: String,
}

impl Case {
    /// `line:column`, as the error shows it after the file name.
    pub fn place(&self) -> String {
        format!("{}:{}", self.line, self.column)
    }
}

/// Every case, in file-name order (so outputs built from them are stable).
pub fn cases() -> Vec<Case> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir())
        .expect("the corpus directory")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 15, "the corpus holds {} cases", paths.len());
    paths.into_iter().map(case).collect()
}

/// The files under `includes/`, as (name, text), for a copy of the corpus.
pub fn includes() -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(dir().join("includes"))
        .map(|entries| {
            entries
                .map(|e| e.expect("a directory entry").path())
                .map(|p| {
                    let name = p
                        .file_name()
                        .expect("a name")
                        .to_string_lossy()
                        .into_owned();
                    let text = std::fs::read_to_string(&p).expect("includes are UTF-8");
                    (name, text)
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

fn case(path: PathBuf) -> Case {
    let text = std::fs::read_to_string(&path).expect("corpus files are UTF-8");
    let first = text.lines().next().unwrap_or_default();
    let rest = first
        .strip_prefix("# expect: ")
        .unwrap_or_else(|| bad(&path, first));
    let mut parts = rest.splitn(3, ':');
    let mut number = || -> usize {
        parts
            .next()
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| bad(&path, first))
    };
    let (line, column) = (number(), number());
    let message = parts.next().unwrap_or_default().trim().to_string();
    let name = path
        .file_name()
        .expect("a file name")
        .to_string_lossy()
        .into_owned();
    Case {
        path,
        name,
        text,
        line,
        column,
        message,
    }
}

fn bad(path: &Path, first: &str) -> ! {
    panic!(
        "{}: the first line must be `# expect: LINE:COLUMN: message`, not {first:?}",
        path.display()
    )
}
