//! Reading a whole block list page by page, for every Meta-shaped backend
//! (providers.md §1 "Paging", §2).
//!
//! NxCloud's documented list reply shows cursors but no `paging.next`, while
//! Meta's Graph rule is to page while `next` is present and never to infer the
//! end from a short page. The pager supports both, and never loops forever:
//! - once any page carried `next`, follow `after` while `next` is present and
//!   stop at the first page without it;
//! - while no page has carried `next`, stop at an empty page, at a page with
//!   no `after` cursor, or when `after` repeats a cursor already sent.
//!
//! Cursors live only as long as one listing; none is kept between runs. A
//! 139102 (the list changed under the cursors) restarts the listing from the
//! first page, a bounded number of times ([`read_all`]).

use std::collections::HashSet;

use super::Stats;
use super::meta::Page;
use crate::number::canonical;

/// A listing that keeps hitting 139102 is restarted this many times, then given up.
pub const MAX_LIST_RESTARTS: u32 = 3;

/// A listing that runs past this many pages is treated as broken rather than
/// followed forever (64 000 users fit in 64 pages of 1 000).
const MAX_PAGES: u64 = 100_000;

/// What to do after a page.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Request the next page with [`Pager::cursor`].
    Next,
    /// The listing is complete.
    Done,
    /// The server's paging cannot be followed; the text says why.
    Broken(String),
}

#[derive(Debug, Default)]
pub(crate) struct Pager {
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

/// What one page request came to, once its own retries are over.
pub(crate) enum Fetched {
    Page(Page),
    /// Meta's 139102: the list changed while it was read.
    Changed,
}

/// Read every page: `fetch(cursor)` requests one page (`None` for the first).
/// Users come back as canonical digits, each once, in the order served. A
/// listed value that is not a phone number is a malformed reply, never
/// silently dropped. `what` names the endpoint in errors and the debug log.
pub(crate) async fn read_all<F, Fut>(
    what: &str,
    stats: &Stats,
    mut fetch: F,
) -> anyhow::Result<Vec<String>>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = anyhow::Result<Fetched>>,
{
    let mut restarts = 0;
    'listing: loop {
        // What an abandoned listing read is discarded, and so are its counts.
        stats.listing_started();
        let mut pager = Pager::new();
        let mut users = Vec::new();
        let mut seen = HashSet::new();
        loop {
            let page = match fetch(pager.cursor().map(str::to_string)).await? {
                Fetched::Page(page) => page,
                Fetched::Changed => {
                    if restarts == MAX_LIST_RESTARTS {
                        anyhow::bail!(
                            "{what}: the block list kept changing while it was read ({restarts} restarts); try again"
                        );
                    }
                    restarts += 1;
                    stats.retry();
                    crate::debug!(
                        "{what}: list changed during paging (139102); restart {restarts} of {MAX_LIST_RESTARTS}"
                    );
                    continue 'listing;
                }
            };
            let count = page.users.len();
            let before = users.len();
            for raw in page.users {
                let user = canonical(&raw)
                    .map_err(|e| anyhow::anyhow!("{what}: malformed reply: wa_id {raw:?} {e}"))?;
                if seen.insert(user.clone()) {
                    users.push(user);
                }
            }
            stats.page_read((users.len() - before) as u64);
            match pager.observe(count, page.after.as_deref(), page.has_next) {
                Step::Next => continue,
                Step::Done => return Ok(users),
                Step::Broken(why) => anyhow::bail!("{what}: {why}"),
            }
        }
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
