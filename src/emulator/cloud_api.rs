//! Meta's WhatsApp Cloud API block-users routes (docs/platforms.md, Cloud API), and the
//! Meta-shaped resellers' variant (docs/platforms.md, Meta-shaped resellers): the same bodies and results behind
//! another auth header, and one phone per key at the bare `/block_users`.
//!
//! Graph answers errors with an HTTP status and `{"error": {...}}`. A partial
//! failure is HTTP 400 carrying both the per-user results and error 139100,
//! which is why a client must parse a 400 instead of giving up on it. The
//! block-list rules themselves live in `phone.rs`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::graph::GraphError;
use super::phone::{Change, Named, PageError, named_users, page_size};
use super::server::Shared;
use super::state::Store;
use super::{ListShape, Paging};
use crate::provider::sign::signatures_match;

const VERSIONED: &str = "/{version}/{phone_number_id}/block_users";
/// 360dialog's path: the API key names the phone, so the URL does not.
const RESELLER: &str = "/block_users";
const USAGE_HEADER: &str = "x-business-use-case-usage";
const DEFAULT_USAGE_PERCENT: u8 = 5;

type QueryMap = Result<Query<HashMap<String, String>>, QueryRejection>;

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(VERSIONED, get(versioned).post(versioned).delete(versioned))
        .route(RESELLER, get(reseller).post(reseller).delete(reseller))
}

/// `/{version}/{phone_number_id}/block_users`.
async fn versioned(
    State(s): State<Arc<Shared>>,
    method: Method,
    Path((version, id)): Path<(String, String)>,
    headers: HeaderMap,
    query: QueryMap,
    body: Bytes,
) -> Response {
    let path = format!("/{version}/{id}/block_users");
    let reply = match check_version(&version) {
        Ok(()) => serve(&s, &method, &headers, Some(&id), &path, query, &body).await,
        // Still 401 first: Graph checks the token before the path.
        Err(e) => authenticate(&s, &headers).and(Err(e)),
    };
    respond(&method, &path, reply)
}

/// `/block_users`: the reseller's single configured phone.
async fn reseller(
    State(s): State<Arc<Shared>>,
    method: Method,
    headers: HeaderMap,
    query: QueryMap,
    body: Bytes,
) -> Response {
    let id = s.options.cloud_api.reseller_phone_id.clone();
    let reply = serve(&s, &method, &headers, id.as_deref(), RESELLER, query, &body).await;
    respond(&method, RESELLER, reply)
}

fn respond(method: &Method, path: &str, reply: Result<Response, GraphError>) -> Response {
    let reply = reply.unwrap_or_else(IntoResponse::into_response);
    crate::debug!("emulator: {method} {path} -> HTTP {}", reply.status());
    reply
}

/// A Graph version segment: `v` then `major.minor`, e.g. `v25.0`.
fn check_version(version: &str) -> Result<(), GraphError> {
    let numbers = version.strip_prefix('v').and_then(|v| v.split_once('.'));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match numbers {
        Some((major, minor)) if digits(major) && digits(minor) => Ok(()),
        _ => Err(GraphError::new(
            StatusCode::BAD_REQUEST,
            2500,
            format!("Unknown path components: /{version} is not a Graph API version (vNN.N)"),
        )),
    }
}

async fn serve(
    s: &Shared,
    method: &Method,
    headers: &HeaderMap,
    id: Option<&str>,
    path: &str,
    query: QueryMap,
    body: &[u8],
) -> Result<Response, GraphError> {
    authenticate(s, headers)?;
    let Some(id) = id else {
        return Err(GraphError::new(
            StatusCode::NOT_FOUND,
            100,
            "(#100) /block_users is not served: the emulator has no reseller phone (--cloud-api-reseller-phone-id)",
        ));
    };
    match *method {
        Method::GET => list(s, id, path, query).await,
        Method::POST => change(s, method, id, body, Change::Block).await,
        // The router sends only GET, POST and DELETE here.
        _ => change(s, method, id, body, Change::Unblock).await,
    }
}

