//! Replace the `blocked:` list in a desired-state file's text, keeping every
//! other byte: the header, comments, other keys, line endings.
//!
//! The rule, kept simple on purpose:
//! - the list is the top-level `blocked:` key, which must start a line (block
//!   style; a flow-style top level is refused, never guessed at);
//! - its value runs to the line before the next top-level key, or to the end
//!   of the file; blank lines and comments starting in column 1 directly
//!   before that key (or the end) belong to what follows and are kept;
//!   comments inside the old list (whole lines, or after an entry) go with
//!   it, and are counted so the caller can say so;
//! - a comment on the `blocked:` line itself (`blocked:  # who and why`) is kept;
//! - with no `blocked:` key, one is appended at the end.
//!
//! Key positions come from parsing the file (marked-yaml keeps line and
//! column), not from scanning lines, so quoted keys and multi-line values
//! elsewhere cannot mislead it.

use std::collections::HashMap;

use anyhow::{Context, bail};
use marked_yaml::Node;

use super::NewEntry;
use crate::number::canonical;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spliced {
    pub text: String,
    /// Lines of the old list that held a comment, not carried over.
    pub comments_dropped: usize,
}

/// `source` with its `blocked:` list replaced by `entries`.
pub fn replace_blocked(source: &str, entries: &[NewEntry]) -> anyhow::Result<Spliced> {
    // The loader strips a byte-order mark before parsing; so do we, and put
    // it back, so line and column numbers mean the same here as there.
    let (bom, body) = match source.strip_prefix('\u{feff}') {
        Some(rest) => ("\u{feff}", rest),
        None => ("", source),
    };
    // YAML also ends lines at a lone CR; the splice below counts lines by LF,
    // so the two would disagree about where `blocked:` is. Refuse rather
    // than cut the file in the wrong place.
    if body.replace("\r\n", "").contains('\r') {
        bail!("the file ends lines with a bare CR (old Mac style); convert it to LF or CRLF first");
    }
    let root = marked_yaml::parse_yaml(0, body).context("the file is not valid YAML")?;
    let Some(map) = root.as_mapping() else {
        bail!("the top level of the file is not a mapping of keys");
    };
    let newline = if body.contains("\r\n") { "\r\n" } else { "\n" };
    let mut blocked = None;
    let mut key_lines = Vec::new();
    for (key, value) in map.iter() {
        let Some(start) = key.span().start() else {
            bail!("cannot locate the key {:?} in the file", key.as_str());
        };
        if key.as_str() == "blocked" {
            if start.column() != 1 {
                bail!(
                    "blocked: at line {} is not at the start of a line; import can only rewrite a block-style file (one top-level key per line)",
                    start.line()
                );
            }
            blocked = Some((start.line(), value));
        }
        key_lines.push(start.line());
    }

    let lines: Vec<&str> = body.split_inclusive('\n').collect();
    let Some((line, value)) = blocked else {
        let mut text = format!("{bom}{body}");
        if !body.is_empty() && !body.ends_with('\n') {
            text.push_str(newline);
        }
        text.push_str(&render(entries, &HashMap::new(), "", newline)?);
        return Ok(Spliced {
            text,
            comments_dropped: 0,
        });
    };

    // Lines are 1-based; `first..end` (0-based) is the old key and value.
    let first = line.saturating_sub(1);
    if first >= lines.len() {
        bail!("cannot locate blocked: at line {line} in the file");
    }
    let mut end = key_lines
        .iter()
        .copied()
        .filter(|&l| l > line)
        .min()
        .map_or(lines.len(), |l| l - 1)
        .min(lines.len());
    while end > first + 1 && belongs_to_what_follows(lines[end - 1]) {
        end -= 1;
    }
    let comments_dropped = lines[first + 1..end]
        .iter()
        .filter(|l| has_comment(l))
        .count();

    let mut text = String::with_capacity(body.len());
    text.push_str(bom);
    text.extend(lines[..first].iter().copied());
    text.push_str(&render(
        entries,
        &spellings(value),
        key_comment(lines[first]),
        newline,
    )?);
    text.extend(lines[end..].iter().copied());
    Ok(Spliced {
        text,
        comments_dropped,
    })
}

/// A blank line, or a comment in column 1: it introduces the next key.
fn belongs_to_what_follows(line: &str) -> bool {
    line.trim().is_empty() || line.starts_with('#')
}

