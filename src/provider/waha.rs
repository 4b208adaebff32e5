//! The WAHA client (docs/platforms.md, WAHA): a self-hosted WhatsApp HTTP API that
//! drives a WhatsApp Web session.
//!
//! WAHA blocks one contact per request and cannot list blocked contacts, so
//! this client is write-only against the server: a batch becomes one request
//! per contact, a few in flight at once, and the live list is the tool's own
//! [`Ledger`], written ahead of every call and settled after its answer (the
//! ledger's module doc says exactly what that guarantees).

#[cfg(test)]
mod http_tests;
mod reply;

use std::fmt;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::Poll;

use reqwest::header::{CONTENT_TYPE, HeaderValue};
use serde::Serialize;

use super::exchange::{Exchange, Meaning, Reply};
use super::http::{self, BaseUrl};
use super::ledger::{Change, Ledger, Settled};
use super::retry::{self, Attempt, RetryPolicy};
use super::secret::{Redactor, Secret};
use super::{Batch, BatchResult, BoxFuture, Interrupted, Provider, Stats, UserError};
use crate::number::canonical;
use crate::user::User;
use reply::ContactMeaning;

/// Where the API key comes from (docs/file-format.md).
pub const API_KEY_VAR: &str = "WAHA_API_KEY";
/// Requests in flight at once within one batch: WAHA drives one WhatsApp Web
/// session, which should not see a burst, yet one at a time would make a
/// thousand blocks needlessly slow.
pub const IN_FLIGHT: usize = 4;
/// Apply's chunk; each chunk is still one request per contact.
pub const MAX_BATCH: usize = 1000;
/// Contacts recorded pending in the ledger per write ahead of their calls:
/// one round of [`IN_FLIGHT`]. A run killed outright (a second signal)
/// leaves pending the contacts in flight and at most this many more that
/// were marked but not yet sent; the next plan sends those again, harmlessly.
const MARK_AHEAD: usize = IN_FLIGHT;

#[derive(Debug, Clone)]
pub struct WahaConfig {
    /// e.g. `http://localhost:3000`.
    pub base_url: String,
    pub session: String,
    /// Canonical digits; recorded in the ledger.
    pub business_phone: String,
    pub ledger: PathBuf,
    pub api_key: Secret,
    /// The variable the key was read from, for messages ("check …").
    pub api_key_var: String,
    pub retry: RetryPolicy,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Route {
    Block,
    Unblock,
}

impl Route {
    fn change(self) -> Change {
        match self {
            Route::Block => Change::Block,
            Route::Unblock => Change::Unblock,
        }
    }

    fn path(self) -> &'static str {
        match self {
            Route::Block => "/api/contacts/block",
            Route::Unblock => "/api/contacts/unblock",
        }
    }
}

#[derive(Serialize)]
struct Body<'a> {
    session: &'a str,
    #[serde(rename = "contactId")]
    contact_id: String,
}

pub struct Waha {
    config: WahaConfig,
    base: BaseUrl,
    /// Marked sensitive so no debug output shows it.
    api_key: HeaderValue,
    /// Shared by every target of this kind ([`http::client`]).
    client: reqwest::Client,
    /// Hides the API key in whatever the server says.
    redactor: Redactor,
    /// Boxed: it would make `Waha` by far the largest provider client.
    ledger: Box<Ledger>,
    stats: Stats,
}

impl fmt::Debug for Waha {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Waha")
            .field("base_url", &self.base.shown())
            .field("session", &self.config.session)
            .field("ledger", &self.config.ledger)
            .finish_non_exhaustive()
    }
}

/// WhatsApp Web's id for a user: the digits, then `@c.us`.
pub fn contact_id(user: &str) -> String {
    let digits = canonical(user).unwrap_or_else(|_| user.trim().to_string());
    format!("{digits}@c.us")
}

impl Waha {
    /// A client keeping its ledger in the target's state (`ledger`);
    /// `config.ledger` is the old default file it takes over from.
    pub fn in_state(config: WahaConfig, ledger: crate::state::StateObject) -> anyhow::Result<Self> {
        let mut waha = Self::new(config)?;
        waha.ledger = Box::new(Ledger::in_state(
            ledger,
            waha.config.ledger.clone(),
            &waha.config.business_phone,
            &waha.config.session,
        ));
        Ok(waha)
    }

