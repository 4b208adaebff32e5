//! Checks on the text before it reaches the parser, for what the parser
//! would not report: an empty file, a second document (the parser reads only
//! the first and would drop the rest without a word), and nesting deep enough
//! to overflow the stack (the parser recurses once per level; a file of
//! `- - - - …` would abort the process, which no error message can explain).

use std::collections::HashSet;

use super::source::Role;

/// Distinct indentation columns a file may use. A desired-state file needs
/// four or five; this many keeps the parser within a 2 MiB thread stack even
/// in a debug build (see `source`'s test of the deepest file let through).
pub(super) const MAX_COLUMNS: usize = 64;

/// Block-list entries (`- …` lines) a file may hold: four times what a block
/// list can hold (64 000 users), room for duplicates and stray `- ` lines in
/// multi-line reasons. A file past it can never be applied, and is refused
/// here, before the parser builds a tree of a million nodes (a 1 000 000-entry
/// file took 15 s and 600 MB to be told anything). Below it, the desired set
/// is counted exactly after parsing (`file`).
pub(super) const MAX_ITEMS: usize = 4 * crate::safety::CAPACITY as usize;

/// The first problem as `(line, column, message)`; line 0 means the file as
/// a whole.
pub(super) fn check(text: &str, role: Role) -> Result<(), (usize, usize, String)> {
    let second = |number: usize| {
        Err((
            number,
            1,
            "a second YAML document starts here; a file holds exactly one document, so split it into two files"
                .to_string(),
        ))
    };
    let mut content_seen = false;
    let mut ended = false;
    let mut columns = HashSet::new();
    let mut items = 0usize;
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if is_marker(line, "---") {
            if content_seen {
                return second(number);
            }
            content_seen = !line[3..].trim_start().is_empty();
            continue;
        }
        if is_marker(line, "...") {
            ended = content_seen;
            continue;
        }
        if ended {
            return second(number);
        }
        if !content_seen && line.starts_with('%') {
            continue;
        }
        content_seen = true;
        if trimmed == "-" || trimmed.starts_with("- ") || trimmed.starts_with("-\t") {
            items += 1;
        }
        let mut too_deep = None;
        structural_columns(line, |column| {
            if columns.insert(column) && columns.len() > MAX_COLUMNS && too_deep.is_none() {
                too_deep = Some(column);
            }
        });
        if let Some(column) = too_deep {
            return Err((
                number,
                column + 1,
                format!(
                    "the YAML is indented or nested too deeply (more than {MAX_COLUMNS} indentation levels); {}",
                    role.expected()
                ),
            ));
        }
    }
    if !content_seen {
        return Err((0, 0, format!("the file is empty; {}", role.expected())));
    }
    if items > MAX_ITEMS {
        let capacity = crate::safety::CAPACITY;
        return Err((
            0,
            0,
            format!(
                "the file holds {items} list entries (\"- \" lines), far more than the {capacity} users a block list can hold; refused without parsing it"
            ),
        ));
    }
    Ok(())
}

fn is_marker(line: &str, marker: &str) -> bool {
    line.strip_prefix(marker)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
}

/// Calls `found` with each 0-based column where a block collection could
/// start on this line: the first non-blank character and each one after a
/// leading `-`, `?` or `:` indicator (or an anchor or tag). Each nesting level
/// of block YAML needs a column of its own, so counting distinct columns
/// bounds the depth.
fn structural_columns(line: &str, mut found: impl FnMut(usize)) {
    let blank = |c: char| c == ' ' || c == '\t';
    let mut chars = line.chars().enumerate().peekable();
    loop {
        while chars.next_if(|(_, c)| blank(*c)).is_some() {}
        let Some((column, c)) = chars.next() else {
            return;
        };
        found(column);
        let next_blank = chars.peek().is_none_or(|(_, n)| blank(*n));
        if matches!(c, '&' | '!') {
            while chars.next_if(|(_, c)| !blank(*c)).is_some() {}
        } else if !(matches!(c, '-' | '?' | ':') && next_blank) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(text: &str) -> Option<String> {
        check(text, Role::Desired)
            .err()
            .map(|(line, column, message)| format!("{line}:{column}: {message}"))
    }

    #[test]
    fn empty_files_are_refused() {
        for text in ["", "\n\n", "# only a comment\n", "---\n", "  \n# c\n...\n"] {
            assert_eq!(
                problem(text).as_deref(),
                Some(
                    "0:0: the file is empty; a desired-state file needs business_phone: and provider:"
                ),
                "{text:?}"
            );
        }
    }

    #[test]
    fn a_file_with_far_more_entries_than_a_block_list_holds_is_refused() {
        let list = |n: usize| format!("blocked:\n{}", "  - \"8613300000001\"\n".repeat(n));
        assert_eq!(problem(&list(MAX_ITEMS)), None);
        assert_eq!(
            problem(&list(MAX_ITEMS + 1)),
            Some(format!(
                "0:0: the file holds {} list entries (\"- \" lines), far more than the 64000 users a block list can hold; refused without parsing it",
                MAX_ITEMS + 1
            ))
        );
    }

    #[test]
    fn a_second_document_is_refused() {
        let second = |text: &str| problem(text).map(|p| p[..4].to_string());
        assert_eq!(second("a: 1\n---\nb: 2\n").as_deref(), Some("2:1:"));
        assert_eq!(second("---\na: 1\n--- # more\n").as_deref(), Some("3:1:"));
        assert_eq!(second("a: 1\n...\nb: 2\n").as_deref(), Some("3:1:"));
        assert!(problem("a: 1\n---\nb: 2\n").is_some_and(|p| p.contains("a second YAML document")));
        assert_eq!(problem("%YAML 1.2\n---\na: 1\n...\n"), None);
        assert_eq!(problem("--- {a: 1}\n"), None);
        // Not markers: indented, or part of a longer word.
        assert_eq!(problem("a: |\n  ---\nb: ---x\n----\n"), None);
    }

    #[test]
    fn nesting_is_bounded_by_distinct_columns() {
        let deep = format!("a:\n{}x\n", "- ".repeat(100_000));
        assert!(
            problem(&deep).is_some_and(|p| p.starts_with("2:") && p.contains("nested too deeply"))
        );
        let stairs: String = (0..200)
            .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
            .collect();
        assert!(problem(&stairs).is_some_and(|p| p.contains("nested too deeply")));
        // Deep indentation alone is fine: only the number of levels counts.
        let wide = format!("a: [\n{}\"x\"]\n", " ".repeat(500));
        assert_eq!(problem(&wide), None);
    }

    #[test]
    fn structural_columns_follow_indicators_anchors_and_tags() {
        let mut seen = Vec::new();
        structural_columns("  - ? &a !t - key: value", |c| seen.push(c));
        assert_eq!(seen, [2, 4, 6, 9, 12, 14]);
    }
}
