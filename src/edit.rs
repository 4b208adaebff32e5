//! `blocklist add` and `remove`: edit the top-level `blocked:` list of a
//! desired-state file in place, keeping every other byte (comments, layout,
//! spellings, line endings).
//!
//! Like `import` ([`crate::import::splice`]), key and item positions come
//! from parsing the file (marked-yaml keeps lines and columns), never from
//! guessing at lines:
//! - `add` inserts its entries after the list's last item, with the
//!   indentation the list already uses; blank lines and column-1 comments
//!   after the list stay with what follows. An empty list (`blocked:`,
//!   `blocked: []`) becomes a block list; without `blocked:` one is appended.
//! - `remove` drops an item's lines: the `- ` line and the lines indented
//!   under it, up to a blank line or a comment line. Comments above an item
//!   may describe others, so they stay.
//! - A list written in flow style (`blocked: ["1", "2"]`) is refused rather
//!   than rewritten.
//!
//! The caller checks that the result still loads before it replaces the file.

use anyhow::{Context, bail};
use marked_yaml::Node;

use crate::import::NewEntry;
use crate::import::splice::entry_lines;
use crate::number::canonical;
use crate::user::{self, User};

/// The `blocked:` list of a file's text, located.
struct List<'a> {
    bom: &'a str,
    newline: &'static str,
    lines: Vec<&'a str>,
    shape: Shape,
}

enum Shape {
    /// No top-level `blocked:` key.
    Absent,
    /// `blocked:` with no items (null, `~` or `[]`), at this 0-based line.
    Empty { key: usize },
    /// A block list: its items, and where the list ends (0-based, exclusive).
    Block {
        items: Vec<Item>,
        end: usize,
        indent: String,
    },
}

/// One item of a block list: its first line (0-based) and who it names.
struct Item {
    line: usize,
    user: Option<User>,
}

fn locate(source: &str) -> anyhow::Result<List<'_>> {
    let (bom, body) = match source.strip_prefix('\u{feff}') {
        Some(rest) => ("\u{feff}", rest),
        None => ("", source),
    };
    if body.replace("\r\n", "").contains('\r') {
        bail!("the file ends lines with a bare CR (old Mac style); convert it to LF or CRLF first");
    }
    let root = marked_yaml::parse_yaml(0, body).context("the file is not valid YAML")?;
    let Some(map) = root.as_mapping() else {
        bail!("the top level of the file is not a mapping of keys");
    };
    let newline = if body.contains("\r\n") { "\r\n" } else { "\n" };
    let lines: Vec<&str> = body.split_inclusive('\n').collect();
    let mut key_lines = Vec::new();
    let mut blocked = None;
    for (key, value) in map.iter() {
        let Some(start) = key.span().start() else {
            bail!("cannot locate the key {:?} in the file", key.as_str());
        };
        if key.as_str() == "blocked" {
            if start.column() != 1 {
                bail!(
                    "blocked: at line {} is not at the start of a line; only a block-style file (one top-level key per line) can be edited in place",
                    start.line()
                );
            }
            blocked = Some((start.line() - 1, value));
        }
        key_lines.push(start.line() - 1);
    }
    let Some((key, value)) = blocked else {
        return Ok(List {
            bom,
            newline,
            lines,
            shape: Shape::Absent,
        });
    };
    let key_text = lines.get(key).copied().unwrap_or_default();
    let flow = value_text(key_text).starts_with('[');
    let shape = match value {
        Node::Sequence(seq) if seq.is_empty() => Shape::Empty { key },
        Node::Sequence(_) if flow => bail!(
            "blocked: at line {} is written in flow style ([…]); write it as a block list (one \"- \" line per entry) to edit it in place",
            key + 1
        ),
        Node::Sequence(seq) => {
            let mut items = Vec::new();
            for node in seq.iter() {
                let Some(start) = node.span().start() else {
                    bail!("cannot locate an entry of blocked: in the file");
                };
                let mut line = start.line() - 1;
                // `-` alone on its line, the entry below it.
                if line > 0 && !is_item_line(lines.get(line).copied().unwrap_or_default()) {
                    line -= 1;
                }
                items.push(Item {
                    line,
                    user: user_of(node),
                });
            }
            let first = items.first().map_or(key + 1, |i| i.line);
            let indent = lines
                .get(first)
                .map(|l| l[..l.len() - l.trim_start().len()].to_string())
                .unwrap_or_else(|| "  ".to_string());
            let mut end = key_lines
                .iter()
                .copied()
                .filter(|&l| l > key)
                .min()
                .unwrap_or(lines.len())
                .min(lines.len());
            let last = items.last().map_or(key, |i| i.line);
            while end > last + 1 && belongs_to_what_follows(lines[end - 1]) {
                end -= 1;
            }
            Shape::Block { items, end, indent }
        }
        Node::Scalar(s) if s.as_str().trim().is_empty() || matches!(s.as_str(), "~" | "null") => {
            Shape::Empty { key }
        }
        _ => bail!("blocked: at line {} is not a list", key + 1),
    };
    Ok(List {
        bom,
        newline,
        lines,
        shape,
    })
}

