//! The Backstage catalog API as the sandbox serves it: `GET /api/catalog/entities/by-query`,
//! `POST /api/catalog/entities/by-refs` and
//! `GET /api/catalog/entities/by-name/{kind}/{namespace}/{name}`, with the behaviour recorded
//! from a real backend (filter sets, `orderField`, `fields`, cursors that carry the query but
//! not `limit`, `null` for a ref no entity has, bearer auth and Backstage's error body).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::stable_hash;
use crate::domain::{relations_of, Entity, EntityRef, DEFAULT_NAMESPACE};

/// Page size when a request gives no `limit`, as on the recorded backend.
const DEFAULT_LIMIT: usize = 200;

/// An entity as served, with the lower-cased (path, value) pairs filters match against.
struct Served {
    body: Value,
    uid: String,
    fields: Vec<(String, String)>,
}

/// The catalog state the handlers read.
pub(super) struct CatalogApi {
    token: String,
    catalog: RwLock<Catalog>,
}

impl std::fmt::Debug for CatalogApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token.
        f.debug_struct("CatalogApi").finish_non_exhaustive()
    }
}

/// The entities as their files hold them, and as they are served.
struct Catalog {
    files: Vec<(String, Entity)>,
    served: Vec<Served>,
    /// Where each entity's key is in `served`.
    by_key: HashMap<String, usize>,
}

/// What a cursor carries: the whole query except `limit`, and where the page starts.
#[derive(Serialize, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
struct Cursor {
    filters: Vec<Vec<(String, Option<String>)>>,
    order_field: Option<(String, bool)>,
    full_text: Option<(String, Vec<String>)>,
    offset: usize,
    is_previous: bool,
}

impl CatalogApi {
    /// Serves `entities`, each with the catalog file it was read from.
    pub(super) fn new(token: String, entities: Vec<(String, Entity)>) -> Self {
        Self {
            token,
            catalog: RwLock::new(Catalog::of(entities)),
        }
    }

    /// Changes the catalog's entities as a commit to its files would: every entity is served
    /// again, with a new etag where it (or a relation of it) changed.
    pub(super) fn edit(&self, edit: impl FnOnce(&mut Vec<(String, Entity)>)) {
        let mut catalog = self.catalog.write().expect("catalog lock");
        let mut files = std::mem::take(&mut catalog.files);
        edit(&mut files);
        *catalog = Catalog::of(files);
    }

    /// The routes, under `/api/catalog`.
    pub(super) fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/api/catalog/entities/by-query", get(by_query))
            .route("/api/catalog/entities/by-refs", post(by_refs))
            .route(
                "/api/catalog/entities/by-name/{kind}/{namespace}/{name}",
                get(by_name),
            )
            .with_state(self)
    }

    /// The 401 a request without the right bearer token gets, as the real backend words it.
    fn denied(&self, headers: &HeaderMap, url: &str) -> Option<Response> {
        let header = headers.get("authorization").and_then(|v| v.to_str().ok());
        let message = match header.and_then(|h| h.strip_prefix("Bearer ")) {
            None => "Missing credentials",
            Some(token) if token != self.token => "Illegal token",
            Some(_) => return None,
        };
        Some(error(
            StatusCode::UNAUTHORIZED,
            "AuthenticationError",
            message,
            url,
        ))
    }
}