    pub fn new(config: WahaConfig) -> anyhow::Result<Self> {
        let base = BaseUrl::parse("WAHA base_url", &config.base_url)?;
        let mut api_key = HeaderValue::from_str(config.api_key.expose()).map_err(|_| {
            anyhow::anyhow!(
                "{} holds characters that cannot be sent in an HTTP header",
                config.api_key_var
            )
        })?;
        api_key.set_sensitive(true);
        let client = http::client(http::Pool::Waha)?;
        let redactor = Redactor::new([config.api_key.expose()]);
        let ledger = Box::new(Ledger::new(
            config.ledger.clone(),
            &config.business_phone,
            &config.session,
        ));
        Ok(Waha {
            config,
            base,
            api_key,
            client,
            redactor,
            ledger,
            stats: Stats::default(),
        })
    }

    /// One request per contact, [`IN_FLIGHT`] at a time. Contacts are
    /// recorded in the ledger as pending [`MARK_AHEAD`] at a time, in one
    /// durable write, before any of them is sent; each answer is settled
    /// (confirmed, or the mark cleared if WAHA refused) in memory and
    /// reaches the file with the next round's marks, or when its lane ends
    /// (the ledger's module doc): about one write per round of requests.
    /// A contact counts as answered once its settlement is on disk. A fatal
    /// answer stops every lane from taking more work and leaves that contact
    /// pending (WAHA may have acted); calls already in flight finish and are
    /// settled, marks of contacts never sent are cleared, and every contact
    /// answered so far is handed back with the error ([`Interrupted`]).
    async fn batch(&self, route: Route, users: &[User]) -> Batch {
        let change = route.change();
        let next = AtomicUsize::new(0);
        let stop = AtomicBool::new(false);
        // `users[..marked]` are pending on disk.
        let marked = tokio::sync::Mutex::new(0usize);
        let sent: Vec<AtomicBool> = users.iter().map(|_| AtomicBool::new(false)).collect();
        // Contacts pending before this batch marked them: if never sent,
        // their mark stays (an earlier run may have reached WAHA).
        let pending_before: Vec<AtomicBool> =
            users.iter().map(|_| AtomicBool::new(false)).collect();
        let answers: Mutex<Vec<Option<Result<(), UserError>>>> =
            Mutex::new(vec![None; users.len()]);
        let answered = |at: usize, answer: Result<(), UserError>| {
            if let Ok(mut answers) = answers.lock() {
                answers[at] = Some(answer);
            }
            self.stats.answered(1);
        };
        let lane = || async {
            // This lane's answers whose settlements no write holds yet.
            let mut unsynced: Vec<(usize, Result<(), UserError>, u64)> = Vec::new();
            let outcome = loop {
                // No new contact once the run is stopping (deadline or signal).
                if stop.load(Ordering::Relaxed) || crate::stop::current().check().is_err() {
                    break Ok(());
                }
                let at = next.fetch_add(1, Ordering::Relaxed);
                let Some(user) = users.get(at) else {
                    break Ok(());
                };
                // WAHA addresses contacts by phone (`<digits>@c.us`); the
                // loader refuses BSUID-only entries for WAHA targets, so this
                // is a user no file could have sent here: refused, not sent.
                let Some(phone) = user.phone_digits() else {
                    answered(at, Err(UserError {
                        user: user.clone(),
                        code: crate::provider::meta::UNKNOWN_CODE,
                        message: "WAHA blocks contacts by phone number, and this user has only a BSUID".to_string(),
                    }));
                    continue;
                };
                // The write that marks the next round carries every
                // settlement made so far: those count as answered now.
                let mark = self.mark_ahead(&marked, users, &pending_before, at, change);
                if let Err(error) = mark.await {
                    break Err(error);
                }
                unsynced.retain(|(at, answer, changes)| {
                    let written = self.ledger.synced(*changes);
                    if written {
                        answered(*at, answer.clone());
                    }
                    !written
                });
                sent[at].store(true, Ordering::Relaxed);
                let answer = match self.one(route, user, phone).await {
                    Ok(answer) => answer,
                    // WAHA may have acted: the mark stands.
                    Err(error) => break Err(error),
                };
                let how = match &answer {
                    Ok(()) => Settled::Confirmed,
                    Err(_) => Settled::Abandoned,
                };
                match self.ledger.settle(change, phone, how).await {
                    Ok(changes) => unsynced.push((at, answer, changes)),
                    Err(error) => {
                        answered(at, answer);
                        break Err(error);
                    }
                }
            };
            if outcome.is_err() {
                stop.store(true, Ordering::Relaxed);
            }
            // WAHA has answered, whatever the ledger write does: if it
            // fails, the pending mark stands, which errs the safe way.
            let last = unsynced.iter().map(|(_, _, changes)| *changes).max();
            let synced = match last {
                Some(changes) => self.ledger.sync(changes).await,
                None => Ok(()),
            };
            for (at, answer, _) in unsynced {
                answered(at, answer);
            }
            synced?;
            outcome
        };
        let stopped = join_all((0..IN_FLIGHT.min(users.len())).map(|_| lane()).collect()).await;
        // Marks of contacts never sent are cleared: nothing was asked of WAHA.
        let marked = *marked.lock().await;
        let cleared = self
            .clear_unsent(users, &sent, &pending_before, marked)
            .await;
        let stopped = stopped.and(cleared);
        let answers = answers.into_inner().unwrap_or_default();
        let mut result = BatchResult::default();
        let mut unanswered = 0;
        for (user, answer) in users.iter().zip(answers) {
            match answer {
                Some(Ok(())) => result.done.push(user.clone()),
                Some(Err(error)) => result.failed.push(error),
                None => unanswered += 1,
            }
        }
        match stopped {
            Err(error) => Err(Interrupted::stopped(result, error)),
            Ok(()) if unanswered > 0 => {
                let error = match crate::stop::current().check() {
                    Err(stopped) => {
                        anyhow::anyhow!("{stopped}; {unanswered} contact(s) were not sent")
                    }
                    Ok(()) => anyhow::anyhow!("{unanswered} contact(s) got no answer (a bug)"),
                };
                Err(Interrupted::stopped(result, error))
            }
            Ok(()) => Ok(result),
        }
    }