/// What follows `blocked:` on its line, without a comment.
fn value_text(line: &str) -> &str {
    let rest = line.split_once(':').map_or("", |(_, rest)| rest);
    let rest = rest.split(" #").next().unwrap_or_default();
    rest.trim()
}

fn is_item_line(line: &str) -> bool {
    let t = line.trim_start();
    t == "-" || t.starts_with("- ") || t.starts_with("-\t") || t.starts_with("-\r")
}

/// A blank line, or a comment in column 1: it introduces what follows.
fn belongs_to_what_follows(line: &str) -> bool {
    line.trim().is_empty() || line.starts_with('#')
}

/// Who an item names, read as the loader reads it; `None` for an item that
/// is not an entry (the loader reports those).
fn user_of(node: &Node) -> Option<User> {
    let (phone, id) = match node {
        Node::Scalar(s) => {
            let text = s.as_str().trim();
            if user::looks_like_bsuid(text) {
                (None, Some(text))
            } else {
                (Some(text), None)
            }
        }
        Node::Mapping(m) => (
            m.get_scalar("user").map(|s| s.as_str().trim()),
            m.get_scalar("user_id").map(|s| s.as_str().trim()),
        ),
        Node::Sequence(_) => return None,
    };
    let phone = phone.and_then(|p| canonical(p).ok());
    User::new(phone, id.map(str::to_string))
}

/// `source` with `entries` appended to its `blocked:` list.
pub fn add(source: &str, entries: &[NewEntry]) -> anyhow::Result<String> {
    let list = locate(source)?;
    let nl = list.newline;
    let mut text = String::with_capacity(source.len() + 64 * entries.len());
    text.push_str(list.bom);
    let render = |indent: &str| -> anyhow::Result<String> {
        let mut out = String::new();
        for e in entries {
            out.push_str(&entry_lines(e, indent, nl)?);
        }
        Ok(out)
    };
    match &list.shape {
        Shape::Absent => {
            text.extend(list.lines.iter().copied());
            if !text.is_empty() && !text.ends_with('\n') {
                text.push_str(nl);
            }
            text.push_str(&format!("blocked:{nl}"));
            text.push_str(&render("  ")?);
        }
        Shape::Empty { key } => {
            text.extend(list.lines[..*key].iter().copied());
            // `blocked: []  # none yet` without its value: the comment stays.
            let line = list.lines[*key].trim_end_matches(['\r', '\n']);
            let value = value_text(line);
            let line = match line.split_once(':') {
                Some((k, rest)) if !value.is_empty() => {
                    format!("{k}:{}", rest.replacen(value, "", 1))
                }
                _ => line.to_string(),
            };
            text.push_str(&format!("{}{nl}", line.trim_end()));
            text.push_str(&render("  ")?);
            text.extend(list.lines[key + 1..].iter().copied());
        }
        Shape::Block { end, indent, .. } => {
            text.extend(list.lines[..*end].iter().copied());
            if !text.ends_with('\n') {
                text.push_str(nl);
            }
            text.push_str(&render(indent)?);
            text.extend(list.lines[*end..].iter().copied());
        }
    }
    Ok(text)
}

/// What [`remove`] did.
pub struct Removed {
    pub text: String,
    /// Items taken out (one user may have been listed twice).
    pub items: usize,
}

