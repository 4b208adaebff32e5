//! Reading one file and parsing it into the located YAML tree, refusing
//! anything that could exhaust memory or stack, or silently lose content.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use marked_yaml::{LoadError, LoaderOptions, Node};

use super::excerpt::Sources;
use super::shape;
use super::{Diagnostic, Location};

/// Real block lists stay far below this (64 000 entries are about 2 MiB);
/// anything larger is a mistake or an attack, and is refused before reading.
pub(super) const MAX_BYTES: u64 = 32 * 1024 * 1024;

/// What the file is for, so messages can say what belongs in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    Desired,
    Include,
}

impl Role {
    pub(super) fn expected(self) -> &'static str {
        match self {
            Role::Desired => "a desired-state file needs business_phone: and provider:",
            Role::Include => "an include file holds a blocked: list",
        }
    }
}

/// Read and parse `path`; the error names the file, and the line and column
/// where that can be known. The text is left in `sources` for the excerpts
/// under diagnostics.
pub(super) fn read(path: &Path, role: Role, sources: &mut Sources) -> Result<Node, Diagnostic> {
    let mut text = match read_text(path) {
        Ok(text) => text,
        Err((d, lossy)) => {
            if let Some(lossy) = lossy {
                sources.keep(path, lossy);
            }
            return Err(d);
        }
    };
    // Editors on Windows may save a byte-order mark; YAML allows it but the
    // parser would make it part of the first key.
    if text.starts_with('\u{feff}') {
        text.drain(..'\u{feff}'.len_utf8());
    }
    let parsed = parse(path, &text, role);
    sources.keep(path, text);
    parsed
}

fn parse(path: &Path, text: &str, role: Role) -> Result<Node, Diagnostic> {
    shape::check(text, role).map_err(|(line, column, message)| Diagnostic {
        location: at(path, line, column),
        message,
        excerpt: None,
    })?;
    let options = LoaderOptions::default()
        .error_on_duplicate_keys(true)
        // Keeps plain and quoted scalars apart, so `~` is null but "~" is not.
        .prevent_coercion(true);
    marked_yaml::parse_yaml_with_options(0, text, options).map_err(|e| {
        let sigil = match e {
            LoadError::UnexpectedAnchor(_) => Some('&'),
            LoadError::UnexpectedTag(_) => Some('!'),
            _ => None,
        };
        let mut d = load_error(path, e, role);
        if let Some(sigil) = sigil {
            d.location.column = property_column(text, d.location.line, d.location.column, sigil);
        }
        d
    })
}

/// The parser places anchor and tag errors at the value they decorate (`[`
/// in `a: &x [1]`); the `&x` or `!!str` itself is what the reader has to
/// remove, so point at the last such token before the value.
fn property_column(text: &str, line: usize, column: usize, sigil: char) -> usize {
    let Some(source_line) = text.lines().nth(line.wrapping_sub(1)) else {
        return column;
    };
    let before: Vec<char> = source_line.chars().take(column.saturating_sub(1)).collect();
    let mut found = column;
    for (i, c) in before.iter().enumerate() {
        let starts_token = i == 0 || matches!(before[i - 1], ' ' | '\t' | '[' | '{' | ',');
        if *c == sigil && starts_token {
            found = i + 1;
        }
    }
    found
}