    /// Make sure `users[at]` is pending on disk: if not yet, record it and
    /// the [`MARK_AHEAD`] contacts after it (those not marked yet) in one
    /// write. Lanes wait for each other here, so each contact is marked once.
    async fn mark_ahead(
        &self,
        marked: &tokio::sync::Mutex<usize>,
        users: &[User],
        pending_before: &[AtomicBool],
        at: usize,
        change: Change,
    ) -> anyhow::Result<()> {
        let mut upto = marked.lock().await;
        if at < *upto {
            return Ok(());
        }
        let end = (at + MARK_AHEAD).min(users.len());
        let (phones, indexes): (Vec<&str>, Vec<usize>) = (*upto..end)
            .filter_map(|i| Some((users[i].phone_digits()?, i)))
            .unzip();
        let (changes, was_pending) = self.ledger.mark(change, &phones).await?;
        for (i, was) in indexes.into_iter().zip(was_pending) {
            pending_before[i].store(was, Ordering::Relaxed);
        }
        self.ledger.sync(changes).await?;
        *upto = end;
        Ok(())
    }

    /// Clear the marks this batch made for `users[..marked]` never sent
    /// (the batch stopped before their turn), in one write.
    async fn clear_unsent(
        &self,
        users: &[User],
        sent: &[AtomicBool],
        pending_before: &[AtomicBool],
        marked: usize,
    ) -> anyhow::Result<()> {
        let mut changes = 0;
        for (i, user) in users[..marked].iter().enumerate() {
            let ours =
                !sent[i].load(Ordering::Relaxed) && !pending_before[i].load(Ordering::Relaxed);
            if let (true, Some(phone)) = (ours, user.phone_digits()) {
                // The direction does not matter to a mark being cleared.
                changes = self
                    .ledger
                    .settle(Change::Block, phone, Settled::Abandoned)
                    .await?;
            }
        }
        self.ledger.sync(changes).await
    }

    /// Block or unblock one contact, with retries. `Ok(Err(_))` is this
    /// contact refused; `Err(_)` stops the target.
    async fn one(
        &self,
        route: Route,
        user: &User,
        phone: &str,
    ) -> anyhow::Result<Result<(), UserError>> {
        let url = self.base.join(route.path());
        let what = self.base.what("POST", route.path());
        let label = format!("waha: POST {} {phone}", route.path());
        let body = serde_json::to_vec(&Body {
            session: &self.config.session,
            contact_id: contact_id(phone),
        })?;
        let (url, what, label, body) = (url.as_str(), what.as_str(), label.as_str(), &body);
        retry::run(&self.config.retry, &self.stats, what, |attempt| {
            let exchange = Exchange {
                label,
                what,
                attempt,
            };
            let request = self
                .client
                .post(url)
                .header(CONTENT_TYPE, "application/json")
                .header("X-Api-Key", &self.api_key)
                .body(body.to_vec());
            // A success has no body worth reading, but a reply cut short may
            // not be the success it claims, and it is read within the cap
            // like every other reply.
            let meaning = move |reply| self.meaning(user, exchange, reply);
            exchange.send(&self.stats, request, |_| {}, meaning)
        })
        .await
    }

