//! The offending line under a diagnostic, with a caret under its column, as
//! `just` shows its errors:
//!
//! ```text
//! error: blocklists/shop.yaml:14:5: "86133xx" is not a phone number (…)
//!    14 |   - "86133xx"
//!       |     ^~~~~~~~~
//! ```
//!
//! The lines come from the text already read for parsing, never from the
//! file again. The excerpt is file content on its way to a terminal or a CI
//! log, so control characters are shown escaped (a tab as `\t`, the caret
//! moved to match) and every line starts with the gutter: no line of it can
//! start with `::`, which GitHub Actions would read as a workflow command
//! (see `crate::workflow`).
//!
//! A file that may hold a secret (a credential-looking key, or a URL with
//! user info, a query or a fragment) gets no excerpts at all: its errors
//! name the key and quote the URL without them, and the line would undo
//! that. Its headlines still say where to look.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::Diagnostic;
use super::credentials::is_credential_key;

/// Characters of a line shown at most; a longer line (a whole list written
/// on one line) is cut around the column, marked with `…`.
const WIDTH: usize = 100;
/// Characters kept before the column when a long line is cut.
const LEAD: usize = 40;

/// The text of every file read during one `load`, by the path its
/// diagnostics name, so excerpts can be added once every problem is known.
#[derive(Debug, Default)]
pub(super) struct Sources {
    texts: HashMap<PathBuf, String>,
}

impl Sources {
    /// Keep `text` (as parsed: without a byte-order mark) for `path`.
    pub fn keep(&mut self, path: &Path, text: String) {
        self.texts.insert(path.to_path_buf(), text);
    }

    /// Give every diagnostic that names a line of a kept file its excerpt.
    pub fn attach(&self, diagnostics: &mut [Diagnostic]) {
        // A line index per file, built only for files with a diagnostic:
        // finding line 60 000 of a large file once per error would rescan it.
        // An empty index stands for a file whose lines are never shown.
        let mut starts: HashMap<&Path, Vec<usize>> = HashMap::new();
        for d in diagnostics.iter_mut() {
            let at = &d.location;
            let Some(text) = self.texts.get(&at.file) else {
                continue;
            };
            if at.line == 0 {
                continue;
            }
            let starts = starts.entry(at.file.as_path()).or_insert_with(|| {
                if may_hold_secret(text) {
                    Vec::new()
                } else {
                    line_starts(text)
                }
            });
            let Some(&start) = starts.get(at.line - 1) else {
                continue;
            };
            let end = starts.get(at.line).map_or(text.len(), |next| next - 1);
            let line = &text[start..end];
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.trim().is_empty() {
                // Nothing to point at (the end of the file, say).
                continue;
            }
            d.excerpt = Some(render(line, at.line, at.column));
        }
    }
}

/// Whether any line of `text` may hold a secret: a key the loader refuses
/// as a credential (`access_secret:`, `"token":`, `? api_key`), or a URL
/// with `user:password@`, a query or a fragment. Judged on the text, not
/// the parsed tree, so it holds for files that do not parse; a false alarm
/// only costs the excerpts.
fn may_hold_secret(text: &str) -> bool {
    let word = |c: char| c.is_alphanumeric() || c == '_' || c == '-';
    text.lines().any(|line| {
        let key_before = |end: usize| {
            let before = line[..end].trim_end_matches(['"', '\'']);
            let start = before
                .char_indices()
                .rev()
                .find(|(_, c)| !word(*c))
                .map_or(0, |(i, c)| i + c.len_utf8());
            is_credential_key(&before[start..])
        };
        let keys = line.match_indices(':').any(|(i, _)| key_before(i));
        let explicit = line.trim_start().strip_prefix("? ").is_some_and(|rest| {
            let rest = rest.trim().trim_matches(['"', '\'']);
            is_credential_key(rest)
        });
        let urls = line.match_indices("://").any(|(i, _)| {
            line[i + 3..]
                .split(|c: char| c.is_whitespace() || "\"',}]".contains(c))
                .next()
                .is_some_and(|url| url.contains(['@', '?', '#']))
        });
        keys || explicit || urls
    })
}

/// Byte offsets where each line starts, counted as the parser counts them:
/// YAML breaks lines at `\n`, `\r\n` and a lone `\r`
/// (<https://yaml.org/spec/1.2.2/#54-line-break-characters>), so a file
/// from an old Mac editor is numbered the same here as in the message.
fn line_starts(text: &str) -> Vec<usize> {
    let bytes = text.as_bytes();
    let mut starts = vec![0];
    for (i, b) in bytes.iter().enumerate() {
        let lone_cr = *b == b'\r' && bytes.get(i + 1) != Some(&b'\n');
        if *b == b'\n' || lone_cr {
            starts.push(i + 1);
        }
    }
    starts
}