/// Whether a line of the old list holds a comment, whole-line or after an
/// entry. YAML starts a comment at a `#` after whitespace, outside quotes;
/// quotes are tracked within the line only, which is all entries use.
fn has_comment(line: &str) -> bool {
    let mut quote = None;
    let mut previous = ' ';
    for c in line.chars() {
        match (quote, c) {
            (None, '#') if previous.is_whitespace() => return true,
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), _) if c == q => quote = None,
            _ => {}
        }
        previous = c;
    }
    false
}

/// The comment after `blocked:` when the value starts on the next line
/// (` # who and why`, with its spacing), else nothing: an inline value such
/// as `[]` is replaced, and with it anything after it.
fn key_comment(line: &str) -> &str {
    let line = line.trim_end_matches(['\r', '\n']);
    let Some((_, rest)) = line.split_once(':') else {
        return "";
    };
    if rest.trim_start().starts_with('#') {
        rest.trim_end()
    } else {
        ""
    }
}

/// The numbers of the old list as written, by canonical form, so a kept
/// entry keeps its spelling (`"+86 133 0000 0002"`, not `8613300000002`).
fn spellings(list: &Node) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let Some(seq) = list.as_sequence() else {
        return out;
    };
    for item in seq.iter() {
        let user = match item {
            Node::Scalar(s) => Some(s),
            Node::Mapping(m) => m.get_scalar("user"),
            Node::Sequence(_) => None,
        };
        if let Some(raw) = user.map(|s| s.as_str().trim())
            && let Ok(digits) = canonical(raw)
        {
            out.entry(digits).or_insert_with(|| raw.to_string());
        }
    }
    out
}

/// The new key and list. Numbers are always quoted, so YAML never reads one
/// as an integer (losing a leading `+`, or worse); a spelling that passed
/// [`canonical`] holds only digits and `+ -.()`, safe inside double quotes.
fn render(
    entries: &[NewEntry],
    spellings: &HashMap<String, String>,
    comment: &str,
    newline: &str,
) -> anyhow::Result<String> {
    if entries.is_empty() {
        return Ok(format!("blocked: []{comment}{newline}"));
    }
    let mut out = format!("blocked:{comment}{newline}");
    for e in entries {
        let phone = e.user.phone_digits();
        let phone = phone.map(|digits| spellings.get(digits).map_or(digits, String::as_str));
        out.push_str(&spelled_entry(e, phone, "  ", newline)?);
    }
    Ok(out)
}

/// One entry as list lines under `indent` (the column of its `-`), its
/// phone as canonical digits. `blocklist add` writes entries with it.
pub fn entry_lines(e: &NewEntry, indent: &str, newline: &str) -> anyhow::Result<String> {
    spelled_entry(e, e.user.phone_digits(), indent, newline)
}

fn spelled_entry(
    e: &NewEntry,
    phone: Option<&str>,
    indent: &str,
    newline: &str,
) -> anyhow::Result<String> {
    let mut out = String::new();
    // A BSUID that came from a server holds only letters, digits and
    // `._-` (see `user::from_server`), so it is safe in double quotes too.
    match (phone, e.user.user_id()) {
        (Some(phone), None) if e.reason.is_none() && e.expires.is_none() => {
            out.push_str(&format!("{indent}- \"{phone}\"{newline}"));
            return Ok(out);
        }
        (Some(phone), None) => out.push_str(&format!("{indent}- user: \"{phone}\"{newline}")),
        (Some(phone), Some(id)) => {
            out.push_str(&format!("{indent}- user: \"{phone}\"{newline}"));
            out.push_str(&format!("{indent}  user_id: \"{id}\"{newline}"));
        }
        (None, Some(id)) => out.push_str(&format!("{indent}- user_id: \"{id}\"{newline}")),
        (None, None) => return Ok(out),
    }
    if let Some(reason) = &e.reason {
        out.push_str(&format!(
            "{indent}  reason: {}{newline}",
            scalar(reason, &format!("{indent}  "), newline)?
        ));
    }
    if let Some(date) = e.expires {
        out.push_str(&format!("{indent}  expires: {date}{newline}"));
    }
    Ok(out)
}

/// `text` as a YAML scalar that reads back as exactly `text`: serde_yaml
/// quotes what needs quoting, and writes several lines as a block scalar,
/// whose lines are indented here to sit under the `reason:` key.
fn scalar(text: &str, indent: &str, newline: &str) -> anyhow::Result<String> {
    let yaml = serde_yaml::to_string(text).context("cannot write a reason as YAML")?;
    let yaml = yaml.strip_suffix('\n').unwrap_or(&yaml);
    let mut lines = yaml.split('\n');
    let mut out = lines.next().unwrap_or_default().to_string();
    for line in lines {
        out.push_str(newline);
        if !line.is_empty() {
            out.push_str(indent);
            out.push_str(line);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