impl Catalog {
    /// Prepares `entities` for serving: uid, etag, Backstage's location annotations and both
    /// directions of every relation, ordered by uid as Backstage orders by default.
    fn of(files: Vec<(String, Entity)>) -> Self {
        let mut relations: HashMap<String, Vec<Value>> = Default::default();
        for (_, e) in &files {
            for r in relations_of(e).0 {
                relations
                    .entry(r.source.clone())
                    .or_default()
                    .push(json!({"type": r.relation.as_str(), "targetRef": r.target}));
                relations
                    .entry(r.target.clone())
                    .or_default()
                    .push(json!({"type": r.relation.inverse_str(), "targetRef": r.source}));
            }
        }
        let mut served: Vec<(String, Served)> = files
            .iter()
            .map(|(file, e)| {
                let mut e = e.clone();
                let key = e.entity_ref().key();
                let uid = uuid_like(&key);
                e.metadata.namespace = Some(e.namespace().to_string());
                // As a Backstage that reads its catalog from a GitHub repository writes them.
                e.metadata.annotations.insert(
                    "backstage.io/managed-by-location".into(),
                    format!("url:{CATALOG_REPOSITORY}/blob/main/{file}"),
                );
                e.metadata.annotations.insert(
                    "backstage.io/managed-by-origin-location".into(),
                    format!("url:{CATALOG_REPOSITORY}/blob/main/catalog-info.yaml"),
                );
                e.metadata.uid = Some(uid.clone());
                let mut body = serde_json::to_value(&e).expect("entities serialise");
                body["relations"] = Value::Array(relations.remove(&key).unwrap_or_default());
                // Backstage's etag changes whenever the entity does, its relations included.
                let etag = format!(
                    "{:016x}{:016x}",
                    stable_hash(&body.to_string()),
                    stable_hash(&key)
                );
                body["metadata"]["etag"] = Value::String(etag);
                let mut fields = Vec::new();
                flatten("", &body, &mut fields);
                for r in body["relations"].as_array().into_iter().flatten() {
                    if let (Some(t), Some(target)) = (r["type"].as_str(), r["targetRef"].as_str()) {
                        fields.push((
                            format!("relations.{}", t.to_lowercase()),
                            target.to_lowercase(),
                        ));
                    }
                }
                (key, Served { body, uid, fields })
            })
            .collect();
        served.sort_by(|(_, a), (_, b)| a.uid.cmp(&b.uid));
        let by_key = served
            .iter()
            .enumerate()
            .map(|(at, (key, _))| (key.clone(), at))
            .collect();
        Self {
            files,
            served: served.into_iter().map(|(_, e)| e).collect(),
            by_key,
        }
    }
}

async fn by_query(
    State(api): State<Arc<CatalogApi>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let raw = raw.unwrap_or_default();
    let url = format!(
        "/entities/by-query{}",
        if raw.is_empty() {
            String::new()
        } else {
            format!("?{raw}")
        }
    );
    if let Some(denied) = api.denied(&headers, &url) {
        return denied;
    }
    let params: Vec<(String, String)> = match serde_urlencoded::from_str(&raw) {
        Ok(p) => p,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "InputError",
                &format!("Invalid query: {e}"),
                &url,
            )
        }
    };
    let param = |name: &'static str| {
        params
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let limit = match param("limit").next().map(str::parse::<usize>) {
        None => DEFAULT_LIMIT,
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            return error(
                StatusCode::BAD_REQUEST,
                "InputError",
                "Invalid limit, not a number",
                &url,
            )
        }
    };
    let cursor = match param("cursor").next() {
        Some(text) => match decode_cursor(text) {
            Some(c) => c,
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "InputError",
                    "Malformed cursor, could not be parsed",
                    &url,
                )
            }
        },
        None => Cursor {
            filters: param("filter").map(parse_filter_set).collect(),
            order_field: param("orderField").next().map(parse_order),
            full_text: param("fullTextFilterTerm")
                .next()
                .filter(|t| !t.is_empty())
                .map(|term| {
                    let fields: Vec<String> = param("fullTextFilterFields")
                        .flat_map(|f| f.split(','))
                        .map(|f| f.trim().to_lowercase())
                        .filter(|f| !f.is_empty())
                        .collect();
                    let fields = if fields.is_empty() {
                        vec!["metadata.uid".to_string()]
                    } else {
                        fields
                    };
                    (term.to_lowercase(), fields)
                }),
            offset: param("offset")
                .next()
                .and_then(|o| o.parse().ok())
                .unwrap_or(0),
            is_previous: false,
        },
    };
    let fields: Vec<String> = param("fields")
        .flat_map(|f| f.split(','))
        .map(|f| f.trim().to_string())
        .filter(|f| !f.is_empty())
        .collect();

    let catalog = api.catalog.read().expect("catalog lock");
    let mut matching: Vec<&Served> = catalog
        .served
        .iter()
        .filter(|e| matches(e, &cursor))
        .collect();
    if let Some((field, ascending)) = &cursor.order_field {
        // Each entity's key looked up once, not twice a comparison: at 14,000 entities the
        // lookups made every page of a catalog take a tenth of a second.
        let mut keyed: Vec<(Option<&str>, &Served)> = matching
            .into_iter()
            .map(|e| {
                let key = e.fields.iter().find(|(k, _)| k == field);
                (key.map(|(_, v)| v.as_str()), e)
            })
            .collect();
        keyed.sort_by(|(x, a), (y, b)| {
            let order = match (x, y) {
                (Some(x), Some(y)) if *ascending => x.cmp(y),
                (Some(x), Some(y)) => y.cmp(x),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            };
            order.then_with(|| a.uid.cmp(&b.uid))
        });
        matching = keyed.into_iter().map(|(_, e)| e).collect();
    }
    let total = matching.len();
    let start = cursor.offset.min(total);
    let end = (start + limit).min(total);
    let items: Vec<Value> = matching[start..end]
        .iter()
        .map(|e| project(&e.body, &fields))
        .collect();
    let mut page_info = Map::new();
    if end < total {
        page_info.insert(
            "nextCursor".into(),
            encode_cursor(&Cursor {
                offset: end,
                is_previous: false,
                ..cursor.clone()
            })
            .into(),
        );
    }
    if start > 0 {
        let previous = Cursor {
            offset: start.saturating_sub(limit),
            is_previous: true,
            ..cursor.clone()
        };
        page_info.insert("prevCursor".into(), encode_cursor(&previous).into());
    }
    json_response(
        StatusCode::OK,
        &json!({"items": items, "totalItems": total, "pageInfo": page_info}),
    )
}