/// Two lines: `line` behind a gutter with its number, then a caret under
/// `column` (1-based, in characters, as the parser counts), drawn as `^~~~`
/// under the whole value when the value is a quoted or plain word.
pub(super) fn render(line: &str, number: usize, column: usize) -> String {
    let at = column.max(1) - 1;
    let total = line.chars().count();
    let skip = if total > WIDTH && at > LEAD {
        (at - LEAD).min(total.saturating_sub(WIDTH))
    } else {
        0
    };
    let chars: Vec<char> = line.chars().skip(skip).take(WIDTH).collect();
    let cut_right = skip + chars.len() < total;
    let at = at - skip;

    // Each character as shown: a control character as its escape (`\t`),
    // so the caret moves and the underline grows by that much.
    let shown: Vec<String> = chars
        .iter()
        .map(|c| {
            if c.is_control() {
                c.escape_default().collect()
            } else {
                c.to_string()
            }
        })
        .collect();
    let width_of = |cs: &[String]| -> usize { cs.iter().map(|c| c.chars().count()).sum() };
    let mut text = String::new();
    let mut pad = 0;
    if skip > 0 {
        text.push('…');
        pad += 1;
    }
    text.extend(shown.iter().map(String::as_str));
    if cut_right {
        text.push('…');
    }
    // Past the end of the line (a problem at its end) the caret follows it.
    pad += width_of(&shown[..at.min(shown.len())]) + at.saturating_sub(shown.len());
    let width = shown
        .get(at..)
        .map_or(1, |rest| {
            width_of(&rest[..token_len(&chars[at..]).min(rest.len())])
        })
        .max(1);
    let pad = " ".repeat(pad);
    let gutter = number.to_string().len().max(5);
    format!(
        "{number:>gutter$} | {text}\n{:>gutter$} | {pad}^{}",
        "",
        "~".repeat(width - 1)
    )
}

/// How many characters the value starting `rest` spans: a quoted scalar up
/// to its closing quote, a plain word up to what ends it; 1 for anything
/// else (a list, a mapping, an indicator), where only the start is sure.
fn token_len(rest: &[char]) -> usize {
    match rest.first() {
        Some('"') => {
            let mut escaped = false;
            for (i, c) in rest.iter().enumerate().skip(1) {
                match c {
                    _ if escaped => escaped = false,
                    '\\' => escaped = true,
                    '"' => return i + 1,
                    _ => {}
                }
            }
            1
        }
        Some('\'') => {
            let mut i = 1;
            while i < rest.len() {
                if rest[i] == '\'' {
                    // `''` is a quote inside the value.
                    if rest.get(i + 1) == Some(&'\'') {
                        i += 2;
                        continue;
                    }
                    return i + 1;
                }
                i += 1;
            }
            1
        }
        Some(_) if starts_plain(rest) => rest
            .iter()
            .enumerate()
            .take_while(|(i, c)| {
                let ends_key = **c == ':' && rest.get(i + 1).is_none_or(|n| n.is_whitespace());
                !c.is_whitespace() && !matches!(c, ',' | ']' | '}') && !ends_key
            })
            .count(),
        _ => 1,
    }
}