/// The file's text; on failure the problem, and for text that is not
/// UTF-8 the text as far as it can be shown, for the excerpt.
fn read_text(path: &Path) -> Result<String, (Diagnostic, Option<String>)> {
    let whole = |message: String| {
        let d = Diagnostic {
            location: at(path, 0, 0),
            message,
            excerpt: None,
        };
        (d, None)
    };
    let shown = path.display();
    // Look before opening: opening a FIFO (or a device) named *.yaml would
    // block until something writes to it, and validate would hang.
    let meta = std::fs::metadata(path).map_err(|e| whole(io_message(path, &e)))?;
    if meta.is_dir() {
        return Err(whole("it is a directory, not a YAML file".to_string()));
    }
    if !meta.is_file() {
        return Err(whole(
            "it is not a regular file (a pipe or a device?)".to_string(),
        ));
    }
    let mut file = File::open(path).map_err(|e| whole(io_message(path, &e)))?;
    if meta.len() > MAX_BYTES {
        return Err(whole(format!(
            "{shown} is {} bytes, over the limit of {MAX_BYTES} (32 MiB); split the list with include:",
            meta.len()
        )));
    }
    // The length can change between the check and the read (or lie, for a
    // device), so the read itself is bounded too.
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.by_ref()
        .take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| whole(io_message(path, &e)))?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(whole(format!(
            "{shown} is over the limit of {MAX_BYTES} bytes (32 MiB); split the list with include:"
        )));
    }
    String::from_utf8(bytes).map_err(|e| {
        let bytes = e.as_bytes();
        let bad = e.utf8_error().valid_up_to();
        let before = &bytes[..bad];
        let line = before.iter().filter(|b| **b == b'\n').count() + 1;
        let line_start = before
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1);
        let column = String::from_utf8_lossy(&before[line_start..])
            .chars()
            .count()
            + 1;
        let d = Diagnostic {
            location: at(path, line, column),
            message: format!(
                "the file is not valid UTF-8 (byte 0x{:02x}); save it as UTF-8",
                bytes.get(bad).copied().unwrap_or(0)
            ),
            excerpt: None,
        };
        (d, Some(String::from_utf8_lossy(bytes).into_owned()))
    })
}

pub(super) fn io_message(path: &Path, e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => format!("{} does not exist", path.display()),
        _ => format!("cannot read {}: {e}", path.display()),
    }
}

fn load_error(path: &Path, error: LoadError, role: Role) -> Diagnostic {
    let (marker, message) = match error {
        LoadError::UnexpectedAnchor(m) => (m, anchors_message()),
        LoadError::ScanError(m, e) if e.info().contains("unknown anchor") => (m, anchors_message()),
        LoadError::ScanError(m, e) => (m, format!("the file is not valid YAML: {}", e.info())),
        LoadError::UnexpectedTag(m) => (
            m,
            "YAML tags (such as !!str) are not supported; write the value plainly, quoted if need be"
                .to_string(),
        ),
        LoadError::MappingKeyMustBeScalar(m) => (
            m,
            "a key must be a plain name, not a list or a mapping".to_string(),
        ),
        LoadError::TopLevelMustBeMapping(m) | LoadError::TopLevelMustBeSequence(m) => (
            m,
            format!(
                "the top level must be a mapping of keys to values, not a list or a single value; {}",
                role.expected()
            ),
        ),
        LoadError::DuplicateKey(inner) => {
            let first = inner
                .prev_key
                .span()
                .start()
                .map_or_else(String::new, |m| format!(" (first at line {}, column {})", m.line(), m.column()));
            let Some(second) = inner.key.span().start().copied() else {
                return Diagnostic {
                    location: at(path, 0, 0),
                    message: format!("key {:?} appears twice in one mapping{first}", inner.key.as_str()),
                    excerpt: None,
                };
            };
            (
                second,
                format!(
                    "key {:?} appears twice in one mapping{first}; YAML keeps only one, so merge them",
                    inner.key.as_str()
                ),
            )
        }
    };
    Diagnostic {
        location: at(path, marker.line(), marker.column()),
        message,
        excerpt: None,
    }
}

fn anchors_message() -> String {
    "YAML anchors and aliases are not supported (alias expansion can blow up memory); write the values out".to_string()
}