async fn by_name(
    State(api): State<Arc<CatalogApi>>,
    headers: HeaderMap,
    Path((kind, namespace, name)): Path<(String, String, String)>,
) -> Response {
    let url = format!("/entities/by-name/{kind}/{namespace}/{name}");
    if let Some(denied) = api.denied(&headers, &url) {
        return denied;
    }
    let catalog = api.catalog.read().expect("catalog lock");
    match catalog
        .by_key
        .get(&EntityRef::new(&kind, &namespace, &name).key())
        .map(|at| &catalog.served[*at])
    {
        Some(e) => json_response(StatusCode::OK, &e.body),
        None => error(
            StatusCode::NOT_FOUND,
            "NotFoundError",
            &format!(
                "No entity named '{name}' found, with kind '{kind}' in namespace '{namespace}'"
            ),
            &url,
        ),
    }
}

/// The body `POST /entities/by-refs` takes.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RefsRequest {
    entity_refs: Vec<String>,
    #[serde(default)]
    fields: Vec<String>,
}

async fn by_refs(
    State(api): State<Arc<CatalogApi>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    let url = "/entities/by-refs";
    if let Some(denied) = api.denied(&headers, url) {
        return denied;
    }
    let invalid =
        |message: String| error_of("POST", StatusCode::BAD_REQUEST, "InputError", &message, url);
    let request: RefsRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return invalid(format!("Malformed request body, {e}")),
    };
    let params: Vec<(String, String)> =
        serde_urlencoded::from_str(&raw.unwrap_or_default()).unwrap_or_default();
    // A ref is matched against the query's filter too: one that fails it answers `null`.
    let filter = Cursor {
        filters: params
            .iter()
            .filter(|(k, _)| k == "filter")
            .map(|(_, v)| parse_filter_set(v))
            .collect(),
        order_field: None,
        full_text: None,
        offset: 0,
        is_previous: false,
    };
    let catalog = api.catalog.read().expect("catalog lock");
    let mut items = Vec::with_capacity(request.entity_refs.len());
    for text in &request.entity_refs {
        let key = match EntityRef::parse(text, None, DEFAULT_NAMESPACE) {
            Ok(r) => r.key(),
            Err(e) => return invalid(e.to_string()),
        };
        items.push(
            catalog
                .by_key
                .get(&key)
                .map(|at| &catalog.served[*at])
                .filter(|e| matches(e, &filter))
                .map_or(Value::Null, |e| project(&e.body, &request.fields)),
        );
    }
    json_response(StatusCode::OK, &json!({ "items": items }))
}

fn matches(e: &Served, cursor: &Cursor) -> bool {
    let set_matches = |set: &Vec<(String, Option<String>)>| {
        set.iter().all(|(key, value)| match value {
            Some(v) => e.fields.iter().any(|(k, x)| k == key && x == v),
            None => e.fields.iter().any(|(k, _)| k == key),
        })
    };
    let filtered = cursor.filters.is_empty() || cursor.filters.iter().any(set_matches);
    let text = cursor.full_text.as_ref().is_none_or(|(term, fields)| {
        e.fields
            .iter()
            .any(|(k, v)| fields.contains(k) && v.contains(term.as_str()))
    });
    filtered && text
}

/// `kind=component,spec.owner=group:default/x` → conditions; a key alone means "has the key".
fn parse_filter_set(text: &str) -> Vec<(String, Option<String>)> {
    text.split(',')
        .filter(|c| !c.trim().is_empty())
        .map(|c| match c.split_once('=') {
            Some((k, v)) => (k.trim().to_lowercase(), Some(v.trim().to_lowercase())),
            None => (c.trim().to_lowercase(), None),
        })
        .collect()
}

