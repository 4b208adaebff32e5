//! Limits over HTTP: 130429 halving, a full list, which errors are retried
//! and which stop, `Retry-After` and the usage header.

use std::time::Duration;

use serde_json::json;

use super::*;

#[tokio::test]
async fn rate_limit_130429_halves_the_batch_after_backing_off() {
    let replies = vec![
        meta_error(400, 130429),
        meta_error(400, 130429),
        done("added_users", &["8613300000001"]),
        done("added_users", &["8613300000002"]),
        done("added_users", &["8613300000003", "8613300000004"]),
    ];
    let (client, script, _) = serve(replies).await;
    let sent = users(&[
        "8613300000001",
        "8613300000002",
        "8613300000003",
        "8613300000004",
    ]);
    let result = client.block(&sent).await.unwrap();
    assert_eq!(result.done, sent);
    assert!(result.failed.is_empty());
    let batches: Vec<usize> = script
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.users().len())
        .collect();
    assert_eq!(batches, [4, 2, 1, 1, 2]);
    assert_eq!(client.stats().retries(), 2);

    // A single user cannot be split: it is retried, then given up.
    let (client, _, _) = serve((0..3).map(|_| meta_error(400, 130429)).collect()).await;
    let error = client
        .block(&users(&["8613300000001"]))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("gave up after 3 attempts: Meta error 130429"),
        "{error}"
    );
}

#[tokio::test]
async fn halves_answered_before_a_later_one_fails_are_handed_back() {
    let replies = vec![
        meta_error(400, 130429),
        done("added_users", &["8613300000001", "8613300000002"]),
        meta_error(403, 10),
    ];
    let (client, _, _) = serve(replies).await;
    let sent = users(&[
        "8613300000001",
        "8613300000002",
        "8613300000003",
        "8613300000004",
    ]);
    let stopped = client.block(&sent).await.unwrap_err();
    assert_eq!(
        stopped.partial.done,
        users(&["8613300000001", "8613300000002"])
    );
    assert!(stopped.partial.failed.is_empty());
    assert!(
        stopped.to_string().contains("permission denied"),
        "{stopped}"
    );
}

#[tokio::test]
async fn a_full_list_refuses_the_rest_of_the_batch() {
    let replies = vec![meta_error(400, 130429), meta_error(400, 139101)];
    let (client, script, _) = serve(replies).await;
    let sent = users(&["8613300000001", "8613300000002", "8613300000003"]);
    let result = client.block(&sent).await.unwrap();
    assert!(result.done.is_empty());
    let refused: Vec<(&str, i64)> = result
        .failed
        .iter()
        .map(|f| (f.user.id(), f.code))
        .collect();
    assert_eq!(
        refused,
        [
            ("8613300000001", 139101),
            ("8613300000002", 139101),
            ("8613300000003", 139101)
        ]
    );
    // The second half was never sent: the list is full.
    assert_eq!(script.seen.lock().unwrap().len(), 2);
}

/// docs/platforms.md, Cloud API: 131047 is deferred and 131021 failed, per user, also when
/// Meta sends either as the error of the whole call (no `failed_users`),
/// which is what a piece halved down to one user tends to get.
#[tokio::test]
async fn a_whole_call_131047_or_131021_is_per_user_not_fatal() {
    let replies = vec![
        meta_error(400, 130429),
        meta_error(400, 131047),
        done("added_users", &["8613300000002"]),
    ];
    let (client, script, _) = serve(replies).await;
    let sent = users(&["8613300000001", "8613300000002"]);
    let result = client.block(&sent).await.unwrap();
    assert_eq!(result.done, users(&["8613300000002"]));
    let refused: Vec<(&str, i64)> = result
        .failed
        .iter()
        .map(|f| (f.user.id(), f.code))
        .collect();
    assert_eq!(refused, [("8613300000001", 131047)]);
    assert_eq!(result.failed[0].message, "boom");
    assert_eq!(script.seen.lock().unwrap().len(), 3);

    let (client, _, _) = serve(vec![meta_error(400, 131021)]).await;
    let me = users(&["8615800001795"]);
    let result = client.unblock(&me).await.unwrap();
    assert_eq!(
        (result.failed[0].user.id(), result.failed[0].code),
        ("8615800001795", 131021)
    );
    assert!(result.done.is_empty());

    // On a listing it means nothing per user: still an error.
    let (client, _, _) = serve(vec![meta_error(400, 131047)]).await;
    let error = client.list().await.unwrap_err().to_string();
    assert!(error.contains("unexpected Meta error 131047"), "{error}");
}

