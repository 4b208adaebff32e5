//! Helpers over the located YAML tree: every check here records a
//! [`Diagnostic`] and carries on, so one run reports every problem in a file
//! rather than stopping at the first (docs/file-format.md: `validate` reports all).

use std::path::Path;

use marked_yaml::types::{MarkedMappingNode, MarkedScalarNode, MarkedSequenceNode};
use marked_yaml::{Node, Span};

use super::excerpt::Sources;
use super::{Diagnostic, Location};

/// Everything found so far, across all files of one `load`.
#[derive(Debug, Default)]
pub(super) struct Report {
    pub errors: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
    /// The text of each file read, for the excerpts under diagnostics.
    pub sources: Sources,
}

/// A message is one line: a path or value it names with a control
/// character in it (a file name with a newline) is shown escaped.
fn one_line(message: impl Into<String>) -> String {
    let message = message.into();
    match crate::workflow::escape_controls(&message) {
        std::borrow::Cow::Borrowed(_) => message,
        escaped => escaped.into_owned(),
    }
}

impl Report {
    pub fn error(&mut self, location: Location, message: impl Into<String>) {
        self.errors.push(Diagnostic {
            location,
            message: one_line(message),
            excerpt: None,
        });
    }

    pub fn warn(&mut self, location: Location, message: impl Into<String>) {
        self.warnings.push(Diagnostic {
            location,
            message: one_line(message),
            excerpt: None,
        });
    }
}

/// Walks one file's tree, turning positions into [`Location`]s in that file.
pub(super) struct Walker<'a> {
    pub file: &'a Path,
    pub report: &'a mut Report,
}

impl Walker<'_> {
    pub fn at(&self, span: &Span) -> Location {
        located(self.file, span)
    }

    pub fn error(&mut self, span: &Span, message: impl Into<String>) {
        let location = self.at(span);
        self.report.error(location, message);
    }

    /// The node as a mapping; `what` names it for the message, e.g. "provider".
    pub fn mapping<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n MarkedMappingNode> {
        match node {
            Node::Mapping(map) => Some(map),
            other => {
                let found = describe(other);
                self.error(
                    other.span(),
                    format!("{what} must be a mapping of keys to values, not {found}"),
                );
                None
            }
        }
    }

    pub fn sequence<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n MarkedSequenceNode> {
        match node {
            Node::Sequence(seq) => Some(seq),
            other => {
                let found = describe(other);
                self.error(
                    other.span(),
                    format!("{what} must be a list (lines starting with \"- \"), not {found}"),
                );
                None
            }
        }
    }

    pub fn scalar<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n MarkedScalarNode> {
        match node {
            Node::Scalar(s) => Some(s),
            other => {
                let found = describe(other);
                self.error(
                    other.span(),
                    format!("{what} must be a single value, not {found}"),
                );
                None
            }
        }
    }

    /// A non-empty text value; null and "" are reported as missing values.
    /// `key` is where to point for an empty value: the parser places an
    /// empty value at the next token, which may be lines further down.
    pub fn text<'n>(&mut self, key: Option<&Span>, node: &'n Node, what: &str) -> Option<&'n str> {
        let s = self.scalar(node, what)?;
        let value = s.as_str().trim();
        if is_null(node) || value.is_empty() {
            self.error(
                key.unwrap_or(s.span()),
                format!("{what} is empty; give it a value"),
            );
            return None;
        }
        Some(value)
    }

    /// Report every key of `map` not in `allowed` (with a suggestion), using
    /// `context` such as `" in provider"` after the key name.
    pub fn unknown_keys(&mut self, map: &MarkedMappingNode, allowed: &[&str], context: &str) {
        for (key, _) in map.iter() {
            if !allowed.contains(&key.as_str()) {
                self.error(
                    key.span(),
                    unknown_key_message(key.as_str(), allowed, context),
                );
            }
        }
    }
}

pub(super) fn located(file: &Path, span: &Span) -> Location {
    let (line, column) = span.start().map_or((0, 0), |m| (m.line(), m.column()));
    Location {
        file: file.to_path_buf(),
        line,
        column,
    }
}

/// Where to point when something is missing from a mapping: its first key.
/// (A block mapping's own start marker points past its first key, which would
/// confuse a reader.)
pub(super) fn mapping_span(map: &MarkedMappingNode) -> &Span {
    map.iter().next().map_or(map.span(), |(key, _)| key.span())
}

/// A key and its value, so errors can point at either.
pub(super) fn entry<'n>(
    map: &'n MarkedMappingNode,
    key: &str,
) -> Option<(&'n MarkedScalarNode, &'n Node)> {
    map.get_key_value(key)
}