/// Whether `rest` starts a plain (unquoted) value. `-`, `?` and `:` do
/// when no blank follows (`-3`); followed by one they are indicators.
fn starts_plain(rest: &[char]) -> bool {
    let Some(&c) = rest.first() else {
        return false;
    };
    let indicator = "-?:".contains(c) && rest.get(1).is_none_or(|n| n.is_whitespace());
    !("[]{},#&*!|>%@`".contains(c) || c.is_whitespace() || indicator)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_caret_spans_quoted_and_plain_values() {
        assert_eq!(
            render("  - \"86133xx\"", 14, 5),
            "   14 |   - \"86133xx\"\n      |     ^~~~~~~~~"
        );
        assert_eq!(render("bloked:", 3, 1), "    3 | bloked:\n      | ^~~~~~");
        assert_eq!(render("  n: -3", 5, 6), "    5 |   n: -3\n      |      ^~");
        assert_eq!(render("  - x", 5, 3), "    5 |   - x\n      |   ^");
        assert_eq!(
            render("mode: additiv # typo", 3, 7),
            "    3 | mode: additiv # typo\n      |       ^~~~~~~"
        );
        assert_eq!(
            render("provider: {kind: nxcloudd, appkey: a}", 2, 18),
            "    2 | provider: {kind: nxcloudd, appkey: a}\n      |                  ^~~~~~~~"
        );
        assert_eq!(
            render("  - 'it''s' # x", 1, 5),
            "    1 |   - 'it''s' # x\n      |     ^~~~~~~"
        );
        assert_eq!(
            render(r#"  - "a\"b""#, 1, 5),
            "    1 |   - \"a\\\"b\"\n      |     ^~~~~~"
        );
    }

    #[test]
    fn collections_and_indicators_get_one_caret() {
        assert_eq!(
            render("provider: [nxcloud]", 2, 11),
            "    2 | provider: [nxcloud]\n      |           ^"
        );
        assert_eq!(render("a: &a [1]", 1, 4), "    1 | a: &a [1]\n      |    ^");
        // An unclosed quote: where it ends is unknown.
        assert_eq!(render("a: \"b", 1, 4), "    1 | a: \"b\n      |    ^");
        // Past the end of the line.
        assert_eq!(
            render("a: [1, 2", 1, 9),
            "    1 | a: [1, 2\n      |         ^"
        );
    }

    #[test]
    fn control_characters_are_escaped_and_the_caret_follows() {
        assert_eq!(
            render("\tk: \u{1b}x", 7, 5),
            "    7 | \\tk: \\u{1b}x\n      |      ^~~~~~~"
        );
    }

    #[test]
    fn no_line_of_it_can_start_a_workflow_command() {
        let shown = render("::set-output name=a::b", 1, 1);
        for line in shown.lines() {
            assert!(!line.trim_start().starts_with("::"), "{line:?}");
        }
    }

    #[test]
    fn long_lines_are_cut_around_the_column() {
        let line = format!("blocked: [{}\"bad\"]", "\"8613300000001\", ".repeat(1000));
        let column = line.find("\"bad\"").map(|i| i + 1).expect("there");
        let shown = render(&line, 9, column);
        let [text, caret] = shown.lines().collect::<Vec<_>>()[..] else {
            panic!("two lines: {shown}")
        };
        assert!(
            text.starts_with("    9 | …") && text.ends_with("\"bad\"]"),
            "{text}"
        );
        assert!(text.chars().count() <= WIDTH + 10);
        let under = caret.find('^').expect("a caret");
        let value: String = text.chars().skip(under).take(5).collect();
        assert_eq!(value, "\"bad\"", "{shown}");
        assert!(caret.ends_with("^~~~~"));
        let start = render(&line, 9, 11);
        assert!(start.lines().next().is_some_and(|l| l.ends_with('…')));
    }

    #[test]
    fn lines_that_may_hold_a_secret_are_recognised() {
        for text in [
            "provider:\n  access_secret: \"x\"\n",
            "provider: {kind: nxcloud, \"Token\": x}\n",
            "? api_key\n: x\n",
            "base_url: \"https://ops:pw@h\"\n",
            "endpoint: https://h/b?access_token=x # c\n",
            "base_url: 'http://h/#x'\n",
        ] {
            assert!(may_hold_secret(text), "{text:?}");
        }
        for text in [
            "appkey: pem28kje\nbase_url: \"http://127.0.0.1:9\" # ok?\n",
            "reason: \"asked for a token\"\n",
            "reason: mail from spam@example.com\n",
            "\u{20ac}: x\n\u{3000}k\u{e9}: y\n",
        ] {
            assert!(!may_hold_secret(text), "{text:?}");
        }
    }

    #[test]
    fn wide_line_numbers_widen_the_gutter() {
        assert_eq!(render("x", 123_456, 1), "123456 | x\n       | ^");
    }

    #[test]
    fn lines_are_found_in_the_kept_text() {
        let mut sources = Sources::default();
        sources.keep(Path::new("f.yaml"), "a: 1\r\nbb: x\n".to_string());
        let located = |line, column| Diagnostic {
            location: super::super::Location {
                file: "f.yaml".into(),
                line,
                column,
            },
            message: "m".to_string(),
            excerpt: None,
        };
        let mut ds = [located(2, 5), located(0, 0), located(3, 1), located(9, 1)];
        sources.attach(&mut ds);
        assert_eq!(
            ds[0].to_string(),
            "f.yaml:2:5: m\n    2 | bb: x\n      |     ^"
        );
        assert_eq!(ds[1].to_string(), "f.yaml: m");
        // Line 3 is the empty line after the last break; line 9 is not there.
        assert_eq!(ds[2].excerpt, None);
        assert_eq!(ds[3].excerpt, None);

        // A lone \r breaks a line for the parser, so it does here too.
        sources.keep(Path::new("f.yaml"), "a: 1\rbb: x\r\ncc: y\n".to_string());
        let mut ds = [located(2, 5), located(3, 1)];
        sources.attach(&mut ds);
        assert_eq!(
            ds[0].excerpt.as_deref(),
            Some("    2 | bb: x\n      |     ^")
        );
        assert_eq!(ds[1].excerpt.as_deref(), Some("    3 | cc: y\n      | ^~"));

        sources.keep(Path::new("f.yaml"), "a: 1\nbb: x\ntoken: t\n".to_string());
        let mut ds = [located(2, 5)];
        sources.attach(&mut ds);
        assert_eq!(ds[0].excerpt, None, "a file with a secret shows no line");
    }
}
