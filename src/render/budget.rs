//! Fitting a markdown document under GitHub's comment limit.
//!
//! GitHub rejects a comment longer than 65 536 characters, and a rejected
//! comment means reviewers see no plan at all. A [`Doc`] is built from fixed
//! text (headings, the summary table, refusals) and lists; when it is
//! rendered, the lists are cut to what the budget leaves, each ending in
//! `… and N more`, so the whole stays under the limit.

/// GitHub's limit on a comment body, in characters.
pub const GITHUB_COMMENT_LIMIT: usize = 65_536;
/// What we aim for: the limit less room for a caller's wrapper (a marker
/// comment, a footer) and for GitHub counting some characters differently.
pub(super) const BUDGET: usize = 60_000;

/// A document whose lists share what is left of the budget after the fixed
/// text. Every list gets the same cap on items, the largest that fits, so
/// one huge list cannot crowd out the others.
#[derive(Default)]
pub(super) struct Doc {
    parts: Vec<Part>,
}

enum Part {
    Text(String),
    /// Items, each one line ending in `\n`.
    List(Vec<String>),
}

impl Doc {
    pub(super) fn text(&mut self, s: String) {
        self.parts.push(Part::Text(s));
    }

    pub(super) fn list(&mut self, items: impl Iterator<Item = String>) {
        self.parts.push(Part::List(items.collect()));
    }

    pub(super) fn finish(self) -> String {
        self.fit(BUDGET)
    }

    fn fit(self, budget: usize) -> String {
        // Fixed cost: all text, plus a "… and N more" line (and the blank
        // line that ends a list) reserved for every list, so the cap search
        // below only has to count items.
        let mut fixed = 0;
        let mut prefix_sums: Vec<Vec<usize>> = Vec::new();
        for part in &self.parts {
            match part {
                Part::Text(s) => fixed += s.chars().count(),
                Part::List(items) => {
                    fixed += more_line(items.len()).chars().count() + 1;
                    let mut sums = Vec::with_capacity(items.len() + 1);
                    sums.push(0);
                    for item in items {
                        let last = sums.last().copied().unwrap_or(0);
                        sums.push(last + item.chars().count());
                    }
                    prefix_sums.push(sums);
                }
            }
        }
        let cost = |cap: usize| -> usize {
            prefix_sums
                .iter()
                .map(|s| s[cap.min(s.len() - 1)])
                .sum::<usize>()
        };
        let room = budget.saturating_sub(fixed);
        let longest = prefix_sums.iter().map(|s| s.len() - 1).max().unwrap_or(0);
        // Largest cap whose cost fits; cost grows with the cap.
        let (mut lo, mut hi) = (0, longest);
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            if cost(mid) <= room {
                lo = mid
            } else {
                hi = mid - 1
            }
        }
        let cap = lo;

        let mut out = String::new();
        for part in self.parts {
            match part {
                Part::Text(s) => out.push_str(&s),
                Part::List(items) => {
                    let total = items.len();
                    for item in items.into_iter().take(cap) {
                        out.push_str(&item);
                    }
                    if total > cap {
                        out.push_str(&more_line(total - cap));
                    }
                    out.push('\n');
                }
            }
        }
        hard_limit(out, budget)
    }
}

fn more_line(left_out: usize) -> String {
    format!(
        "- … and {left_out} more (GitHub comments are limited to {GITHUB_COMMENT_LIMIT} characters; the text and JSON formats list them all)\n",
        left_out = Count(left_out),
        GITHUB_COMMENT_LIMIT = Count(GITHUB_COMMENT_LIMIT)
    )
}

/// The last resort when even the fixed text is over budget (hundreds of
/// targets, huge error messages): cut whole lines from the end. The heading
/// and table come first, so they are what survives.
fn hard_limit(out: String, budget: usize) -> String {
    if out.chars().count() <= budget {
        return out;
    }
    let lines: Vec<&str> = out.split_inclusive('\n').collect();
    let trailer = |n: usize| {
        format!(
            "\n_… output truncated: {n} more line(s) left out to stay under GitHub's {GITHUB_COMMENT_LIMIT}-character limit._\n",
            n = Count(n),
            GITHUB_COMMENT_LIMIT = Count(GITHUB_COMMENT_LIMIT)
        )
    };
    let room = budget.saturating_sub(trailer(lines.len()).chars().count());
    let mut kept = String::new();
    let mut used = 0;
    let mut n = 0;
    for line in &lines {
        let len = line.chars().count();
        if used + len > room {
            break;
        }
        kept.push_str(line);
        used += len;
        n += 1;
    }
    kept.push_str(&trailer(lines.len() - n));
    kept
}

use super::Count;
#[cfg(test)]
mod tests {
    use super::*;

    fn items(n: usize) -> impl Iterator<Item = String> {
        (0..n).map(|i| format!("- item {i:04}\n"))
    }

    #[test]
    fn short_lists_are_kept_whole_and_long_ones_cut() {
        let mut doc = Doc::default();
        doc.text("# title\n\n".to_string());
        doc.list(items(3));
        doc.list(items(1000));
        let out = doc.fit(2_000);
        assert!(out.chars().count() <= 2_000, "{}", out.chars().count());
        assert!(out.starts_with("# title\n\n- item 0000\n- item 0001\n- item 0002\n\n"));
        let shown = out.lines().filter(|l| l.starts_with("- item")).count();
        assert!(shown > 50, "{shown}");
        assert!(out.contains(&format!(
            "- … and {} more",
            super::Count(1000 - (shown - 3))
        )));
    }

    #[test]
    fn what_fits_is_left_alone() {
        let mut doc = Doc::default();
        doc.text("# title\n\n".to_string());
        doc.list(items(2));
        assert_eq!(doc.fit(1_000), "# title\n\n- item 0000\n- item 0001\n\n");
    }
}