/// YAML's null: an empty plain value, `~` or `null` (not the quoted strings).
pub(super) fn is_null(node: &Node) -> bool {
    match node {
        Node::Scalar(s) => {
            s.may_coerce() && matches!(s.as_str(), "" | "~" | "null" | "Null" | "NULL")
        }
        _ => false,
    }
}

/// What a node is, for "must be X, not Y" messages.
pub(super) fn describe(node: &Node) -> String {
    match node {
        Node::Mapping(_) => "a mapping".to_string(),
        Node::Sequence(_) => "a list".to_string(),
        Node::Scalar(_) if is_null(node) => "an empty value".to_string(),
        Node::Scalar(s) => format!("the value {:?}", s.as_str()),
    }
}

pub(super) fn unknown_key_message(key: &str, allowed: &[&str], context: &str) -> String {
    let mut message = format!(
        "unknown key {key:?}{context} (expected one of: {}",
        allowed.join(", ")
    );
    if let Some(near) = did_you_mean(key, allowed) {
        message.push_str(&format!("; did you mean {near:?}?)"));
    } else {
        message.push(')');
    }
    message
}

/// The closest candidate to a misspelt word, if it is close enough to be a
/// plausible typo (about one edit in three characters).
pub(super) fn did_you_mean<'c>(word: &str, candidates: &[&'c str]) -> Option<&'c str> {
    let lower = word.to_lowercase();
    candidates
        .iter()
        // Edits, counting a swap of neighbours as one ("unblcok").
        .map(|c| (strsim::osa_distance(&lower, c), *c))
        .filter(|(d, c)| *d <= (c.chars().count() / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Test support: parse `yaml` as `file` would be, find the top-level `key`,
/// run `read` on it with a fresh report, and return what it read with the
/// errors as users see them.
#[cfg(test)]
pub(super) fn read_key<T>(
    file: &str,
    yaml: &str,
    key: &str,
    read: impl FnOnce(&mut Walker, &Span, &Node) -> T,
) -> (T, Vec<String>) {
    let node = marked_yaml::parse_yaml_with_options(
        0,
        yaml,
        marked_yaml::LoaderOptions::default().prevent_coercion(true),
    )
    .expect("valid YAML");
    let map = node.as_mapping().expect("mapping");
    let (k, value) = map.get_key_value(key).expect("the key");
    let mut report = Report::default();
    let mut w = Walker {
        file: Path::new(file),
        report: &mut report,
    };
    let out = read(&mut w, k.span(), value);
    (out, report.errors.iter().map(ToString::to_string).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOP: &[&str] = &[
        "business_phone",
        "provider",
        "mode",
        "include",
        "blocked",
        "unblock",
        "safety",
    ];

    #[test]
    fn suggests_the_near_key() {
        assert_eq!(did_you_mean("bloked", TOP), Some("blocked"));
        assert_eq!(did_you_mean("Blocked", TOP), Some("blocked"));
        assert_eq!(did_you_mean("buisness_phone", TOP), Some("business_phone"));
        assert_eq!(did_you_mean("unblcok", TOP), Some("unblock"));
        assert_eq!(did_you_mean("colour", TOP), None);
    }

    #[test]
    fn unknown_key_message_matches_the_documented_form() {
        assert_eq!(
            unknown_key_message("bloked", TOP, ""),
            "unknown key \"bloked\" (expected one of: business_phone, provider, mode, include, \
             blocked, unblock, safety; did you mean \"blocked\"?)"
        );
        assert_eq!(
            unknown_key_message("x", &["user", "reason"], " in a blocked entry"),
            "unknown key \"x\" in a blocked entry (expected one of: user, reason)"
        );
    }

    #[test]
    fn nulls_are_plain_only() {
        let node = marked_yaml::parse_yaml_with_options(
            0,
            "a:\nb: ~\nc: null\nd: \"\"\ne: 'null'\n",
            marked_yaml::LoaderOptions::default().prevent_coercion(true),
        )
        .expect("valid YAML");
        let map = node.as_mapping().expect("mapping");
        let null = |k: &str| map.get_node(k).is_some_and(is_null);
        assert!(null("a") && null("b") && null("c"));
        assert!(!null("d") && !null("e"));
    }

    #[test]
    fn walker_reports_kind_mismatches_with_location() {
        let node = marked_yaml::parse_yaml(0, "x: [1]\n").expect("valid YAML");
        let map = node.as_mapping().expect("mapping");
        let mut report = Report::default();
        let mut w = Walker {
            file: Path::new("f.yaml"),
            report: &mut report,
        };
        let value = map.get_node("x").expect("x");
        assert!(w.mapping(value, "provider").is_none());
        assert!(w.scalar(value, "mode").is_none());
        assert!(w.sequence(value, "blocked").is_some());
        let shown: Vec<String> = report.errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "f.yaml:1:4: provider must be a mapping of keys to values, not a list",
                "f.yaml:1:4: mode must be a single value, not a list",
            ]
        );
    }
}