    /// What WAHA's reply means for this contact ([`reply::classify`]).
    fn meaning(
        &self,
        user: &User,
        exchange: Exchange<'_>,
        reply: Reply,
    ) -> Meaning<Result<(), UserError>> {
        let Exchange { what, attempt, .. } = exchange;
        let max_attempts = self.config.retry.max_attempts.max(1);
        let session = &self.config.session;
        let refused = |code, message| {
            Attempt::Done(Err(UserError {
                user: user.clone(),
                code,
                message,
            }))
        };
        let retry_after = reply.retry_after;
        let outcome = match reply::classify(
            reply.status,
            &reply.body,
            session,
            &self.config.api_key_var,
            &self.redactor,
        ) {
            ContactMeaning::Done => Attempt::Done(Ok(())),
            ContactMeaning::Refused { code, message } => refused(code, message),
            // WAHA's 500 is an exception while handling this contact: retried
            // like any 5xx, then this contact's failure, so one bad contact
            // does not stop the others.
            ContactMeaning::ContactError { code, message } if attempt >= max_attempts => {
                refused(code, format!("{message} (after {attempt} attempts)"))
            }
            ContactMeaning::ContactError { message, .. } => Attempt::Transient {
                why: message,
                retry_after,
            },
            ContactMeaning::Transient(why) => Attempt::Transient { why, retry_after },
            ContactMeaning::Fatal(why) => Attempt::Fatal(anyhow::anyhow!("{what}: {why}")),
        };
        Meaning::new(format!("HTTP {}", reply.code()), outcome)
    }
}

/// Run `lanes` concurrently within this task (they borrow the batch, so
/// they cannot be spawned) and return the first error once all have ended.
async fn join_all<F: Future<Output = anyhow::Result<()>>>(lanes: Vec<F>) -> anyhow::Result<()> {
    let mut lanes: Vec<Option<Pin<Box<F>>>> =
        lanes.into_iter().map(|f| Some(Box::pin(f))).collect();
    let mut first_error = None;
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for slot in lanes.iter_mut() {
            let Some(lane) = slot else { continue };
            match lane.as_mut().poll(cx) {
                Poll::Ready(result) => {
                    *slot = None;
                    if let Err(error) = result {
                        first_error.get_or_insert(error);
                    }
                }
                Poll::Pending => pending = true,
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    first_error.map_or(Ok(()), Err)
}

impl Provider for Waha {
    /// The ledger: WAHA has no route that lists blocked contacts.
    fn list(&self) -> BoxFuture<'_, anyhow::Result<Vec<User>>> {
        Box::pin(async move {
            self.stats.listing_started();
            let blocked = self.ledger.blocked().await?;
            // One "page", so progress reporting sees the listing end like any other.
            self.stats.page_read(blocked.len() as u64);
            Ok(blocked.into_iter().map(User::phone).collect())
        })
    }

    /// Server text is redacted where it is read; this is the last check.
    fn block<'a>(&'a self, users: &'a [User]) -> BoxFuture<'a, Batch> {
        Box::pin(async move {
            let result = self.batch(Route::Block, users).await;
            self.redactor.batch_result(result)
        })
    }

    fn unblock<'a>(&'a self, users: &'a [User]) -> BoxFuture<'a, Batch> {
        Box::pin(async move {
            let result = self.batch(Route::Unblock, users).await;
            self.redactor.batch_result(result)
        })
    }

    /// Contacts the ledger holds as pending: a run stopped after recording
    /// a change and before WAHA's answer was settled. Plans send them again.
    fn unconfirmed(&self) -> BoxFuture<'_, anyhow::Result<Vec<User>>> {
        Box::pin(async move {
            let pending = self.ledger.pending().await?;
            Ok(pending.into_iter().map(User::phone).collect())
        })
    }

    /// What plans say under a WAHA target (docs/platforms.md, WAHA: blocks
    /// made outside the tool are invisible to it, so say so plainly), given
    /// the [`Provider::unconfirmed`] contacts.
    fn notes(&self, unconfirmed: &[User]) -> Vec<String> {
        let ledger = self.ledger.shown();
        let mut notes = vec![format!(
            "WAHA cannot list blocked contacts: the live list is blocklist's ledger ({ledger}), so blocks made outside blocklist are invisible to it."
        )];
        if !self.ledger.found() {
            notes.push(format!(
                "No ledger yet at {ledger}: nothing is recorded as blocked, so every desired user is planned for blocking."
            ));
        }
        if !unconfirmed.is_empty() {
            notes.push(format!(
                "{} contact(s) have a change in the ledger that WAHA never confirmed (an earlier run stopped part-way); they count as maybe blocked, and the plan sends each again: {}.",
                unconfirmed.len(),
                unconfirmed.iter().map(User::id).collect::<Vec<_>>().join(", ")
            ));
        }
        notes
    }

    fn max_batch(&self) -> usize {
        MAX_BATCH
    }

    fn stats(&self) -> &Stats {
        &self.stats
    }
}
