//! The emulator over real HTTP: a temp state file, a loopback port, and
//! requests signed the way the client signs them.

mod bsuid;
mod cloud_api;
mod cloud_api_list;
mod faults;
mod nxcloud;
mod paging;
mod waha;

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::{CloudApiOptions, Faults, NxCloudKeys, Options, Running, start};
use crate::provider::sign::{SignedHeaders, sign};

pub const KEY: &str = "test-access-key";
pub const SECRET: &str = "test-access-secret";
pub const APPKEY: &str = "app-under-test";
pub const PHONE: &str = "8615800001795";
/// The Cloud API token and WAHA key every test emulator accepts.
pub const TOKEN: &str = "test-cloud-api-token";
pub const WAHA_KEY: &str = "test-waha-key";
/// Users who messaged [`PHONE`] recently, so they can be blocked.
pub const RECENT: [&str; 6] = [
    "8613300000001",
    "8613300000002",
    "8613300000003",
    "8613300000004",
    "8613300000005",
    "525512345678",
];

pub const BLOCK: &str = "/api/wa/createBlockUsers";
pub const UNBLOCK: &str = "/api/wa/deleteBlockUsers";
pub const LIST: &str = "/api/wa/getBlockUsers";

/// [`PHONE`] with nothing blocked and [`RECENT`] as its recent contacts.
pub fn one_phone(blocked: &[&str]) -> Value {
    json!({"phones": {PHONE: {"appkey": APPKEY, "blocked": blocked, "recent_contacts": RECENT}}})
}

pub struct Emu {
    /// Keeps the state file's directory alive for the test.
    pub dir: tempfile::TempDir,
    pub options: Options,
    pub running: Running,
    client: reqwest::Client,
}

pub struct Reply {
    pub status: u16,
    pub retry_after: Option<String>,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Reply {
    async fn read(response: reqwest::Response) -> Reply {
        let headers = response.headers().clone();
        Reply {
            status: response.status().as_u16(),
            retry_after: headers
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            headers,
            text: response.text().await.expect("body read"),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text))
    }
}

/// One signed request; tests spoil one part of it to provoke an error.
pub struct Req {
    pub path: &'static str,
    pub body: Vec<u8>,
    pub access_key: String,
    pub secret: String,
    pub ts: String,
    pub biz_type: String,
    pub action: String,
    pub omit: Option<&'static str>,
    /// Sign these bytes instead of the body sent.
    pub sign_over: Option<Vec<u8>>,
}

impl Req {
    pub fn new(path: &'static str, body: &Value) -> Req {
        Req {
            path,
            body: serde_json::to_vec(body).expect("JSON values serialise"),
            access_key: KEY.into(),
            secret: SECRET.into(),
            ts: now_ms().to_string(),
            biz_type: "2".into(),
            action: "mt".into(),
            omit: None,
            sign_over: None,
        }
    }
}

pub fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis()
}

/// The common body for [`PHONE`], plus `extra` fields.
pub fn body(extra: Value) -> Value {
    let mut body =
        json!({"appkey": APPKEY, "business_phone": PHONE, "messaging_product": "whatsapp"});
    if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
        body.extend(extra);
    }
    body
}

pub fn users(users: &[&str]) -> Value {
    let list: Vec<Value> = users.iter().map(|u| json!({"user": u})).collect();
    json!({ "block_users": list })
}

impl Emu {
    /// Start with `state` written to the state file (`None`: no file).
    pub async fn start(state: Option<Value>, faults: Faults) -> Emu {
        Emu::start_with(state, faults, |_| {}).await
    }

    /// [`Emu::start`], with the options adjusted by `tweak` first.
    pub async fn start_with(
        state: Option<Value>,
        faults: Faults,
        tweak: impl FnOnce(&mut Options),
    ) -> Emu {
        let dir = tempfile::tempdir().expect("temp dir");
        let state_path = dir.path().join("state.json");
        if let Some(state) = state {
            std::fs::write(&state_path, state.to_string()).expect("write state");
        }
        let options = Options {
            state_path,
            nxcloud: Some(NxCloudKeys {
                access_key: KEY.into(),
                access_secret: SECRET.into(),
            }),
            cloud_api: CloudApiOptions {
                token: Some(TOKEN.into()),
                ..CloudApiOptions::default()
            },
            waha_api_key: Some(WAHA_KEY.into()),
            faults,
            auto_create_phones: false,
        };
        let mut options = options;
        tweak(&mut options);
        Emu::with_options(dir, options).await
    }