/// `metadata.name,asc` → (field, ascending).
fn parse_order(text: &str) -> (String, bool) {
    let (field, direction) = text.split_once(',').unwrap_or((text, "asc"));
    (
        field.trim().to_lowercase(),
        !direction.trim().eq_ignore_ascii_case("desc"),
    )
}

/// Lower-cased (dotted path, value) pairs of every scalar, arrays contributing one pair per item.
fn flatten(prefix: &str, value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if prefix.is_empty() && k == "relations" {
                    continue; // matched as relations.<type> instead
                }
                let path = if prefix.is_empty() {
                    k.to_lowercase()
                } else {
                    format!("{prefix}.{}", k.to_lowercase())
                };
                flatten(&path, v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| flatten(prefix, v, out)),
        Value::String(s) => out.push((prefix.to_string(), s.to_lowercase())),
        Value::Null => {}
        other => out.push((prefix.to_string(), other.to_string().to_lowercase())),
    }
}

/// Keeps only the subtrees named by `fields` (dotted paths); all of the entity when empty.
fn project(body: &Value, fields: &[String]) -> Value {
    if fields.is_empty() {
        return body.clone();
    }
    let mut out = Value::Object(Map::new());
    for field in fields {
        let parts: Vec<&str> = field.split('.').collect();
        let mut source = body;
        let mut found = true;
        for part in &parts {
            match source.get(part) {
                Some(v) => source = v,
                None => {
                    found = false;
                    break;
                }
            }
        }
        if !found {
            continue;
        }
        let mut target = &mut out;
        for part in &parts[..parts.len() - 1] {
            target = target
                .as_object_mut()
                .expect("projection builds objects")
                .entry(part.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
        }
        target
            .as_object_mut()
            .expect("projection builds objects")
            .insert(parts[parts.len() - 1].to_string(), source.clone());
    }
    out
}

fn encode_cursor(cursor: &Cursor) -> String {
    base64::engine::general_purpose::STANDARD
        .encode(serde_json::to_vec(cursor).expect("cursors serialise"))
}

fn decode_cursor(text: &str) -> Option<Cursor> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [("content-type", "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

/// Backstage's error body: `{error: {name, message}, request: {method, url}, response: {statusCode}}`.
/// The error a Backstage backend answers for a failure of its own (what chaos injects).
pub(super) fn server_error(status: StatusCode, message: &str, url: &str) -> Response {
    error(status, "Error", message, url)
}

fn error(status: StatusCode, name: &str, message: &str, url: &str) -> Response {
    error_of("GET", status, name, message, url)
}

fn error_of(method: &str, status: StatusCode, name: &str, message: &str, url: &str) -> Response {
    json_response(
        status,
        &json!({
            "error": {"name": name, "message": message},
            "request": {"method": method, "url": url},
            "response": {"statusCode": status.as_u16()}
        }),
    )
}

/// A stable id shaped like the UUIDs Backstage assigns.
/// Where the demo's catalog files live, for Backstage's location annotations.
const CATALOG_REPOSITORY: &str = "https://github.com/demo-org/catalog";

fn uuid_like(key: &str) -> String {
    let a = stable_hash(key);
    let b = stable_hash(&format!("{key}#uid"));
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | ((b >> 48) & 0x3fff),
        b & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projection_keeps_named_subtrees_only() {
        let body = json!({"kind": "Component", "metadata": {"name": "a", "title": "A", "tags": ["x"]}, "spec": {"type": "service"}});
        let got = project(
            &body,
            &["kind".into(), "metadata.name".into(), "missing.path".into()],
        );
        assert_eq!(got, json!({"kind": "Component", "metadata": {"name": "a"}}));
    }

    #[test]
    fn filters_and_order_parse_like_backstage() {
        assert_eq!(
            parse_filter_set("kind=Component, spec.owner=group:default/Checkout,spec.system"),
            vec![
                ("kind".into(), Some("component".into())),
                ("spec.owner".into(), Some("group:default/checkout".into())),
                ("spec.system".into(), None)
            ]
        );
        assert_eq!(
            parse_order("metadata.name,desc"),
            ("metadata.name".into(), false)
        );
        assert_eq!(parse_order("metadata.name"), ("metadata.name".into(), true));
    }
}
