//! The client over real HTTP against a scripted WAHA on 127.0.0.1: one
//! request per contact with bounded concurrency, per-contact refusals,
//! retries, engines without blocking, and the ledger kept in step.

use crate::user::User;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::HeaderMap;
use serde_json::{Value, json};

use super::*;
use crate::provider::http::testing::{self, Answer, Reply, Seen};
use std::time::Duration;

mod hostile;

const KEY: &str = "waha-key-do-not-print";
const PHONE: &str = "8615800001795";

#[derive(Default)]
struct Script {
    /// Replies per contactId, in order; a contact with none left gets 201.
    replies: Mutex<HashMap<String, Vec<(u16, String)>>>,
    seen: Mutex<Vec<(String, HeaderMap, Value)>>,
    /// Contacts answered 201, in order.
    created: Mutex<Vec<String>>,
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
    /// Requests wait here until this many are in flight at once (0: no
    /// wait), so a test of the client's concurrency does not depend on how
    /// fast a busy machine happens to send.
    gather: AtomicUsize,
    /// Bumped whenever `in_flight` or `held` changes, for the waits above.
    moved: tokio::sync::Notify,
    /// Contacts held unanswered until `release` turns true.
    slow: Mutex<HashSet<String>>,
    /// How many held contacts have arrived and are waiting.
    held: AtomicUsize,
    release: tokio::sync::watch::Sender<bool>,
}

/// How long a test waits for something that should happen at once; only
/// a broken client (or a hung machine) ever reaches it.
const PATIENCE: Duration = Duration::from_secs(30);

/// Poll `ready` (a client-side counter, which has nothing to wake us)
/// every few milliseconds until it holds; panics after [`PATIENCE`].
async fn eventually(what: &str, ready: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !ready() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "gave up waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

impl Script {
    /// Wait until `ready` holds, woken by every change the handler makes;
    /// panics after [`PATIENCE`] naming `what`.
    async fn until(&self, what: &str, ready: impl Fn(&Script) -> bool) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let moved = self.moved.notified();
            tokio::pin!(moved);
            // Registered before checking, so no change slips in between.
            moved.as_mut().enable();
            if ready(self) {
                return;
            }
            if tokio::time::timeout_at(deadline, moved).await.is_err() {
                panic!("gave up waiting for {what}");
            }
        }
    }
}

