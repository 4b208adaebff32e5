//! Block, unblock, the checks in front of them, and the state file.

use serde_json::{Value, json};

use super::*;
use crate::emulator::Faults;

fn codes(reply: &Value, list: &str) -> Vec<(String, i64)> {
    reply["data"]["block_users"][list]
        .as_array()
        .map(|users| {
            users
                .iter()
                .map(|u| {
                    let input = u["input"].as_str().unwrap_or("").to_string();
                    (input, u["errors"][0]["code"].as_i64().unwrap_or(0))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn block_unblock_list_round_trip_survives_a_restart() {
    let emu = Emu::start(Some(one_phone(&[])), Faults::default()).await;
    let reply = emu.block(&RECENT[..3]).await;
    assert_eq!(reply["code"], 0);
    assert_eq!(reply["message"], "请求成功");
    assert_eq!(reply["data"]["messaging_product"], "whatsapp");
    assert_eq!(
        reply["data"]["block_users"]["added_users"][0],
        json!({"input": RECENT[0], "wa_id": RECENT[0]})
    );
    assert!(reply["data"]["block_users"].get("failed_users").is_none());

    // Blocking again is idempotent; unblocking what is not blocked too.
    let again = emu.block(&RECENT[..1]).await;
    assert_eq!(
        again["data"]["block_users"]["added_users"][0]["wa_id"],
        RECENT[0]
    );
    let reply = emu.unblock(&[RECENT[1], RECENT[4]]).await;
    assert_eq!(reply["code"], 0);
    let removed = &reply["data"]["block_users"]["removed_users"];
    assert_eq!(removed[1], json!({"input": RECENT[4], "wa_id": RECENT[4]}));

    assert_eq!(emu.list_all(100).await, [RECENT[0], RECENT[2]]);
    let emu = emu.restart().await;
    assert_eq!(emu.list_all(100).await, [RECENT[0], RECENT[2]]);
    let file: Value = serde_json::from_slice(&std::fs::read(emu.state_path()).expect("state"))
        .expect("state is JSON");
    assert_eq!(file, one_phone(&[RECENT[0], RECENT[2]]));
}

#[tokio::test]
async fn a_missing_state_file_is_created_at_start_and_kept_on_change() {
    let mut emu = Emu::start(None, Faults::default()).await;
    // Created at start, as the --state help says, empty.
    let file: Value =
        serde_json::from_slice(&std::fs::read(emu.state_path()).expect("created")).expect("JSON");
    assert_eq!(file["phones"], json!({}));
    emu.options.auto_create_phones = true;
    let emu = emu.restart().await;
    let reply = emu.block(&["8613300000001"]).await;
    // A new phone has no recent contacts: the 24-hour rule refuses.
    assert_eq!(
        codes(&reply, "failed_users"),
        [("8613300000001".into(), 131047)]
    );
    let file: Value =
        serde_json::from_slice(&std::fs::read(emu.state_path()).expect("created")).expect("JSON");
    assert_eq!(file["phones"][PHONE]["appkey"], APPKEY);
}

#[tokio::test]
async fn the_24_hour_rule_and_self_blocks_fail_per_user() {
    let emu = Emu::start(Some(one_phone(&[])), Faults::default()).await;
    let reply = emu
        .block(&[RECENT[0], "8613399999999", PHONE, "86133", "+8613300000002"])
        .await;
    assert_eq!(
        reply["code"], 0,
        "a partial failure is still a success envelope"
    );
    assert_eq!(
        codes(&reply, "failed_users"),
        [
            ("8613399999999".into(), 131047),
            (PHONE.into(), 131021),
            ("86133".into(), 131009),
            ("+8613300000002".into(), 131009),
        ]
    );
    let failed = &reply["data"]["block_users"]["failed_users"][0]["errors"][0];
    assert_eq!(failed["message"], "Re-engagement check failed");
    assert_eq!(
        failed["error_data"]["details"],
        "Failed to block due to re-engagement check failed"
    );
    assert_eq!(codes(&reply, "added_users"), [(RECENT[0].into(), 0)]);
    assert_eq!(emu.blocked().await, json!([RECENT[0]]));
}

#[tokio::test]
async fn mexican_numbers_get_their_521_wa_id() {
    let emu = Emu::start(Some(one_phone(&[])), Faults::default()).await;
    let reply = emu.block(&["525512345678"]).await;
    let added = &reply["data"]["block_users"]["added_users"][0];
    assert_eq!(
        *added,
        json!({"input": "525512345678", "wa_id": "5215512345678"})
    );
    // The other spelling is the same user: no second entry.
    emu.block(&["5215512345678"]).await;
    assert_eq!(emu.blocked().await, json!(["5215512345678"]));
    emu.unblock(&["525512345678"]).await;
    assert_eq!(emu.blocked().await, json!([]));
}

#[tokio::test]
async fn header_and_body_checks_answer_their_codes() {
    let emu = Emu::start(Some(one_phone(&[])), Faults::default()).await;
    let good = || Req::new(LIST, &body(json!({})));
    let code = |reply: Reply| {
        assert_eq!(reply.status, 200);
        let json = reply.json();
        assert_eq!(json["data"], Value::Null);
        (
            json["code"].as_i64().unwrap_or(0),
            json["message"].to_string(),
        )
    };

    for header in ["accessKey", "ts", "bizType", "action", "sign"] {
        let (c, message) = code(
            emu.send(Req {
                omit: Some(header),
                ..good()
            })
            .await,
        );
        assert_eq!(c, 1001);
        assert!(message.contains(header), "{message}");
    }
    let wrong_biz = Req {
        biz_type: "1".into(),
        ..good()
    };
    assert_eq!(code(emu.send(wrong_biz).await).0, 1002);
    let wrong_action = Req {
        action: "send".into(),
        ..good()
    };
    assert_eq!(code(emu.send(wrong_action).await).0, 1002);
    let old = (now_ms() - 61_000).to_string();
    assert_eq!(code(emu.send(Req { ts: old, ..good() }).await).0, 1004);
    let seconds = (now_ms() / 1000).to_string();
    assert_eq!(
        code(
            emu.send(Req {
                ts: seconds,
                ..good()
            })
            .await
        )
        .0,
        1004
    );
    let stranger = Req {
        access_key: "someone-else".into(),
        ..good()
    };
    assert_eq!(code(emu.send(stranger).await).0, 1005);
    let (c, message) = code(
        emu.send(Req {
            secret: "wrong".into(),
            ..good()
        })
        .await,
    );
    assert_eq!(c, 1003);
    assert!(!message.contains(SECRET));

    // The same JSON with other whitespace is other bytes: the signature fails.
    let mut respaced = good();
    respaced.sign_over = Some(respaced.body.clone());
    respaced.body = serde_json::to_vec_pretty(&body(json!({}))).expect("JSON");
    assert_eq!(code(emu.send(respaced).await).0, 1003);

    for (field, bad) in [
        ("appkey", json!(null)),
        ("business_phone", json!(8615800001795u64)),
        ("messaging_product", json!("sms")),
    ] {
        let mut b = body(json!({}));
        b[field] = bad;
        let (c, message) = code(emu.send(Req::new(LIST, &b)).await);
        assert_eq!(c, 1002);
        assert!(message.contains(field), "{message}");
    }
    let empty = body(json!({"block_users": []}));
    assert_eq!(code(emu.send(Req::new(BLOCK, &empty)).await).0, 1002);

    let mut unknown = body(json!({}));
    unknown["business_phone"] = json!("8615899999999");
    assert_eq!(code(emu.send(Req::new(LIST, &unknown)).await).0, 10003);
    let mut other_app = body(json!({}));
    other_app["appkey"] = json!("another-app");
    assert_eq!(code(emu.send(Req::new(LIST, &other_app)).await).0, 9006);
}

#[tokio::test]
async fn more_than_1000_users_are_refused_whole() {
    let emu = Emu::start(Some(one_phone(&[])), Faults::default()).await;
    let many: Vec<String> = (0..1001).map(|i| format!("86133{i:08}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let reply = emu.block(&many).await;
    assert_eq!(reply["code"], 9099);
    assert_eq!(
        reply["message"],
        "(#130429) Too many users in one request (at most 1000)"
    );
    let reply = emu.block(&many[..1000]).await;
    assert_eq!(reply["code"], 0);
}

#[tokio::test]
async fn the_64000_limit_refuses_the_whole_call() {
    let blocked: Vec<String> = (0..63_999).map(|i| format!("86150{i:08}")).collect();
    let mut state = one_phone(&[]);
    state["phones"][PHONE]["blocked"] = json!(blocked);
    let emu = Emu::start(Some(state), Faults::default()).await;

    let reply = emu.block(&[RECENT[0], RECENT[1], &blocked[5]]).await;
    assert_eq!(reply["code"], 9099);
    assert_eq!(reply["message"], "(#139101) Blocklist limit reached");
    // One more fits exactly; re-blocking an entry adds nothing and still fits.
    let reply = emu.block(&[RECENT[0], RECENT[0]]).await;
    assert_eq!(reply["code"], 0, "{reply}");
    let reply = emu.block(&[RECENT[1]]).await;
    assert_eq!(reply["code"], 9099);
    assert_eq!(emu.blocked().await.as_array().map(Vec::len), Some(64_000));
}

#[tokio::test]
async fn a_broken_state_file_stops_start_with_its_name_and_position() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("broken.json");
    let options = |path: &std::path::Path| Options {
        state_path: path.to_path_buf(),
        nxcloud: Some(NxCloudKeys {
            access_key: KEY.into(),
            access_secret: SECRET.into(),
        }),
        cloud_api: Default::default(),
        waha_api_key: None,
        faults: Faults::default(),
        auto_create_phones: false,
    };
    let addr = "127.0.0.1:0".parse().expect("addr");
    for (text, expect) in [
        (
            "{\"phones\": {\n  \"8615800001795\": {\"appkey\": 1}}}",
            "line 2 column",
        ),
        ("{\"phones\": {}, \"phonse\": {}}", "unknown field `phonse`"),
        (
            "{\"phones\": {\"86158\": {\"appkey\": \"a\"}}}",
            "8 to 15 digits",
        ),
        (
            "{\"phones\": {\"8615800001795\": {\"blocked\": []}}}",
            "neither appkey (NxCloud) nor phone_number_id",
        ),
        (
            "{\"phones\": {\"8615800001795\": {\"phone_number_id\": \"12a\"}}}",
            "\"12a\" is not a string of digits",
        ),
        (
            "{\"phones\": {\"8615800001795\": {\"phone_number_id\": \"1\"}, \"8615800001796\": {\"phone_number_id\": \"1\"}}}",
            "phone_number_id 1 is given to more than one phone",
        ),
        (
            "{\"waha\": {\"default\": {\"blocked\": [\"123\"]}}}",
            "WAHA session \"default\": blocked entry \"123\" is not 8 to 15 digits",
        ),
        (
            "{\"waha\": {\"default\": {\"engine\": \"WEBJS\"}}}",
            "unknown field `engine`",
        ),
    ] {
        std::fs::write(&path, text).expect("write");
        let Err(e) = start(addr, options(&path)).await else {
            panic!("{text} was accepted");
        };
        let message = format!("{e:#}");
        assert!(message.contains("broken.json"), "{message}");
        assert!(message.contains(expect), "{message}");
    }
}
