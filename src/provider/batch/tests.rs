//! The second chance and the count of answered users, against a scripted
//! writer: the first call's answers are kept unless the second one answers.

use std::sync::Mutex;
use std::time::Duration;

use super::*;
use crate::provider::UserError;

/// Answers each call with the next scripted outcome; records who was sent.
#[derive(Default)]
struct Scripted {
    answers: Mutex<Vec<Batch>>,
    calls: Mutex<Vec<Vec<User>>>,
}

impl Write for Scripted {
    async fn write(&self, _: Direction, users: &[User]) -> Batch {
        self.calls.lock().unwrap().push(users.to_vec());
        self.answers.lock().unwrap().remove(0)
    }
}

fn users(range: std::ops::Range<u32>) -> Vec<User> {
    range.map(|i| User::phone(format!("86133{i:08}"))).collect()
}

fn refused(user: &User, code: i64) -> UserError {
    UserError {
        user: user.clone(),
        code,
        message: "Something went wrong".into(),
    }
}

const POLICY: RetryPolicy = RetryPolicy {
    max_attempts: 3,
    base_delay: Duration::from_millis(400),
    max_delay: Duration::from_secs(8),
};

#[tokio::test(start_paused = true)]
async fn a_transient_per_user_refusal_gets_a_second_call_after_the_clients_backoff() {
    let sent = users(0..3);
    let writer = Scripted {
        answers: Mutex::new(vec![
            Ok(BatchResult {
                done: sent[1..2].to_vec(),
                failed: vec![refused(&sent[0], 131000), refused(&sent[2], 131021)],
            }),
            Ok(BatchResult {
                done: sent[..1].to_vec(),
                failed: Vec::new(),
            }),
        ]),
        ..Scripted::default()
    };
    let stats = Stats::default();
    let started = tokio::time::Instant::now();
    let result = call(&writer, Direction::Block, &POLICY, &stats, &sent)
        .await
        .unwrap();
    // The first backoff of the client's policy: between half and all of 400 ms.
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(200) && waited <= Duration::from_millis(400),
        "{waited:?}"
    );
    let calls = writer.calls.lock().unwrap().clone();
    assert_eq!(calls[1], users(0..1), "only the refused user is sent again");
    assert_eq!(result.done, [sent[1].clone(), sent[0].clone()]);
    // 131021 is for good: no second chance, and it stays failed.
    assert_eq!(result.failed.len(), 1);
    assert_eq!(result.failed[0].code, 131021);
    assert_eq!(stats.retries(), 1);
    assert_eq!(
        stats.users_answered(),
        3,
        "each user's final answer counts once"
    );
}

#[tokio::test(start_paused = true)]
async fn a_second_chance_that_stops_keeps_the_first_answers() {
    // The first call blocks 1 and 2 and refuses 0 for now; the second call,
    // for 0 alone, fails outright: 0 keeps its first answer.
    let sent = users(0..3);
    let writer = Scripted {
        answers: Mutex::new(vec![
            Ok(BatchResult {
                done: sent[1..].to_vec(),
                failed: vec![refused(&sent[0], 131000)],
            }),
            Err(Interrupted::from(anyhow::anyhow!(
                "gave up after 6 attempts: HTTP 503"
            ))),
        ]),
        ..Scripted::default()
    };
    let stats = Stats::default();
    let Err(Interrupted { partial, error }) =
        call(&writer, Direction::Block, &POLICY, &stats, &sent).await
    else {
        panic!("the second call's error is handed on");
    };
    assert_eq!(partial.done, users(1..3));
    assert_eq!(
        (partial.failed[0].user.id(), partial.failed[0].code),
        (sent[0].id(), 131000)
    );
    assert!(error.to_string().contains("HTTP 503"), "{error}");
    assert_eq!(stats.users_answered(), 3);
}

#[tokio::test]
async fn users_not_sent_are_not_counted() {
    let sent = users(0..2);
    let writer = Scripted {
        answers: Mutex::new(vec![Ok(BatchResult {
            done: users(0..5),
            failed: Vec::new(),
        })]),
        ..Scripted::default()
    };
    let stats = Stats::default();
    call(&writer, Direction::Unblock, &POLICY, &stats, &sent)
        .await
        .unwrap();
    assert_eq!(writer.calls.lock().unwrap().len(), 1);
    assert_eq!(stats.users_answered(), 2);
}
