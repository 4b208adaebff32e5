//! When to stop reading list pages (providers.md §1, "Paging").
//!
//! NxCloud's documented list reply shows cursors but no `paging.next`, while
//! Meta's Graph rule is to page while `next` is present and never to infer the
//! end from a short page. The pager supports both, and never loops forever:
//! - once any page carried `next`, follow `after` while `next` is present and
//!   stop at the first page without it;
//! - while no page has carried `next`, stop at an empty page, at a page with
//!   no `after` cursor, or when `after` repeats a cursor already sent.
//!
//! Cursors live only as long as one listing; none is kept between runs.

use std::collections::HashSet;

/// A listing that runs past this many pages is treated as broken rather than
/// followed forever (64 000 users fit in 64 pages of 1 000).
const MAX_PAGES: u64 = 100_000;

/// What to do after a page.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Step {
    /// Request the next page with [`Pager::cursor`].
    Next,
    /// The listing is complete.
    Done,
    /// The server's paging cannot be followed; the text says why.
    Broken(String),
}

#[derive(Debug, Default)]
pub(super) struct Pager {
    cursor: Option<String>,
    sent: HashSet<String>,
    seen_next: bool,
    pages: u64,
}

impl Pager {
    pub fn new() -> Self {
        Pager::default()
    }

    /// The `after` cursor for the next request; `None` for the first page.
    pub fn cursor(&self) -> Option<&str> {
        self.cursor.as_deref()
    }

    /// Take in a page: how many users it held, its `paging.cursors.after`,
    /// and whether it carried `paging.next`.
    pub fn observe(&mut self, users: usize, after: Option<&str>, has_next: bool) -> Step {
        self.pages += 1;
        if self.pages > MAX_PAGES {
            return Step::Broken(format!("the listing ran past {MAX_PAGES} pages"));
        }
        let after = after.filter(|cursor| !cursor.is_empty());
        if has_next {
            self.seen_next = true;
            return match after {
                None => Step::Broken(
                    "a page says more follow (paging.next) but carries no after cursor".into(),
                ),
                Some(cursor) if self.sent.contains(cursor) => Step::Broken(
                    "a page says more follow (paging.next) but repeats a cursor already used"
                        .into(),
                ),
                Some(cursor) => self.advance(cursor),
            };
        }
        if self.seen_next {
            return Step::Done;
        }
        match after {
            None => Step::Done,
            Some(_) if users == 0 => Step::Done,
            Some(cursor) if self.sent.contains(cursor) => Step::Done,
            Some(cursor) => self.advance(cursor),
        }
    }

    fn advance(&mut self, cursor: &str) -> Step {
        self.sent.insert(cursor.to_string());
        self.cursor = Some(cursor.to_string());
        Step::Next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_mode_follows_after_until_next_disappears() {
        let mut pager = Pager::new();
        assert_eq!(pager.cursor(), None);
        assert_eq!(pager.observe(2, Some("a1"), true), Step::Next);
        assert_eq!(pager.cursor(), Some("a1"));
        // A short or even empty page does not end the listing while `next` is there.
        assert_eq!(pager.observe(0, Some("a2"), true), Step::Next);
        assert_eq!(pager.cursor(), Some("a2"));
        // Once `next` has been seen, its absence ends the listing, cursor or not.
        assert_eq!(pager.observe(2, Some("a3"), false), Step::Done);
    }

    #[test]
    fn cursor_only_mode_ends_at_an_empty_page() {
        let mut pager = Pager::new();
        assert_eq!(pager.observe(1000, Some("a1"), false), Step::Next);
        assert_eq!(pager.observe(7, Some("a2"), false), Step::Next);
        assert_eq!(pager.cursor(), Some("a2"));
        assert_eq!(pager.observe(0, Some("a3"), false), Step::Done);
    }

    #[test]
    fn cursor_only_mode_ends_without_an_after_cursor() {
        let mut pager = Pager::new();
        assert_eq!(pager.observe(3, None, false), Step::Done);
        let mut pager = Pager::new();
        assert_eq!(pager.observe(3, Some("a1"), false), Step::Next);
        assert_eq!(pager.observe(3, Some(""), false), Step::Done);
    }

    #[test]
    fn cursor_only_mode_ends_when_after_repeats() {
        let mut pager = Pager::new();
        assert_eq!(pager.observe(2, Some("a1"), false), Step::Next);
        assert_eq!(pager.observe(2, Some("a2"), false), Step::Next);
        // Not just the last cursor: any cursor already sent.
        assert_eq!(pager.observe(2, Some("a1"), false), Step::Done);
    }

    #[test]
    fn next_mode_that_cannot_be_followed_is_broken() {
        let mut pager = Pager::new();
        assert!(matches!(pager.observe(2, None, true), Step::Broken(_)));
        let mut pager = Pager::new();
        assert_eq!(pager.observe(2, Some("a1"), true), Step::Next);
        assert!(matches!(
            pager.observe(2, Some("a1"), true),
            Step::Broken(_)
        ));
    }

    #[test]
    fn a_fresh_cursor_forever_is_cut_off() {
        let mut pager = Pager::new();
        let mut steps = 0u64;
        loop {
            let cursor = format!("c{steps}");
            match pager.observe(1, Some(&cursor), false) {
                Step::Next => steps += 1,
                Step::Broken(_) => break,
                Step::Done => panic!("ended early"),
            }
        }
        assert_eq!(steps, MAX_PAGES);
    }
}
