//! NxCloud's block-users routes (docs/platforms.md, NxCloud): signed headers, the
//! `{"code","message","data"}` envelope on HTTP 200, and Meta's results
//! inside it. The block-list rules themselves live in `phone.rs`.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Map, Value, json};

use super::phone::{
    Change, MetaError, Named, PageError, Phone, is_valid_number, named_users, page_size,
};
use super::server::Shared;
use super::state::Store;
use super::{NxCloudKeys, Paging};
use crate::provider::sign::{SignedHeaders, sign, signatures_match};

const BLOCK: &str = "/api/wa/createBlockUsers";
const UNBLOCK: &str = "/api/wa/deleteBlockUsers";
const LIST: &str = "/api/wa/getBlockUsers";

/// The server accepts `ts` within this many milliseconds of its clock.
const TS_WINDOW_MS: i128 = 60_000;

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(BLOCK, post(block))
        .route(UNBLOCK, post(unblock))
        .route(LIST, post(list))
}

/// An envelope with a non-zero code.
struct NxError {
    code: i64,
    message: String,
    /// NxCloud answers its codes with HTTP 200; only the emulator's own
    /// "no credentials configured" refusal says 401.
    status: StatusCode,
}

impl NxError {
    fn new(code: i64, message: impl Into<String>) -> NxError {
        NxError {
            code,
            message: message.into(),
            status: StatusCode::OK,
        }
    }
}

/// NxCloud passes Meta's own errors through as 9099, message `(#code) …`.
impl From<MetaError> for NxError {
    fn from(e: MetaError) -> NxError {
        NxError::new(9099, format!("(#{}) {}", e.code, e.message))
    }
}

fn envelope(route: &str, result: Result<Value, NxError>) -> Response {
    let (status, code, message, data) = match result {
        Ok(data) => (StatusCode::OK, 0, "请求成功".to_string(), data),
        Err(e) => (e.status, e.code, e.message, Value::Null),
    };
    crate::debug!("emulator: POST {route} -> code {code}");
    let body = json!({"code": code, "message": message, "data": data});
    (status, axum::Json(body)).into_response()
}

async fn block(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    envelope(BLOCK, change(&s, &headers, &body, Change::Block).await)
}

async fn unblock(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    envelope(UNBLOCK, change(&s, &headers, &body, Change::Unblock).await)
}

async fn list(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    envelope(LIST, list_page(&s, &headers, &body).await)
}

async fn change(
    s: &Shared,
    headers: &HeaderMap,
    body: &[u8],
    op: Change,
) -> Result<Value, NxError> {
    let req = Body::parse(s, headers, body)?;
    let users = block_users(&req.fields, s.options.faults.nxcloud_refuses_user_id)?;
    let mut store = s.store.lock().await;
    let (phone, created) = phone(&mut store, &req, s.options.auto_create_phones)?;
    let batch = match op {
        Change::Block => phone.block(&req.business_phone, &users)?,
        Change::Unblock => phone.unblock(&users)?,
    };
    if batch.changed || created {
        persist(&store).await?;
    }
    Ok(batch.into_json(op, s.options.faults.failed_code_style))
}

async fn list_page(s: &Shared, headers: &HeaderMap, body: &[u8]) -> Result<Value, NxError> {
    let req = Body::parse(s, headers, body)?;
    let limit = page_limit(&req.fields, s.options.faults.max_page_size)?;
    let after = cursor_field(&req.fields, "after")?;
    let before = cursor_field(&req.fields, "before")?;
    let mut store = s.store.lock().await;
    let (phone, created) = phone(&mut store, &req, s.options.auto_create_phones)?;
    let page = phone.page(after, before, limit).map_err(|e| match e {
        PageError::BadCursor => NxError::new(1002, "invalid paging cursor"),
        PageError::Stale(meta) => meta.into(),
    })?;
    let data: Vec<Value> = page.items.iter().map(|listed| listed.to_json()).collect();
    let mut reply = json!({ "data": data });
    if let (Some(before), Some(after)) = (page.before, page.after) {
        let mut paging = json!({"cursors": {"before": before, "after": after}});
        if page.more && s.options.faults.paging == Paging::Next {
            paging["next"] = json!(format!(
                "http://{}{LIST}?limit={limit}&after={after}",
                s.addr
            ));
        }
        reply["paging"] = paging;
    }
    s.page_served(phone);
    if created {
        persist(&store).await?;
    }
    Ok(reply)
}

/// A request that passed the header checks, with its common body fields.
struct Body {
    appkey: String,
    business_phone: String,
    fields: Map<String, Value>,
}

impl Body {
    /// Headers first, then the signature over the exact bytes received,
    /// then the body: the order NxCloud's error codes imply.
    fn parse(s: &Shared, headers: &HeaderMap, body: &[u8]) -> Result<Body, NxError> {
        let Some(keys) = &s.options.nxcloud else {
            return Err(NxError {
                status: StatusCode::UNAUTHORIZED,
                ..NxError::new(
                    1005,
                    "permission denied: the emulator has no NxCloud credentials (NXCLOUD_ACCESS_KEY, NXCLOUD_ACCESS_SECRET)",
                )
            });
        };
        authenticate(headers, body, keys)?;
        let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(body) else {
            return Err(NxError::new(1002, "the body must be a JSON object"));
        };
        let text = |name: &str| match fields.get(name) {
            Some(Value::String(v)) if !v.is_empty() => Ok(v.clone()),
            _ => Err(NxError::new(
                1002,
                format!("missing or invalid body field {name}"),
            )),
        };
        let appkey = text("appkey")?;
        let business_phone = text("business_phone")?;
        if text("messaging_product")? != "whatsapp" {
            return Err(NxError::new(1002, "messaging_product must be \"whatsapp\""));
        }
        Ok(Body {
            appkey,
            business_phone,
            fields,
        })
    }
}

