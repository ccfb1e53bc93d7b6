//! Backstage catalog REST API: `GET /api/catalog/entities/by-query` with cursor pagination
//! and `POST /api/catalog/entities/by-refs`, as `catalog-backend.openapi.json` and the
//! recorded responses describe them.

use std::collections::{HashMap, HashSet};

use serde::Deserialize;
use serde_json::value::RawValue;

use super::http::RequestMeter;
use super::{ConnectorError, Endpoint, FailureKind, FetchProgress, Platform, Reached};
use crate::domain::{Entity, EntityRef};
use crate::text::one_line;

/// Kinds Opsdeck reads from a Backstage catalog. Locations are Backstage's own business.
pub const KINDS: [&str; 7] = [
    "component",
    "system",
    "domain",
    "api",
    "resource",
    "group",
    "user",
];

/// The fields kept in each entity; `relations` are left out since Opsdeck derives them from
/// `spec` the same way for every source.
pub const FIELDS: &str = "apiVersion,kind,metadata,spec";

/// Entities per page. Backstage caps nothing by default; 500 keeps pages near 1 MB.
pub const PAGE_SIZE: usize = 500;

/// What a listing of the catalog reads of each entity: its ref, and the etag Backstage
/// changes whenever the entity (or a relation of it) changes.
const LISTING_FIELDS: &str = "kind,metadata.namespace,metadata.name,metadata.etag";

/// Entities per page of a listing: about 150 bytes each.
const LISTING_PAGE_SIZE: usize = 2_000;

/// Stops a misbehaving server (a cursor that never ends) from looping forever.
const MAX_PAGES: usize = 10_000;

/// The query of the catalog's first page: every kind Opsdeck reads (one filter set each:
/// Backstage ORs filter sets), the fields it keeps, in name order, [`PAGE_SIZE`] a page. The
/// pages after it send their cursor instead.
pub fn catalog_query() -> Vec<(&'static str, String)> {
    query_of(FIELDS, PAGE_SIZE)
}

fn query_of(fields: &str, page_size: usize) -> Vec<(&'static str, String)> {
    let mut query: Vec<(&str, String)> = KINDS
        .iter()
        .map(|k| ("filter", format!("kind={k}")))
        .collect();
    query.extend([
        ("fields", fields.to_string()),
        ("orderField", "metadata.name,asc".to_string()),
        ("limit", page_size.to_string()),
    ]);
    query
}

/// What a sync read of the catalog.
#[derive(Debug, Default)]
pub struct CatalogRead {
    /// Entities read whole: every one when the cache held none, else those new or changed
    /// since the cache's copy.
    pub entities: Vec<Entity>,
    /// Keys of the entities listed with the etag the cache holds: as the cache holds them.
    pub unchanged: HashSet<String>,
}

/// An entity as a listing reads it.
#[derive(Deserialize)]
struct Listed {
    kind: String,
    metadata: ListedMetadata,
}

#[derive(Deserialize)]
struct ListedMetadata {
    name: String,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    etag: Option<String>,
}