fn at(path: &Path, line: usize, column: usize) -> Location {
    Location {
        file: path.to_path_buf(),
        line,
        column,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &[u8]) -> Result<Node, Diagnostic> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f.yaml");
        std::fs::write(&path, text).expect("write");
        read(&path, Role::Desired, &mut Sources::default()).map_err(|mut d| {
            d.location.file = "f.yaml".into();
            d
        })
    }

    fn error(text: &str) -> String {
        match parse(text.as_bytes()) {
            Ok(_) => panic!("expected an error for {text:?}"),
            Err(d) => d.to_string(),
        }
    }

    #[test]
    fn billion_laughs_fails_fast_on_the_first_anchor() {
        let mut bomb = String::from(
            "business_phone: \"8615800001795\"\na: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
        );
        let mut previous = 'a';
        for name in 'b'..='i' {
            let refs = vec![format!("*{previous}"); 9].join(",");
            bomb.push_str(&format!("{name}: &{name} [{refs}]\n"));
            previous = name;
        }
        let started = std::time::Instant::now();
        let shown = error(&bomb);
        // Expanding the bomb would take minutes and gigabytes; the bound is
        // generous so that a busy CI machine never trips it.
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
        assert_eq!(
            shown,
            "f.yaml:2:4: YAML anchors and aliases are not supported (alias expansion can blow up memory); write the values out"
        );
    }

    #[test]
    fn an_alias_without_anchor_gets_the_same_message() {
        assert!(error("a: *x\n").contains("anchors and aliases are not supported"));
    }

    #[test]
    fn parser_errors_are_located() {
        assert_eq!(
            error("a: [1, 2\n"),
            "f.yaml:2:1: the file is not valid YAML: while parsing a flow sequence, expected ',' or ']'"
        );
        assert!(error("a: !!str 1\n").starts_with("f.yaml:1:4: YAML tags"));
        assert!(error("- 1\n").starts_with("f.yaml:1:1: the top level must be a mapping"));
        assert!(error("hello\n").starts_with("f.yaml:1:1: the top level must be a mapping"));
        assert!(error("? [a]\n: 1\n").starts_with("f.yaml:1:3: a key must be a plain name"));
    }

    #[test]
    fn duplicate_keys_name_both_places() {
        assert_eq!(
            error("blocked: []\nmode: additive\nblocked: []\n"),
            "f.yaml:3:1: key \"blocked\" appears twice in one mapping (first at line 1, column 1); YAML keeps only one, so merge them"
        );
    }

    #[test]
    fn the_deepest_file_let_through_parses_on_a_small_stack() {
        // Test threads have 2 MiB of stack, as do tokio's workers.
        let deepest = format!(
            "a:\n{}{}{}\n",
            "- ".repeat(shape::MAX_COLUMNS - 2),
            "[".repeat(254),
            "]".repeat(254)
        );
        assert!(parse(deepest.as_bytes()).is_ok());
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_the_first_key() {
        let node = parse("\u{feff}blocked: []\n".as_bytes()).expect("valid");
        assert!(
            node.as_mapping()
                .is_some_and(|m| m.get_node("blocked").is_some())
        );
    }

    #[test]
    fn invalid_utf8_is_located() {
        let shown = parse(b"a: 1\nbb: \"\xff\"\n")
            .expect_err("not UTF-8")
            .to_string();
        assert_eq!(
            shown,
            "f.yaml:2:6: the file is not valid UTF-8 (byte 0xff); save it as UTF-8"
        );
    }

    #[test]
    fn oversized_files_are_refused_from_metadata() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("big.yaml");
        let file = File::create(&path).expect("create");
        // Sparse: the check must not depend on reading the content.
        file.set_len(MAX_BYTES + 1).expect("set_len");
        let err = read(&path, Role::Desired, &mut Sources::default()).expect_err("too big");
        assert_eq!(err.location.line, 0);
        assert!(err.message.contains("over the limit"), "{}", err.message);
    }

    #[test]
    fn missing_files_and_directories_are_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = read(
            &dir.path().join("nope.yaml"),
            Role::Desired,
            &mut Sources::default(),
        )
        .expect_err("missing");
        assert!(
            err.message.ends_with("nope.yaml does not exist"),
            "{}",
            err.message
        );
        let err =
            read(dir.path(), Role::Desired, &mut Sources::default()).expect_err("a directory");
        assert!(err.message.ends_with("is a directory, not a YAML file"));
    }
}