fn authenticate(headers: &HeaderMap, body: &[u8], keys: &NxCloudKeys) -> Result<(), NxError> {
    const NAMES: [&str; 5] = ["accessKey", "ts", "bizType", "action", "sign"];
    if let Some(missing) = NAMES.iter().find(|n| !headers.contains_key(**n)) {
        return Err(NxError::new(1001, format!("missing header {missing}")));
    }
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| NxError::new(1002, format!("header {name} is not ASCII text")))
    };
    let (access_key, ts, biz_type, action) = (
        header("accessKey")?,
        header("ts")?,
        header("bizType")?,
        header("action")?,
    );
    if biz_type != "2" {
        return Err(NxError::new(1002, "bizType must be \"2\" (WhatsApp)"));
    }
    if action != "mt" {
        return Err(NxError::new(1002, "action must be \"mt\""));
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i128);
    let fresh = ts.len() == 13
        && ts.bytes().all(|b| b.is_ascii_digit())
        && ts
            .parse::<i128>()
            .is_ok_and(|t| (t - now).abs() <= TS_WINDOW_MS);
    if !fresh {
        return Err(NxError::new(
            1004,
            format!("ts must be the time in milliseconds within 60 s of the server's ({now})"),
        ));
    }
    if access_key != keys.access_key {
        return Err(NxError::new(1005, "permission denied: unknown accessKey"));
    }
    // The signature covers the body bytes as received, not a re-serialisation.
    let signed = SignedHeaders {
        access_key,
        ts,
        biz_type,
        action,
    };
    let expected = sign(
        signed,
        (!body.is_empty()).then_some(body),
        &keys.access_secret,
    );
    // Never echo either signature: that would help forge one.
    if !signatures_match(&expected, header("sign")?) {
        return Err(NxError::new(1003, "invalid signature"));
    }
    Ok(())
}

/// The request's business phone, registered (sandbox) or refused.
fn phone<'a>(
    store: &'a mut Store,
    req: &Body,
    auto_create: bool,
) -> Result<(&'a mut Phone, bool), NxError> {
    // Checked before auto-create, so garbage never lands in the state file.
    if !is_valid_number(&req.business_phone) {
        return Err(NxError::new(9002, "business_phone is not a valid number"));
    }
    let create_with = auto_create.then_some(req.appkey.as_str());
    let Some((phone, created)) = store.phone(&req.business_phone, create_with) else {
        return Err(NxError::new(
            10003,
            format!("business phone not bound to the app{}", super::UNKNOWN_HINT),
        ));
    };
    // A phone with no appkey is reachable only through the Cloud API: to
    // NxCloud it is bound to no app of this caller's (9006).
    if phone.appkey.as_deref() != Some(req.appkey.as_str()) {
        return Err(NxError::new(9006, "business phone is bound to another app"));
    }
    Ok((phone, created))
}

/// NxCloud's block pages document `{"user": "<digits>"}` only. Whether it
/// passes Meta's `user_id` through is unknown (docs/platforms.md), so the
/// emulator takes it, unless told to refuse it as a bad parameter (1002),
/// the way a server that knows only `user` would.
fn block_users(fields: &Map<String, Value>, refuse_user_id: bool) -> Result<Vec<Named>, NxError> {
    let Some(Value::Array(items)) = fields.get("block_users") else {
        return Err(NxError::new(
            1002,
            "block_users must be a list of {\"user\": \"<digits>\"}",
        ));
    };
    if items.is_empty() {
        return Err(NxError::new(1002, "block_users is empty"));
    }
    let named = named_users(items).map_err(|e| NxError::new(1002, e))?;
    if refuse_user_id && let Some(i) = named.iter().position(|n| matches!(n, Named::Bsuid(_))) {
        return Err(NxError::new(
            1002,
            format!("block_users[{i}].user must be a string"),
        ));
    }
    Ok(named)
}

/// `limit`: a positive whole number, default 100, capped at 1 000 and at
/// the emulated server's page size.
fn page_limit(fields: &Map<String, Value>, max_page_size: Option<usize>) -> Result<usize, NxError> {
    let asked = match fields.get("limit") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64() {
            Some(n) if n > 0 => Some(usize::try_from(n).unwrap_or(usize::MAX)),
            _ => return Err(NxError::new(1002, "limit must be a positive whole number")),
        },
    };
    Ok(page_size(asked, max_page_size))
}

fn cursor_field<'a>(
    fields: &'a Map<String, Value>,
    name: &str,
) -> Result<Option<&'a str>, NxError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(c)) => Ok(Some(c)),
        Some(_) => Err(NxError::new(
            1002,
            format!("{name} must be a cursor string"),
        )),
    }
}

/// An injected 503 or 429: NxCloud's "request failed" code (-1), with the
/// HTTP status doing the talking.
pub fn fault_reply(status: StatusCode) -> Response {
    let reason = status.canonical_reason().unwrap_or("fault");
    let body = json!({
        "code": -1,
        "message": format!("{} (emulated fault)", reason.to_lowercase()),
        "data": null,
    });
    (status, axum::Json(body)).into_response()
}

async fn persist(store: &Store) -> Result<(), NxError> {
    store.persist().await.map_err(|e| {
        // The change stands in memory and the next save writes it; the
        // client sees NxCloud's retryable "request failed".
        eprintln!("emulator: {e:#}");
        NxError::new(-1, "request failed: the emulator could not save its state")
    })
}
