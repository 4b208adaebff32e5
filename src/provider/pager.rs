//! Reading a whole block list page by page, for every Meta-shaped backend
//! (docs/platforms.md, NxCloud "Paging", Cloud API).
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
//!
//! A server that always says more follow, with a fresh cursor each time, is
//! stopped by three bounds that no real list comes near: [`MAX_PAGES`]
//! pages, [`MAX_USERS`] users and [`MAX_CURSOR_BYTES`] per cursor. Without
//! them such a server ran 2 395 requests a minute and grew the list to
//! 199 MB.

use std::collections::HashSet;

use super::Stats;
#[cfg(test)]
use super::meta::Listed;
use super::meta::Page;
use crate::safety::CAPACITY;
use crate::user::{self, FastKeys, User};

/// A listing that keeps hitting 139102 is restarted this many times, then given up.
pub const MAX_LIST_RESTARTS: u32 = 3;

/// A listing that needs more pages than this is treated as broken rather
/// than followed forever. A full list (64 000 users) takes 64 pages of 1 000,
/// or 640 at the smallest page a reseller documents (100, docs/platforms.md, Meta-shaped resellers);
/// this leaves room for servers that serve short pages while keeping a
/// broken one to minutes, not hours.
const MAX_PAGES: u64 = 10_000;

/// A listing that collects more distinct users than this is broken: a block
/// list holds at most [`CAPACITY`] (docs/platforms.md, Cloud API), and twice that leaves
/// room for a list that grows while it is read.
const MAX_USERS: usize = (CAPACITY * 2) as usize;

/// Every cursor sent is remembered to spot a repeat, so a cursor's size is
/// bounded too. Meta's are well under a hundred bytes.
const MAX_CURSOR_BYTES: usize = 4096;

/// The users a listing has collected, each once exactly as listed (no
/// folding of `wa_id` variants, which the plan does). A phone-only user,
/// nearly every one, is remembered as its canonical digits' number: no
/// allocation and a cheap hash.
#[derive(Default)]
struct Seen {
    phones: HashSet<u64, FastKeys>,
    others: HashSet<User>,
}