/// `source` without the items of its `blocked:` list that name any of
/// `users` (by either id, across WhatsApp ID variants). Users it does not
/// list are returned as an error by the caller's check; here they are
/// simply not found.
pub fn remove(source: &str, users: &[User]) -> anyhow::Result<(Removed, Vec<User>)> {
    let list = locate(source)?;
    let Shape::Block { items, end, indent } = &list.shape else {
        return Ok((
            Removed {
                text: source.to_string(),
                items: 0,
            },
            users.to_vec(),
        ));
    };
    let mut drop = vec![false; list.lines.len()];
    let mut found = vec![false; users.len()];
    let mut count = 0;
    for item in items {
        let Some(named) = &item.user else { continue };
        let mut hit = false;
        for (i, user) in users.iter().enumerate() {
            if named.same_person(user) {
                found[i] = true;
                hit = true;
            }
        }
        if !hit {
            continue;
        }
        count += 1;
        drop[item.line] = true;
        let under = list.lines[item.line + 1..*end].iter();
        for (text, dropped) in under.zip(&mut drop[item.line + 1..*end]) {
            let deeper = text.len() - text.trim_start().len() > indent.len();
            if text.trim().is_empty() || text.trim_start().starts_with('#') || !deeper {
                break;
            }
            *dropped = true;
        }
    }
    let missing = users
        .iter()
        .zip(&found)
        .filter(|(_, f)| !**f)
        .map(|(u, _)| u.clone())
        .collect();
    let mut text = String::with_capacity(source.len());
    text.push_str(list.bom);
    for (line, dropped) in list.lines.iter().zip(&drop) {
        if !dropped {
            text.push_str(line);
        }
    }
    Ok((Removed { text, items: count }, missing))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::date::Date;

    const FILE: &str = "# shop: who we block\nbusiness_phone: \"8615800001795\"  # the shop's line\nprovider: {kind: sandbox}\n\nblocked:   # reviewed weekly\n  # spammers\n  - \"+86 133 0000 0001\"   # SUP-1\n  - user: \"8613300000002\"\n    reason: \"phishing\"\n\n  # a BSUID\n  - \"CN.7Hq2Lm90aZ\"\n\n# guards\nsafety:\n  max_unblocks: 10\n";

    fn entry(user: User, reason: Option<&str>, expires: Option<&str>) -> NewEntry {
        NewEntry {
            user,
            reason: reason.map(str::to_string),
            expires: expires.and_then(Date::parse),
        }
    }

    #[test]
    fn add_appends_after_the_last_item_keeping_everything_else() {
        let out = add(
            FILE,
            &[
                entry(User::phone("8613300000003"), None, None),
                entry(
                    User::bsuid("US.1234"),
                    Some("scam: links, #42"),
                    Some("2027-01-31"),
                ),
            ],
        )
        .unwrap();
        assert_eq!(
            out,
            FILE.replace(
                "  - \"CN.7Hq2Lm90aZ\"\n",
                "  - \"CN.7Hq2Lm90aZ\"\n  - \"8613300000003\"\n  - user_id: \"US.1234\"\n    reason: 'scam: links, #42'\n    expires: 2027-01-31\n"
            )
        );
    }

    #[test]
    fn add_to_an_empty_or_missing_list() {
        let one = [entry(User::phone("8613300000003"), None, None)];
        assert_eq!(
            add("a: 1\nblocked: []  # none yet\nb: 2\n", &one).unwrap(),
            "a: 1\nblocked:   # none yet\n  - \"8613300000003\"\nb: 2\n"
        );
        assert_eq!(
            add("a: 1\nblocked:\n", &one).unwrap(),
            "a: 1\nblocked:\n  - \"8613300000003\"\n"
        );
        assert_eq!(
            add("a: 1", &one).unwrap(),
            "a: 1\nblocked:\n  - \"8613300000003\"\n"
        );
        // The list's own indentation, and CRLF, are kept.
        assert_eq!(
            add("blocked:\r\n- \"8613300000001\"\r\nz: 1\r\n", &one).unwrap(),
            "blocked:\r\n- \"8613300000001\"\r\n- \"8613300000003\"\r\nz: 1\r\n"
        );
        let flow = add("blocked: [\"8613300000001\"]\n", &one).unwrap_err();
        assert!(flow.to_string().contains("flow style"), "{flow}");
    }

    #[test]
    fn remove_takes_the_item_and_its_lines_only() {
        let (removed, missing) = remove(
            FILE,
            &[User::phone("8613300000002"), User::bsuid("CN.7Hq2Lm90aZ")],
        )
        .unwrap();
        assert!(missing.is_empty());
        assert_eq!(removed.items, 2);
        assert_eq!(
            removed.text,
            FILE.replace(
                "  - user: \"8613300000002\"\n    reason: \"phishing\"\n",
                ""
            )
            .replace("  - \"CN.7Hq2Lm90aZ\"\n", "")
        );
        // By another spelling of the phone; and what is not listed is said.
        let (removed, missing) = remove(
            FILE,
            &[User::phone("8613300000001"), User::phone("8613300000009")],
        )
        .unwrap();
        assert_eq!(missing, [User::phone("8613300000009")]);
        assert!(!removed.text.contains("SUP-1"));
        assert!(removed.text.contains("  # spammers\n  - user:"));
    }
}
