//! Injected faults and the request counters, seen from a client.

use std::time::{Duration, Instant};

use serde_json::json;

use super::*;
use crate::emulator::Faults;

#[tokio::test]
async fn the_first_requests_fail_with_503_and_change_nothing() {
    let faults = Faults {
        fail_first: 2,
        ..Faults::default()
    };
    let emu = Emu::start(Some(one_phone(&[])), faults).await;
    for _ in 0..2 {
        let reply = emu.send(Req::new(BLOCK, &body(users(&[RECENT[0]])))).await;
        assert_eq!(reply.status, 503);
        assert_eq!(emu.blocked().await, json!([]));
    }
    assert_eq!(emu.block(&[RECENT[0]]).await["code"], 0);
    assert_eq!(emu.blocked().await, json!([RECENT[0]]));
}

#[tokio::test]
async fn fail_rate_one_fails_everything() {
    let faults = Faults {
        fail_rate: 1.0,
        ..Faults::default()
    };
    let emu = Emu::start(Some(one_phone(&[])), faults).await;
    let reply = emu.send(Req::new(BLOCK, &body(users(&[RECENT[0]])))).await;
    assert_eq!(reply.status, 503);
    assert_eq!(emu.blocked().await, json!([]));
}

/// How the window counts is tested with a given clock beside the injector;
/// here, over HTTP, a limit of 0 turns every request away, so the reply's
/// shape is checked without needing requests to land inside one real second.
#[tokio::test]
async fn over_the_rate_limit_answers_429_with_retry_after() {
    let faults = Faults {
        rate_limit: Some(0),
        ..Faults::default()
    };
    let emu = Emu::start(Some(one_phone(&[])), faults).await;
    for _ in 0..2 {
        let reply = emu.send(Req::new(BLOCK, &body(users(&[RECENT[0]])))).await;
        assert_eq!(reply.status, 429);
        assert_eq!(reply.retry_after.as_deref(), Some("1"));
        assert_eq!(reply.json()["code"], -1);
    }
    assert_eq!(emu.blocked().await, json!([]), "a 429 changes nothing");
}

#[tokio::test]
async fn a_truncated_reply_still_made_the_change() {
    let faults = Faults {
        malformed_rate: 1.0,
        ..Faults::default()
    };
    let emu = Emu::start(Some(one_phone(&[])), faults).await;
    let reply = emu.send(Req::new(BLOCK, &body(users(&[RECENT[0]])))).await;
    assert_eq!(reply.status, 200);
    assert!(!reply.text.is_empty());
    assert!(serde_json::from_str::<serde_json::Value>(&reply.text).is_err());
    assert_eq!(emu.blocked().await, json!([RECENT[0]]));
}

#[tokio::test]
async fn latency_delays_every_reply() {
    let faults = Faults {
        latency_ms: 150,
        ..Faults::default()
    };
    let emu = Emu::start(Some(one_phone(&[])), faults).await;
    let started = Instant::now();
    assert_eq!(emu.list(json!({})).await["code"], 0);
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn stats_count_every_request_but_their_own() {
    let faults = Faults {
        fail_first: 1,
        ..Faults::default()
    };
    let emu = Emu::start(Some(one_phone(&[])), faults).await;
    let faulted = emu.send(Req::new(LIST, &body(json!({})))).await;
    assert_eq!(faulted.status, 503);
    emu.list(json!({})).await;
    emu.block(&[RECENT[0]]).await;
    let bad = Req {
        secret: "wrong".into(),
        ..Req::new(UNBLOCK, &body(users(&[RECENT[0]])))
    };
    assert_eq!(emu.send(bad).await.json()["code"], 1003);

    let expected = json!({
        "requests": 4,
        "by_route": {LIST: 2, BLOCK: 1, UNBLOCK: 1},
        "by_request": {
            format!("POST {LIST}"): 2,
            format!("POST {BLOCK}"): 1,
            format!("POST {UNBLOCK}"): 1,
        },
    });
    assert_eq!(emu.admin("/_emulator/stats").await, expected);
    assert_eq!(emu.admin("/_emulator/stats").await, expected);
}

#[tokio::test]
async fn dropping_the_emulator_stops_it_even_for_pooled_connections() {
    let Emu {
        running, client, ..
    } = Emu::start(Some(one_phone(&[])), Faults::default()).await;
    let url = format!("{}/_emulator/stats", running.base_url());
    let addr = running.addr;
    assert!(client.get(&url).send().await.is_ok());
    drop(running);
    // The abort and the shutdown signal are handled by the runtime a moment
    // later: poll until the port is closed, with a deadline.
    let deadline = Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(addr).await.is_ok() {
        assert!(Instant::now() < deadline, "the port is still open");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The keep-alive connection the client holds is closed too.
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.get(&url).send().await.is_ok() {
        assert!(
            Instant::now() < deadline,
            "a pooled connection still answers"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