/// The token is `Authorization: Bearer …`, or the raw value of the reseller
/// header when one is configured (docs/platforms.md, Meta-shaped resellers). No token configured
/// means no request can pass.
fn authenticate(s: &Shared, headers: &HeaderMap) -> Result<(), GraphError> {
    let options = &s.options.cloud_api;
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let sent = match &options.auth_header {
        Some(name) => text(name),
        None => text(header::AUTHORIZATION.as_str())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("Bearer"))
            .map(|(_, token)| token.trim()),
    };
    match (&options.token, sent) {
        (Some(token), Some(sent)) if signatures_match(token, sent) => Ok(()),
        _ => Err(GraphError::new(
            StatusCode::UNAUTHORIZED,
            190,
            "Invalid OAuth access token.",
        )),
    }
}

/// With `--auto-create-phones`, register an unknown `id` (see
/// [`Store::create_phone_for_id`]); whether it was, so the caller saves.
async fn auto_create(s: &Shared, store: &mut Store, id: &str) -> Result<bool, GraphError> {
    if !s.options.auto_create_phones || store.phone_by_id(id).is_some() {
        return Ok(false);
    }
    Ok(store.create_phone_for_id(id))
}

/// The phone behind `id` and its number, or Graph's "no such object".
fn lookup<'a>(
    store: &'a mut Store,
    id: &str,
    method: &Method,
) -> Result<(&'a str, &'a mut super::phone::Phone), GraphError> {
    store.phone_by_id(id).ok_or_else(|| GraphError {
        kind: "GraphMethodException",
        subcode: Some(33),
        ..GraphError::new(
            StatusCode::BAD_REQUEST,
            100,
            format!(
                "Unsupported {} request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation{}",
                method.as_str().to_lowercase(),
                super::UNKNOWN_HINT
            ),
        )
    })
}

async fn change(
    s: &Shared,
    method: &Method,
    id: &str,
    body: &[u8],
    op: Change,
) -> Result<Response, GraphError> {
    let users = block_users(body)?;
    let mut store = s.store.lock().await;
    let created = auto_create(s, &mut store, id).await?;
    let (number, phone) = lookup(&mut store, id, method)?;
    let batch = match op {
        Change::Block => phone.block(number, &users)?,
        Change::Unblock => phone.unblock(&users)?,
    };
    if batch.changed || created {
        persist(&store).await?;
    }
    let failed = batch.failed.len();
    let mut reply = batch.into_json(op, s.options.faults.failed_code_style);
    if failed == 0 {
        return Ok(Json(reply).into_response());
    }
    // Partial failure: HTTP 400 with the results *and* 139100 (docs/platforms.md, Cloud API).
    let verb = match op {
        Change::Block => "block",
        Change::Unblock => "unblock",
    };
    let error = GraphError {
        details: Some(format!(
            "Failed to {verb} {failed} of {} users; see block_users.failed_users",
            users.len()
        )),
        ..GraphError::new(
            StatusCode::BAD_REQUEST,
            139100,
            "(#139100) Failed to block/unblock some users",
        )
    };
    reply["error"] = error.to_json();
    Ok((StatusCode::BAD_REQUEST, Json(reply)).into_response())
}

/// `{"messaging_product": "whatsapp", "block_users": [{"user": "…"} or {"user_id": "…"}]}`.
fn block_users(body: &[u8]) -> Result<Vec<Named>, GraphError> {
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(body) else {
        return Err(GraphError::param("The request body must be a JSON object"));
    };
    if fields.get("messaging_product") != Some(&json!("whatsapp")) {
        return Err(GraphError::param(
            "The parameter messaging_product is required and must be \"whatsapp\"",
        ));
    }
    let Some(Value::Array(items)) = fields.get("block_users") else {
        return Err(GraphError::param(
            "The parameter block_users is required: a list of {\"user\": \"<digits>\"} or {\"user_id\": \"<BSUID>\"}",
        ));
    };
    if items.is_empty() {
        return Err(GraphError::param("Param block_users must not be empty"));
    }
    named_users(items).map_err(GraphError::param)
}

