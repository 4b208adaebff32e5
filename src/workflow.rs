//! GitHub Actions reads workflow commands from every line a step prints
//! (<https://docs.github.com/en/actions/reference/workflow-commands-for-github-actions>):
//! a line such as `::set-output name=approved::true` or `::add-mask::…`
//! acts on the job. File names, file contents and server replies are not the
//! tool's to speak for, so nothing they hold may start such a line; only the
//! tool's own annotations do, with their data escaped as GitHub documents.

use std::borrow::Cow;

/// `text` with every line that would be read as a workflow command made
/// inert, and the rest unchanged.
///
/// The runner reads a command from a line that starts with `::` once
/// leading whitespace is trimmed (`ActionCommand.TryParseV2` in
/// github.com/actions/runner), and also knows an older form, `##[name]`,
/// wherever it appears in a line (`ActionCommand.TryParse`, tried when the
/// first fails). Lines are split at `\n` and at `\r`. The first character
/// of either marker is written percent-encoded (`%3A:`, `%23#[`), GitHub's
/// own escape, so the reader still sees what was there. That holds for JSON
/// too: a string holding `##[` is an attempt at a command, not data a
/// pipeline needs byte for byte.
pub fn neutralize(text: &str) -> Cow<'_, str> {
    if !text.contains("::") && !text.contains("##[") {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for line in text.split_inclusive(['\n', '\r']) {
        let body = line.trim_start();
        let indent = &line[..line.len() - body.len()];
        out.push_str(indent);
        let body = match body.strip_prefix(':').filter(|rest| rest.starts_with(':')) {
            Some(rest) => {
                out.push_str("%3A");
                rest
            }
            None => body,
        };
        out.push_str(&body.replace("##[", "%23#["));
    }
    Cow::Owned(out)
}

/// Data of a workflow command (the text after the second `::`), escaped as
/// GitHub documents, so a newline in it cannot start a line of its own.
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A property value of a workflow command (`file=…`): data escaping, and
/// `:` and `,`, which would end the value early.
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// `s` with control characters written as Rust escapes (`\n`, `\u{1b}`), so
/// a path or value shown in a message stays on its line and cannot carry
/// terminal escape sequences. Other characters, backslashes included, stay.
pub fn escape_controls(s: &str) -> Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_line_of_data_is_a_workflow_command() {
        for (text, shown) in [
            ("plain\ntext\n", "plain\ntext\n"),
            ("a :: b\n", "a :: b\n"),
            ("::set-output name=a::b\n", "%3A:set-output name=a::b\n"),
            (
                "x\n  \t::add-mask::v\r::stop-commands::t",
                "x\n  \t%3A:add-mask::v\r%3A:stop-commands::t",
            ),
            ("\u{a0}\u{2003}::warning::w", "\u{a0}\u{2003}%3A:warning::w"),
            (
                "see ##[set-output name=a;]b",
                "see %23#[set-output name=a;]b",
            ),
            (":x\n:\n::", ":x\n:\n%3A:"),
        ] {
            assert_eq!(neutralize(text), shown, "{text:?}");
        }
        assert!(matches!(neutralize("no commands"), Cow::Borrowed(_)));
    }

    #[test]
    fn workflow_command_escapes() {
        assert_eq!(escape_data("50%\r\n::x"), "50%25%0D%0A::x");
        assert_eq!(escape_property("a:b,c\n%"), "a%3Ab%2Cc%0A%25");
    }

    #[test]
    fn control_characters_are_shown_escaped() {
        assert_eq!(
            escape_controls("evil\n::set-output\r\u{1b}[31m\t.yaml"),
            "evil\\n::set-output\\r\\u{1b}[31m\\t.yaml"
        );
        assert!(matches!(escape_controls("a\\b é"), Cow::Borrowed(_)));
    }
}