#[tokio::test]
async fn error_codes_decide_between_retry_and_stop() {
    let (client, _, _) = serve(vec![meta_error(401, 190)]).await;
    let error = client.list().await.unwrap_err().to_string();
    assert!(
        error.contains("the access token was refused (invalid or expired): check WHATSAPP_TOKEN"),
        "{error}"
    );
    assert_eq!(client.stats().requests(), 1);

    let (client, _, base) = serve(vec![reply(
        401,
        json!({"meta": {"developer_message": "Invalid api key"}}),
    )])
    .await;
    let error = client.list().await.unwrap_err().to_string();
    let expected =
        format!("GET {base}/v25.0/{ID}/block_users: HTTP 401 Unauthorized: check WHATSAPP_TOKEN");
    assert_eq!(error, expected);

    let (client, _, _) = serve(vec![meta_error(403, 10)]).await;
    let error = client
        .block(&users(&["8613300000001"]))
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("permission denied"), "{error}");

    let mut flagged = meta_error(400, 100);
    flagged.body =
        json!({"error": {"code": 100, "message": "busy", "is_transient": true}}).to_string();
    let replies = vec![
        flagged,
        meta_error(500, 1),
        meta_error(400, 4),
        page(json!([]), None, false),
    ];
    let (client, _, _) = serve_with(replies, |c| c.retry.max_attempts = 4).await;
    assert_eq!(client.list().await.unwrap(), Vec::<String>::new());
    assert_eq!(client.stats().retries(), 3);

    let (client, _, base) = serve((0..3).map(|_| reply(502, json!("bad gateway"))).collect()).await;
    let error = client.list().await.unwrap_err().to_string();
    assert_eq!(
        error,
        format!("GET {base}/v25.0/{ID}/block_users: gave up after 3 attempts: HTTP 502")
    );

    let (client, _, base) = serve(vec![meta_error(400, 100)]).await;
    let error = client
        .unblock(&users(&["8613300000001"]))
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        format!("DELETE {base}/v25.0/{ID}/block_users: Meta error 100 (OAuthException): boom")
    );
}

#[tokio::test]
async fn retry_after_and_the_usage_header_slow_the_client_down() {
    let mut limited = reply(429, json!({}));
    limited.headers.push(("retry-after", "1".into()));
    let mut busy = page(json!([]), Some("c1"), true);
    let usage = json!({"1": [{"call_count": 75, "total_cputime": 3, "total_time": 3,
        "estimated_time_to_regain_access": 0}]});
    busy.headers
        .push(("x-business-use-case-usage", usage.to_string()));
    let replies = vec![limited, busy, page(json!([]), None, false)];
    let (client, script, _) = serve(replies).await;
    client.list().await.unwrap();
    let seen = script.seen.lock().unwrap();
    assert!(seen[1].at - seen[0].at >= Duration::from_secs(1));
    assert!(seen[2].at - seen[1].at >= Duration::from_millis(100));
}

#[tokio::test]
async fn usage_pauses_past_the_budget_fail_naming_the_endpoint_and_metas_estimate() {
    let mut busy = page(json!([]), Some("c1"), true);
    let usage = json!({"1": [{"call_count": 100, "estimated_time_to_regain_access": 30}]});
    busy.headers
        .push(("x-business-use-case-usage", usage.to_string()));
    let (client, script, base) = serve_with(vec![busy], |c| {
        c.usage_wait_budget = Duration::from_secs(1);
    })
    .await;
    let started = std::time::Instant::now();
    let error = client.list().await.unwrap_err().to_string();
    assert!(
        error.starts_with(&format!(
            "GET {base}/v25.0/{ID}/block_users: Meta asks this client to slow down"
        )),
        "{error}"
    );
    assert!(
        error.contains(
            "Meta estimates access returns in 30 minute(s) (estimated_time_to_regain_access)"
        ),
        "{error}"
    );
    // Waiting would take Meta's estimate, capped at MAX_REGAIN_WAIT (two
    // minutes); the bound is far below that but far above one local
    // round trip on a busy machine.
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "it did not wait"
    );
    assert_eq!(script.seen.lock().unwrap().len(), 1);
}