async fn list(s: &Shared, id: &str, path: &str, query: QueryMap) -> Result<Response, GraphError> {
    let Query(query) = query.map_err(|e| GraphError::param(e.body_text()))?;
    let asked = match query.get("limit") {
        None => None,
        Some(text) => match text.parse::<u64>() {
            Ok(n) if n > 0 => Some(usize::try_from(n).unwrap_or(usize::MAX)),
            _ => return Err(GraphError::param("Param limit must be a positive integer")),
        },
    };
    let limit = page_size(asked, s.options.faults.max_page_size);
    let cursor = |name: &str| {
        query
            .get(name)
            .map(String::as_str)
            .filter(|c| !c.is_empty())
    };
    let mut store = s.store.lock().await;
    if auto_create(s, &mut store, id).await? {
        persist(&store).await?;
    }
    let (_, phone) = lookup(&mut store, id, &Method::GET)?;
    let page = phone
        .page(cursor("after"), cursor("before"), limit)
        .map_err(|e| match e {
            PageError::BadCursor => {
                GraphError::param("Invalid cursor: not one this list handed out")
            }
            PageError::Stale(meta) => meta.into(),
        })?;
    let data: Vec<Value> = page
        .items
        .iter()
        .map(|listed| match s.options.cloud_api.list_shape {
            ListShape::Graph => listed.to_json(),
            // The reseller shape echoes what was sent as `input`.
            ListShape::BlockUsers => {
                let mut item = json!({"input": listed.wa_id.as_ref().or(listed.user_id.as_ref())});
                if let Some(wa_id) = &listed.wa_id {
                    item["wa_id"] = json!(wa_id);
                }
                if let Some(user_id) = &listed.user_id {
                    item["user_id"] = json!(user_id);
                }
                json!({ "block_users": [item] })
            }
        })
        .collect();
    let mut reply = json!({ "data": data });
    if let (Some(before), Some(after)) = (page.before, page.after) {
        let mut paging = json!({"cursors": {"before": before, "after": after}});
        // Graph's rule: `next` is present while more remain (docs/platforms.md, NxCloud).
        if page.more && s.options.faults.paging == Paging::Next {
            paging["next"] = json!(format!(
                "http://{}{path}?limit={limit}&after={after}",
                s.addr
            ));
        }
        reply["paging"] = paging;
    }
    s.page_served(phone);
    Ok(Json(reply).into_response())
}

async fn persist(store: &Store) -> Result<(), GraphError> {
    store.persist().await.map_err(|e| {
        // The change stands in memory and the next save writes it; the
        // client sees Meta's retryable internal error.
        eprintln!("emulator: {e:#}");
        GraphError {
            transient: true,
            ..GraphError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                139103,
                "(#139103) Internal error: the emulator could not save its state",
            )
        }
    })
}

/// Middleware: every reply, faulted ones included, reports the configured
/// usage for the phone it concerns, so clients can practise slowing down
/// before Meta throttles them (docs/platforms.md, Cloud API).
pub async fn usage(State(s): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let id = match request.uri().path() {
        RESELLER => s.options.cloud_api.reseller_phone_id.clone(),
        // "/v25.0/<id>/block_users"
        path => path.split('/').nth(2).map(str::to_string),
    };
    let mut reply = next.run(request).await;
    let percent = s
        .options
        .faults
        .usage_percent
        .unwrap_or(DEFAULT_USAGE_PERCENT);
    if let Some(id) = id {
        let usage = json!({ id: [{
            "type": "whatsapp_business_management",
            "call_count": percent,
            "total_cputime": percent,
            "total_time": percent,
            "estimated_time_to_regain_access": 0,
        }]});
        if let Ok(value) = HeaderValue::from_str(&usage.to_string()) {
            reply.headers_mut().insert(USAGE_HEADER, value);
        }
    }
    reply
}