async fn answer(script: Arc<Script>, path: String, headers: HeaderMap, body: Bytes) -> Answer {
    let now = script.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    script.most_in_flight.fetch_max(now, Ordering::SeqCst);
    script.moved.notify_waiters();
    let gather = script.gather.load(Ordering::SeqCst);
    if gather > 0 {
        let what = format!("{gather} requests in flight at once");
        script
            .until(&what, |s| {
                let most = s.most_in_flight.load(Ordering::SeqCst);
                most >= gather
            })
            .await;
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let contact = body["contactId"].as_str().unwrap_or_default().to_string();
    let held = script.slow.lock().unwrap().contains(&contact);
    if held {
        let mut release = script.release.subscribe();
        script.held.fetch_add(1, Ordering::SeqCst);
        script.moved.notify_waiters();
        // The sender lives in the script, so this only ends on release.
        let _ = release.wait_for(|go| *go).await;
        script.held.fetch_sub(1, Ordering::SeqCst);
    }
    script.seen.lock().unwrap().push((path, headers, body));
    let next = script
        .replies
        .lock()
        .unwrap()
        .get_mut(&contact)
        .and_then(|queue| (!queue.is_empty()).then(|| queue.remove(0)));
    let (status, text) = next.unwrap_or((201, String::new()));
    if status == 201 {
        script.created.lock().unwrap().push(contact);
    }
    script.in_flight.fetch_sub(1, Ordering::SeqCst);
    script.moved.notify_waiters();
    Answer::Reply(Reply::new(status, text))
}

struct Setup {
    waha: Waha,
    script: Arc<Script>,
    _dir: tempfile::TempDir,
}

async fn serve(replies: &[(&str, u16, &str)]) -> Setup {
    let mut by_contact: HashMap<String, Vec<(u16, String)>> = HashMap::new();
    for (user, status, text) in replies {
        let queue = by_contact.entry(contact_id(user)).or_default();
        queue.push((*status, text.to_string()));
    }
    let script = Arc::new(Script {
        replies: Mutex::new(by_contact),
        ..Script::default()
    });
    let answering = script.clone();
    let server = testing::responding(move |seen: &Seen| {
        let path = seen.uri.path().to_string();
        answer(
            answering.clone(),
            path,
            seen.headers.clone(),
            seen.body.clone(),
        )
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = WahaConfig {
        base_url: format!("{}/", server.base),
        session: "default".into(),
        business_phone: PHONE.into(),
        ledger: dir.path().join("bot.ledger.json"),
        api_key: Secret::new(KEY),
        api_key_var: API_KEY_VAR.into(),
        retry: RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
        },
    };
    let waha = Waha::new(config).unwrap();
    Setup {
        waha,
        script,
        _dir: dir,
    }
}

fn users(n: usize) -> Vec<User> {
    (1..=n)
        .map(|i| User::phone(format!("86133{i:08}")))
        .collect()
}

fn ledger_file(waha: &Waha) -> Value {
    serde_json::from_slice(&std::fs::read(&waha.config.ledger).unwrap()).unwrap()
}

#[test]
fn contact_ids_are_digits_at_c_us() {
    assert_eq!(contact_id("8613300000001"), "8613300000001@c.us");
    assert_eq!(contact_id("+86 133 0000 0001"), "8613300000001@c.us");
}

#[tokio::test]
async fn a_batch_is_one_request_per_contact_a_few_at_a_time() {
    let Setup { waha, script, _dir } = serve(&[]).await;
    // The first requests are held until IN_FLIGHT are in at once: a client
    // that sent one at a time would never get there.
    script.gather.store(IN_FLIGHT, Ordering::SeqCst);
    let sent = users(10);
    let result = waha.block(&sent).await.unwrap();
    assert_eq!(result.done, sent);
    {
        let seen = script.seen.lock().unwrap();
        assert_eq!(seen.len(), 10);
        for (path, headers, body) in seen.iter() {
            assert_eq!(path, "/api/contacts/block");
            assert_eq!(headers.get("x-api-key").unwrap(), KEY);
            assert_eq!(headers.get("content-type").unwrap(), "application/json");
            assert_eq!(body["session"], "default");
            assert!(body["contactId"].as_str().unwrap().ends_with("@c.us"));
        }
    }
    let most = script.most_in_flight.load(Ordering::SeqCst);
    assert_eq!(most, IN_FLIGHT, "never more than IN_FLIGHT at once");
    assert_eq!(
        ledger_file(&waha)["blocked"],
        json!(crate::user::ids(&sent))
    );
    assert_eq!(waha.list().await.unwrap(), sent);
}

/// A chunk is up to 1 000 requests: progress must move per contact, not
/// stand still until the whole chunk is done.
#[tokio::test]
async fn each_answered_contact_counts_while_the_chunk_still_runs() {
    let Setup { waha, script, _dir } = serve(&[]).await;
    let sent = users(10);
    script.slow.lock().unwrap().insert(contact_id(sent[0].id()));
    let batch = waha.block(&sent);
    tokio::pin!(batch);
    // The batch is driven until the nine others are answered and settled
    // while the slow contact is still held by the server.
    let nine = eventually("nine answers, the slow one held", || {
        waha.stats().users_answered() == 9 && script.held.load(Ordering::SeqCst) == 1
    });
    tokio::select! {
        _ = &mut batch => panic!("the slow contact should still be in flight"),
        () = nine => {}
    }
    assert_eq!(waha.stats().users_answered(), 9);
    script.release.send_replace(true);
    assert_eq!(batch.await.unwrap().done, sent);
    assert_eq!(waha.stats().users_answered(), 10);
}

#[tokio::test]
async fn refused_contacts_fail_alone_and_stay_out_of_the_ledger() {
    let sent = users(3);
    let refusal =
        r#"{"statusCode":400,"message":"Contact is not a WhatsApp user","error":"Bad Request"}"#;
    let replies = [(sent[1].id(), 400, refusal), (sent[2].id(), 503, "")];
    let Setup { waha, .. } = serve(&replies).await;
    let result = waha.block(&sent).await.unwrap();
    assert_eq!(result.done, [sent[0].clone(), sent[2].clone()]);
    let failed = &result.failed[0];
    assert_eq!((failed.user.id(), failed.code), (sent[1].id(), 400));
    assert_eq!(failed.message, "Contact is not a WhatsApp user");
    assert_eq!(
        waha.list().await.unwrap(),
        [sent[0].clone(), sent[2].clone()]
    );
    assert_eq!((waha.stats().requests(), waha.stats().retries()), (4, 1));

    assert_eq!(ledger_file(&waha)["pending_block"], json!([]));

    waha.unblock(&sent[..1]).await.unwrap();
    assert_eq!(ledger_file(&waha)["blocked"], json!([sent[2].id()]));
}

#[tokio::test]
async fn an_engine_without_blocking_stops_and_the_ledger_keeps_what_was_done() {
    let sent = users(12);
    let not_implemented = r#"{"statusCode":501,"message":"Not implemented by this engine"}"#;
    let Setup { waha, script, _dir } = serve(&[(sent[5].id(), 501, not_implemented)]).await;
    let stopped = waha.block(&sent).await.unwrap_err();
    let error = stopped.to_string();
    let base = waha.base.shown();
    assert_eq!(
        error,
        format!(
            "POST {base}/api/contacts/block: this WAHA session's engine does not implement blocking contacts (HTTP 501: Not implemented by this engine); only the WEBJS and WPP engines can block (NOWEB and GOWS cannot): run the session on one of them"
        )
    );
    assert_eq!(
        waha.stats().requests() as usize,
        script.seen.lock().unwrap().len()
    );
    assert!(
        script.seen.lock().unwrap().len() < sent.len(),
        "lanes stopped taking work"
    );
    // Exactly what WAHA confirmed is recorded as blocked: nothing lost,
    // nothing invented.
    let created: HashSet<String> = script.created.lock().unwrap().iter().cloned().collect();
    let as_ids = |list: &Value| -> HashSet<String> {
        let list = list.as_array().unwrap().iter();
        list.map(|u| contact_id(u.as_str().unwrap())).collect()
    };
    assert_eq!(as_ids(&ledger_file(&waha)["blocked"]), created);
    assert!(!created.is_empty());
    // Contacts whose call stopped the target stay pending, so maybe
    // blocked: the ledger does not guess what a failing server did.
    let pending = as_ids(&ledger_file(&waha)["pending_block"]);
    assert!(pending.contains(&contact_id(sent[5].id())), "{pending:?}");
    assert!(pending.is_disjoint(&created));
    // And the call hands back exactly those as done, for apply's report.
    let answered: HashSet<String> = stopped
        .partial
        .done
        .iter()
        .map(|u| contact_id(u.id()))
        .collect();
    assert_eq!(answered, created);
}

#[tokio::test]
async fn the_key_is_checked_and_never_shown() {
    let user = users(1);
    let Setup { waha, script, _dir } = serve(&[(user[0].id(), 401, "")]).await;
    let error = waha.block(&user).await.unwrap_err();
    let text = format!("{error:#}");
    assert!(
        text.ends_with("WAHA refused the API key: check WAHA_API_KEY (HTTP 401: Unauthorized)"),
        "{text}"
    );
    let shown = format!("{text} {error:?} {waha:?} {:?}", waha.config);
    assert!(!shown.contains(KEY), "{shown}");
    assert_eq!(script.seen.lock().unwrap().len(), 1);
    assert_eq!(
        ledger_file(&waha)["blocked"],
        json!([]),
        "nothing was blocked"
    );

    let mut config = waha.config.clone();
    config.api_key = Secret::new("line\nbreak");
    let error = Waha::new(config).unwrap_err().to_string();
    assert_eq!(
        error,
        "WAHA_API_KEY holds characters that cannot be sent in an HTTP header"
    );
}

#[tokio::test]
async fn plans_say_the_ledger_is_the_list() {
    let Setup { waha, _dir, .. } = serve(&[]).await;
    let notes = waha.notes(&[]);
    assert!(
        notes[0].starts_with(
            "WAHA cannot list blocked contacts: the live list is blocklist's ledger ("
        ),
        "{notes:?}"
    );
    assert!(
        notes[0]
            .ends_with("bot.ledger.json), so blocks made outside blocklist are invisible to it.")
    );
    assert!(notes[1].starts_with("No ledger yet at "), "{notes:?}");
    waha.block(&users(1)).await.unwrap();
    assert_eq!(waha.notes(&[]).len(), 1);
    let notes = waha.notes(&users(2));
    assert_eq!(
        notes[1],
        "2 contact(s) have a change in the ledger that WAHA never confirmed (an earlier run stopped part-way); they count as maybe blocked, and the plan sends each again: 8613300000001, 8613300000002."
    );
}

/// docs/platforms.md, WAHA: apply updates the ledger so that a crash loses nothing.
/// A run killed while a contact's request is in flight (WAHA may already
/// have blocked it) leaves that contact in the ledger, as maybe blocked.
#[tokio::test]
async fn a_run_killed_mid_call_leaves_the_contact_maybe_blocked() {
    let Setup { waha, script, _dir } = serve(&[]).await;
    let sent = users(6);
    script.slow.lock().unwrap().insert(contact_id(sent[0].id()));
    // The other five are answered and settled in the ledger while the
    // slow one is held by the server, then the run is dropped.
    let five = eventually("five answers, the slow one held", || {
        waha.stats().users_answered() == 5 && script.held.load(Ordering::SeqCst) == 1
    });
    tokio::select! {
        _ = waha.block(&sent) => panic!("the slow contact should still be in flight"),
        () = five => {}
    }
    // The future is dropped: as far as the ledger goes, the process died.
    // The server may answer the abandoned request now; nobody reads it.
    script.slow.lock().unwrap().clear();
    script.release.send_replace(true);
    let next_run = Waha::new(waha.config.clone()).unwrap();
    assert_eq!(next_run.list().await.unwrap(), sent);
    assert_eq!(next_run.unconfirmed().await.unwrap(), sent[..1]);
    // Whether WAHA blocked it or not, blocking it again settles it.
    next_run.block(&sent[..1]).await.unwrap();
    assert!(next_run.unconfirmed().await.unwrap().is_empty());
    assert_eq!(next_run.list().await.unwrap(), sent);
}

#[tokio::test]
async fn a_corrupt_ledger_fails_the_listing() {
    let Setup { waha, _dir, .. } = serve(&[]).await;
    std::fs::write(&waha.config.ledger, "{oops").unwrap();
    let error = format!("{:#}", waha.list().await.unwrap_err());
    assert!(
        error.contains("bot.ledger.json is not a blocklist ledger"),
        "{error}"
    );
}