/// A Backstage catalog.
#[derive(Debug, Clone)]
pub struct BackstageConnector {
    endpoint: Endpoint,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryResponse {
    // Kept raw and read straight into what each use needs: through a `Value`, every
    // entity was built twice.
    items: Vec<Box<RawValue>>,
    #[serde(default)]
    total_items: Option<f64>,
    page_info: PageInfo,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageInfo {
    next_cursor: Option<String>,
}

/// The answer of `by-refs`: an item per ref asked, in the same order, `null` where no entity
/// has the ref.
#[derive(Deserialize)]
struct BatchResponse {
    items: Vec<Option<Box<RawValue>>>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    name: String,
    message: String,
}

impl BackstageConnector {
    /// A connector reading through `endpoint`.
    pub fn new(endpoint: Endpoint) -> Self {
        Self { endpoint }
    }

    /// Reads the catalog's entities of the kinds Opsdeck uses. `held` maps the key of each
    /// entity the cache holds from this source to its etag, if it has one: when it holds
    /// none, every entity is read page by page; else a listing of refs and etags says which
    /// are new or changed, and only those are read, by ref. Any failure fails the whole
    /// fetch, so a partial catalog never replaces a whole one in the cache. Requests are
    /// counted on `meter`.
    #[tracing::instrument(skip_all, fields(source = %self.endpoint.source_name()), err)]
    pub async fn fetch_entities(
        &self,
        held: &HashMap<String, Option<String>>,
        meter: &RequestMeter,
        progress: &mut (dyn FnMut(FetchProgress) + Send),
    ) -> Result<CatalogRead, ConnectorError> {
        let mut read = CatalogRead::default();
        if held.is_empty() {
            let entities = &mut read.entities;
            self.page_through(FIELDS, PAGE_SIZE, meter, progress, |item, number| {
                entities.push(self.entity_of(item, number)?);
                Ok(())
            })
            .await?;
            return Ok(read);
        }
        let mut wanted: Vec<EntityRef> = Vec::new();
        let mut listed_keys = HashSet::new();
        let unchanged = &mut read.unchanged;
        let mut progress_state = self
            .page_through(
                LISTING_FIELDS,
                LISTING_PAGE_SIZE,
                meter,
                progress,
                |item, number| {
                    let listed = serde_json::from_str::<Listed>(item.get())
                        .ok()
                        .filter(|l| !l.kind.is_empty() && !l.metadata.name.is_empty())
                        .ok_or_else(|| {
                            self.platform().error(
                                FailureKind::Malformed,
                                format!("entity #{number} of the catalog's listing has no kind or name; nothing was replaced"),
                            )
                        })?;
                    let namespace = listed.metadata.namespace.as_deref().filter(|n| !n.is_empty());
                    let entity_ref = EntityRef::new(
                        &listed.kind,
                        namespace.unwrap_or(crate::domain::DEFAULT_NAMESPACE),
                        &listed.metadata.name,
                    );
                    let key = entity_ref.key();
                    if !listed_keys.insert(key.clone()) {
                        return Ok(());
                    }
                    match (held.get(&key), listed.metadata.etag) {
                        (Some(Some(kept)), Some(etag)) if *kept == etag => {
                            unchanged.insert(key);
                        }
                        _ => wanted.push(entity_ref),
                    }
                    Ok(())
                },
            )
            .await?;
        read.entities = self
            .read_by_refs(&wanted, meter, &mut progress_state, progress)
            .await?;
        Ok(read)
    }

    /// Pages through the catalog's entities of the kinds Opsdeck uses, `page_size` a page,
    /// reading `fields` of each, handing each to `take` with its number (from 1). Returns the
    /// progress reported last.
    async fn page_through(
        &self,
        fields: &str,
        page_size: usize,
        meter: &RequestMeter,
        progress: &mut (dyn FnMut(FetchProgress) + Send),
        mut take: impl FnMut(&RawValue, usize) -> Result<(), ConnectorError>,
    ) -> Result<FetchProgress, ConnectorError> {
        let url = self.endpoint.url("/api/catalog/entities/by-query");
        let limit = page_size.to_string();
        let first_query = query_of(fields, page_size);
        let mut cursor: Option<String> = None;
        let mut seen_cursors = HashSet::new();
        let mut progress_state = FetchProgress::default();
        loop {
            // A cursor carries the query (filters, order) but not `limit`, which must be sent
            // again; `fields` shapes each answer, so it goes with every page too.
            let query: Vec<(&str, &str)> = match &cursor {
                None => first_query.iter().map(|(k, v)| (*k, v.as_str())).collect(),
                Some(c) => vec![
                    ("cursor", c.as_str()),
                    ("limit", limit.as_str()),
                    ("fields", fields),
                ],
            };
            let page: QueryResponse = self
                .read(&url, meter, || {
                    self.endpoint.get_with_bearer(&url).query(&query)
                })
                .await?;
            for item in page.items {
                progress_state.items += 1;
                take(&item, progress_state.items)?;
            }
            progress_state.pages += 1;
            if let Some(total) = page.total_items.filter(|t| t.is_finite() && *t >= 0.0) {
                progress_state.total = Some(total as usize);
            }
            progress(progress_state);
            match page.page_info.next_cursor {
                Some(next) if !next.is_empty() => {
                    if !seen_cursors.insert(next.clone()) || progress_state.pages >= MAX_PAGES {
                        return Err(self.platform().error(
                            FailureKind::Malformed,
                            "the catalog's pagination does not end (a cursor repeated); nothing was replaced",
                        ));
                    }
                    cursor = Some(next);
                }
                _ => return Ok(progress_state),
            }
        }
    }

    /// Reads the entities `refs` name, [`PAGE_SIZE`] a request. An entity gone since it was
    /// listed is left out, as it would be from a listing now.
    async fn read_by_refs(
        &self,
        refs: &[EntityRef],
        meter: &RequestMeter,
        progress_state: &mut FetchProgress,
        progress: &mut (dyn FnMut(FetchProgress) + Send),
    ) -> Result<Vec<Entity>, ConnectorError> {
        let url = self.endpoint.url("/api/catalog/entities/by-refs");
        let fields: Vec<&str> = FIELDS.split(',').collect();
        let mut entities = Vec::with_capacity(refs.len());
        for (chunk_number, chunk) in refs.chunks(PAGE_SIZE).enumerate() {
            let asked: Vec<String> = chunk.iter().map(ToString::to_string).collect();
            let body = serde_json::json!({ "entityRefs": asked, "fields": fields });
            let answer: BatchResponse = self
                .read(&url, meter, || {
                    self.endpoint
                        .with_bearer(reqwest::Method::POST, &url)
                        .json(&body)
                })
                .await?;
            if answer.items.len() != chunk.len() {
                return Err(self.platform().error(
                    FailureKind::Malformed,
                    format!(
                        "the catalog answered {} entities for {} refs; nothing was replaced",
                        answer.items.len(),
                        chunk.len()
                    ),
                ));
            }
            for (index, (asked, item)) in chunk.iter().zip(answer.items).enumerate() {
                let Some(item) = item else { continue };
                let entity = self.entity_of(&item, chunk_number * PAGE_SIZE + index + 1)?;
                if entity.entity_ref().key() != asked.key() {
                    return Err(self.platform().error(
                        FailureKind::Malformed,
                        format!(
                            "the catalog answered {} for the ref {}; nothing was replaced",
                            one_line(&entity.entity_ref().to_string(), 200),
                            one_line(&asked.to_string(), 200)
                        ),
                    ));
                }
                entities.push(entity);
            }
            progress_state.pages += 1;
            progress(*progress_state);
        }
        Ok(entities)
    }

    /// Item `number` of an answer, as an entity.
    fn entity_of(&self, item: &RawValue, number: usize) -> Result<Entity, ConnectorError> {
        serde_json::from_str(item.get()).map_err(|e| {
            self.platform().error(
                FailureKind::Malformed,
                format!(
                    "entity #{number} of the catalog's answer does not match the entity model ({e}); nothing was replaced"
                ),
            )
        })
    }

    /// *Test connection*: one entity's page, for the size of the catalog the token sees.
    pub async fn check(&self, meter: &RequestMeter) -> Result<Reached, ConnectorError> {
        let url = self.endpoint.url("/api/catalog/entities/by-query");
        let page: QueryResponse = self
            .read(&url, meter, || {
                self.endpoint
                    .get_with_bearer(&url)
                    .query(&[("limit", "1"), ("fields", "kind")])
            })
            .await?;
        let found = match page.total_items {
            Some(total) if total.is_finite() && total >= 0.0 => {
                format!(
                    "a catalog of {} entities",
                    crate::text::grouped(total as u64)
                )
            }
            _ => "a catalog that does not say how many entities it holds".into(),
        };
        Ok(Reached {
            found,
            signed_in_as: None,
        })
    }

    async fn read<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        meter: &RequestMeter,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<T, ConnectorError> {
        self.platform()
            .get_json(self.endpoint.reader(meter), url, build)
            .await
    }

    fn platform(&self) -> Platform<'_> {
        Platform {
            endpoint: &self.endpoint,
            called: "the catalog",
            not_found:
                "no catalog API at this address; 'url' should be the Backstage backend's root",
            error_detail: |body| {
                serde_json::from_slice::<ErrorBody>(body)
                    .ok()
                    .map(|b| format!("{}: {}", b.error.name, one_line(&b.error.message, 200)))
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// A catalog listing `listed` (one page) and answering every read by ref with `answer`.
    async fn catalog_answering(listed: Value, answer: Value) -> BackstageConnector {
        let app = axum::Router::new()
            .route(
                "/api/catalog/entities/by-query",
                axum::routing::get(move || async move {
                    axum::Json(
                        serde_json::json!({"items": listed, "totalItems": 2, "pageInfo": {}}),
                    )
                }),
            )
            .route(
                "/api/catalog/entities/by-refs",
                axum::routing::post(move || async move { axum::Json(answer) }),
            );
        let url = crate::connectors::serve_on_loopback(app).await;
        BackstageConnector::new(Endpoint::new(
            crate::connectors::SourceClients::new(None).unwrap(),
            "catalog",
            &url,
            None,
            None,
            std::time::Duration::from_secs(5),
        ))
    }

    fn component(name: &str, etag: &str) -> Value {
        serde_json::json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Component",
            "metadata": {"name": name, "namespace": "default", "etag": etag}, "spec": {"owner": "t"}})
    }

    async fn read_with(connector: &BackstageConnector) -> Result<CatalogRead, ConnectorError> {
        let held: HashMap<String, Option<String>> = [
            ("component:default/kept".to_string(), Some("e1".to_string())),
            (
                "component:default/changed".to_string(),
                Some("old".to_string()),
            ),
        ]
        .into();
        connector
            .fetch_entities(&held, &RequestMeter::default(), &mut |_| {})
            .await
    }

    #[tokio::test]
    async fn reads_by_ref_what_the_listing_says_changed_and_checks_each_answer() {
        let listed = serde_json::json!([component("kept", "e1"), component("changed", "new")]);

        let read = read_with(
            &catalog_answering(
                listed.clone(),
                serde_json::json!({"items": [component("changed", "new")]}),
            )
            .await,
        )
        .await
        .unwrap();
        assert_eq!(read.entities.len(), 1);
        assert_eq!(read.entities[0].metadata.etag.as_deref(), Some("new"));
        assert_eq!(
            read.unchanged,
            HashSet::from(["component:default/kept".to_string()])
        );

        // Gone between the listing and the read: left out, as a listing now would.
        let read = read_with(
            &catalog_answering(listed.clone(), serde_json::json!({"items": [null]})).await,
        )
        .await
        .unwrap();
        assert!(read.entities.is_empty());

        for (answer, error) in [
            (serde_json::json!({"items": []}), "the catalog answered 0 entities for 1 refs"),
            (
                serde_json::json!({"items": [component("other", "x")]}),
                "the catalog answered component:default/other for the ref component:default/changed",
            ),
            (serde_json::json!({"items": [{"kind": "Component"}]}), "entity #1 of the catalog's answer does not match"),
            (serde_json::json!({"entities": []}), "is not the documented JSON"),
        ] {
            let failed = read_with(&catalog_answering(listed.clone(), answer.clone()).await)
                .await
                .unwrap_err();
            assert_eq!(failed.kind, FailureKind::Malformed, "{answer}");
            assert!(failed.message.contains(error), "{answer}: {}", failed.message);
        }

        // A listing without a name cannot be compared: the sync fails rather than guess.
        let nameless = serde_json::json!([{"kind": "Component", "metadata": {"name": ""}}]);
        let failed =
            read_with(&catalog_answering(nameless, serde_json::json!({"items": []})).await)
                .await
                .unwrap_err();
        assert!(
            failed
                .message
                .contains("entity #1 of the catalog's listing has no kind or name"),
            "{}",
            failed.message
        );
    }

    #[tokio::test]
    async fn fuzzed_pages_map_or_fail_never_panic() {
        let seeds = crate::connectors::fuzz::served(&[
            "/api/catalog/entities/by-query?limit=40",
            "/api/catalog/entities/by-query?limit=5&filter=kind=component",
        ])
        .await;
        crate::connectors::fuzz::fuzz("backstage page", &seeds, |bytes| {
            let Ok(page) = serde_json::from_slice::<QueryResponse>(bytes) else {
                return;
            };
            for item in page.items {
                if let Ok(entity) = serde_json::from_str::<Entity>(item.get()) {
                    let _ = entity.entity_ref().key();
                    let _ = crate::domain::relations_of(&entity);
                    let _ = crate::domain::alerts::selector_problem(&entity);
                    let _ = crate::domain::delivery::wiring_problem(&entity);
                    let _ = crate::domain::rollback::Executor::of_component(
                        &entity.metadata.annotations,
                    );
                }
            }
        });
    }
}