impl Seen {
    /// Whether `user` is new.
    fn insert(&mut self, user: &User) -> bool {
        // Canonical digits (at most 15, no leading zero) are one number each.
        let number = match (user.phone_digits(), user.user_id()) {
            (Some(phone), None) => phone.parse::<u64>().ok(),
            _ => None,
        };
        match number {
            Some(number) => self.phones.insert(number),
            None => !self.others.contains(user) && self.others.insert(user.clone()),
        }
    }
}

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
        match self.step(users, after, has_next) {
            Step::Next if self.pages >= MAX_PAGES => Step::Broken(format!(
                "the listing still had more pages after {MAX_PAGES}; no block list needs that many"
            )),
            step => step,
        }
    }

    fn step(&mut self, users: usize, after: Option<&str>, has_next: bool) -> Step {
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
        if cursor.len() > MAX_CURSOR_BYTES {
            return Step::Broken(format!(
                "a page carries an after cursor longer than {MAX_CURSOR_BYTES} bytes"
            ));
        }
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
/// Users come back with their phones as canonical digits, each once, in the
/// order served. A listed `wa_id` that is not a phone number, or an item
/// with neither `wa_id` nor `user_id`, is a malformed reply, never silently
/// dropped; an item with only a `user_id` is a user who hides their phone. `what` names the endpoint in errors and the debug log.
pub(crate) async fn read_all<F, Fut>(
    what: &str,
    stats: &Stats,
    mut fetch: F,
) -> anyhow::Result<Vec<User>>
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
        let mut seen = Seen::default();
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
            seen.phones.reserve(count);
            for listed in page.users {
                let user = user::from_server_owned(listed.wa_id, listed.user_id)
                    .map_err(|e| anyhow::anyhow!("{what}: malformed reply: {e}"))?
                    .ok_or_else(|| {
                        anyhow::anyhow!(
                            "{what}: malformed reply: a listed user has neither wa_id nor user_id"
                        )
                    })?;
                if seen.insert(&user) {
                    users.push(user);
                }
                if users.len() > MAX_USERS {
                    anyhow::bail!(
                        "{what}: the listing passed {MAX_USERS} users, twice the {CAPACITY} a block list can hold; the server's paging is broken"
                    );
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
        let mut pages = 0u64;
        loop {
            pages += 1;
            let cursor = format!("c{pages}");
            match pager.observe(1, Some(&cursor), false) {
                Step::Next => {}
                Step::Broken(why) => {
                    assert_eq!(
                        why,
                        "the listing still had more pages after 10000; no block list needs that many"
                    );
                    break;
                }
                Step::Done => panic!("ended early"),
            }
        }
        assert_eq!(pages, MAX_PAGES);
        // The last page allowed may still end the listing.
        let mut pager = Pager::new();
        for page in 1..MAX_PAGES {
            assert_eq!(
                pager.observe(1, Some(&format!("c{page}")), true),
                Step::Next
            );
        }
        assert_eq!(pager.observe(1, None, false), Step::Done);
    }

    #[test]
    fn an_oversized_cursor_is_broken() {
        let mut pager = Pager::new();
        let cursor = "c".repeat(MAX_CURSOR_BYTES);
        assert_eq!(pager.observe(1, Some(&cursor), true), Step::Next);
        let cursor = "d".repeat(MAX_CURSOR_BYTES + 1);
        let broken = Step::Broken("a page carries an after cursor longer than 4096 bytes".into());
        assert_eq!(pager.observe(1, Some(&cursor), true), broken);
        assert_eq!(Pager::new().observe(1, Some(&cursor), false), broken);
        // A cursor that is not followed does not matter.
        assert_eq!(Pager::new().observe(0, Some(&cursor), false), Step::Done);
    }

    /// A server that says more follow, with a fresh cursor and
    /// `users_per_page` fresh users on every page, for `pages` pages; also
    /// how many pages it served. (Ending at all keeps a test of a missing
    /// bound from running out of memory instead of failing.)
    async fn endless(users_per_page: usize, pages: usize) -> (anyhow::Result<Vec<User>>, usize) {
        let stats = Stats::default();
        let fetched = std::cell::Cell::new(0usize);
        let result = read_all("GET http://127.0.0.1/list", &stats, |_| {
            let page = fetched.get();
            fetched.set(page + 1);
            let first = 10_000_000_000u64 + (page * users_per_page) as u64;
            let users = (first..first + users_per_page as u64)
                .map(|n| Listed {
                    wa_id: Some(n.to_string()),
                    user_id: None,
                })
                .collect();
            let after = Some(format!("c{page}"));
            let has_next = page + 1 < pages;
            async move {
                Ok(Fetched::Page(Page {
                    users,
                    after,
                    has_next,
                }))
            }
        })
        .await;
        (result, fetched.get())
    }

    #[tokio::test]
    async fn a_listing_stops_past_twice_the_capacity() {
        let (result, fetched) = endless(1000, 1000).await;
        let error = match result {
            Ok(users) => panic!("listed {} users", users.len()),
            Err(error) => error.to_string(),
        };
        assert_eq!(
            error,
            "GET http://127.0.0.1/list: the listing passed 128000 users, twice the 64000 a block list can hold; the server's paging is broken"
        );
        assert_eq!(fetched, 129);
    }

    #[tokio::test]
    async fn a_listing_stops_after_the_last_page_allowed() {
        let (result, fetched) = endless(0, 20_000).await;
        let error = match result {
            Ok(users) => panic!("listed {} users", users.len()),
            Err(error) => error.to_string(),
        };
        assert!(
            error.ends_with("still had more pages after 10000; no block list needs that many"),
            "{error}"
        );
        assert_eq!(fetched as u64, MAX_PAGES);
    }
}