    pub async fn with_options(dir: tempfile::TempDir, options: Options) -> Emu {
        let running = start("127.0.0.1:0".parse().expect("addr"), options.clone())
            .await
            .expect("emulator starts");
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client");
        Emu {
            dir,
            options,
            running,
            client,
        }
    }

    /// Stop and start again on the same state file.
    pub async fn restart(self) -> Emu {
        let Emu {
            dir,
            options,
            running,
            ..
        } = self;
        // Stopped first: a stopping emulator writes its last changes.
        drop(running);
        Emu::with_options(dir, options).await
    }

    /// The state file, once it holds every change made so far.
    pub fn state_path(&self) -> PathBuf {
        self.running.flush_state();
        self.options.state_path.clone()
    }

    pub async fn send(&self, req: Req) -> Reply {
        let signed = SignedHeaders {
            access_key: &req.access_key,
            ts: &req.ts,
            biz_type: &req.biz_type,
            action: &req.action,
        };
        let signed_body = req.sign_over.as_deref().unwrap_or(&req.body);
        let signature = sign(signed, Some(signed_body), &req.secret);
        let headers = [
            ("accessKey", req.access_key.as_str()),
            ("ts", req.ts.as_str()),
            ("bizType", req.biz_type.as_str()),
            ("action", req.action.as_str()),
            ("sign", signature.as_str()),
        ];
        let mut http = self
            .client
            .post(format!("{}{}", self.running.base_url(), req.path))
            .header("Content-Type", "application/json");
        for (name, value) in headers {
            if req.omit != Some(name) {
                http = http.header(name, value);
            }
        }
        let response = http.body(req.body).send().await.expect("request sent");
        Reply::read(response).await
    }

    /// Any request, for the routes that are not NxCloud's: `url` is a path
    /// on the emulator or a whole URL it handed out (`paging.next`).
    pub async fn http(
        &self,
        method: reqwest::Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Reply {
        let url = if url.starts_with("http://") {
            url.to_string()
        } else {
            format!("{}{url}", self.running.base_url())
        };
        let mut http = self.client.request(method, url);
        for (name, value) in headers {
            http = http.header(*name, *value);
        }
        if let Some(body) = body {
            http = http
                .header("Content-Type", "application/json")
                .body(serde_json::to_vec(body).expect("JSON values serialise"));
        }
        Reply::read(http.send().await.expect("request sent")).await
    }

    /// A signed call expected to answer HTTP 200 with JSON.
    pub async fn call(&self, path: &'static str, body: Value) -> Value {
        let reply = self.send(Req::new(path, &body)).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.json()
    }

    pub async fn block(&self, who: &[&str]) -> Value {
        self.call(BLOCK, body(users(who))).await
    }

    pub async fn unblock(&self, who: &[&str]) -> Value {
        self.call(UNBLOCK, body(users(who))).await
    }

    pub async fn list(&self, extra: Value) -> Value {
        self.call(LIST, body(extra)).await
    }

    /// Every wa_id, paging with `limit` until the listing ends.
    pub async fn list_all(&self, limit: u64) -> Vec<String> {
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self.list(json!({"limit": limit, "after": after})).await;
            assert_eq!(page["code"], 0, "{page}");
            let items = page["data"]["data"].as_array().expect("data.data");
            all.extend(
                items
                    .iter()
                    .map(|i| i["wa_id"].as_str().unwrap_or("").to_string()),
            );
            match page["data"]["paging"]["cursors"]["after"].as_str() {
                Some(next) if !items.is_empty() => after = Some(next.to_string()),
                _ => return all,
            }
        }
    }

    /// `GET` an admin route.
    pub async fn admin(&self, route: &str) -> Value {
        let url = format!("{}{route}", self.running.base_url());
        let response = self.client.get(url).send().await.expect("admin request");
        assert_eq!(response.status().as_u16(), 200);
        serde_json::from_str(&response.text().await.expect("admin body")).expect("admin JSON")
    }

    /// The blocked list of [`PHONE`] as the emulator holds it.
    pub async fn blocked(&self) -> Value {
        self.admin("/_emulator/state").await["phones"][PHONE]["blocked"].clone()
    }
}
