//! Backstage catalog REST API: `GET /api/catalog/entities/by-query` with cursor pagination,
//! as `catalog-backend.openapi.json` and the recorded responses describe it.

use serde::Deserialize;
use serde_json::Value;

use super::http::RequestMeter;
use super::{ConnectorError, Endpoint, FailureKind, FetchProgress, Platform, Reached};
use crate::domain::Entity;
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

/// Stops a misbehaving server (a cursor that never ends) from looping forever.
const MAX_PAGES: usize = 10_000;

/// The query of the catalog's first page: every kind Opsdeck reads (one filter set each:
/// Backstage ORs filter sets), the fields it keeps, in name order, [`PAGE_SIZE`] a page. The
/// pages after it send their cursor instead.
pub fn catalog_query() -> Vec<(&'static str, String)> {
    let mut query: Vec<(&str, String)> = KINDS
        .iter()
        .map(|k| ("filter", format!("kind={k}")))
        .collect();
    query.extend([
        ("fields", FIELDS.to_string()),
        ("orderField", "metadata.name,asc".to_string()),
        ("limit", PAGE_SIZE.to_string()),
    ]);
    query
}

/// A Backstage catalog.
#[derive(Debug, Clone)]
pub struct BackstageConnector {
    endpoint: Endpoint,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryResponse {
    items: Vec<Value>,
    #[serde(default)]
    total_items: Option<f64>,
    page_info: PageInfo,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageInfo {
    next_cursor: Option<String>,
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

    /// Reads every entity of the kinds Opsdeck uses, page by page. Any failure fails the whole
    /// fetch, so a partial catalog never replaces a whole one in the cache. Backstage's
    /// by-query has neither validators (ETag) nor a changed-since filter, so every sync reads
    /// the whole catalog; the cache then writes only what changed. Requests are counted on
    /// `meter`.
    #[tracing::instrument(skip_all, fields(source = %self.endpoint.source_name()), err)]
    pub async fn fetch_entities(
        &self,
        meter: &RequestMeter,
        progress: &mut (dyn FnMut(FetchProgress) + Send),
    ) -> Result<Vec<Entity>, ConnectorError> {
        let url = self.endpoint.url("/api/catalog/entities/by-query");
        let limit = PAGE_SIZE.to_string();
        let first_query = catalog_query();

        let mut entities = Vec::new();
        let mut cursor: Option<String> = None;
        let mut seen_cursors = std::collections::HashSet::new();
        let mut progress_state = FetchProgress::default();
        loop {
            // A cursor carries the query (filters, order) but not `limit`, which must be sent
            // again; `fields` shapes each answer, so it goes with every page too.
            let query: Vec<(&str, &str)> = match &cursor {
                None => first_query.iter().map(|(k, v)| (*k, v.as_str())).collect(),
                Some(c) => vec![
                    ("cursor", c.as_str()),
                    ("limit", limit.as_str()),
                    ("fields", FIELDS),
                ],
            };
            let page = self.get_page(&url, &query, meter).await?;
            let offset = entities.len();
            for (index, item) in page.items.into_iter().enumerate() {
                let entity: Entity = serde_json::from_value(item).map_err(|e| {
                    self.platform().error(
                        FailureKind::Malformed,
                        format!(
                            "entity #{} of the catalog's answer does not match the entity model ({e}); nothing was replaced",
                            offset + index + 1
                        ),
                    )
                })?;
                entities.push(entity);
            }
            progress_state.pages += 1;
            progress_state.items = entities.len();
            if let Some(total) = page.total_items {
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
                _ => break,
            }
        }
        Ok(entities)
    }

    /// *Test connection*: one entity's page, for the size of the catalog the token sees.
    pub async fn check(&self, meter: &RequestMeter) -> Result<Reached, ConnectorError> {
        let url = self.endpoint.url("/api/catalog/entities/by-query");
        let page = self
            .get_page(&url, &[("limit", "1"), ("fields", "kind")], meter)
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

    async fn get_page(
        &self,
        url: &str,
        query: &[(&str, &str)],
        meter: &RequestMeter,
    ) -> Result<QueryResponse, ConnectorError> {
        self.platform()
            .get_json(self.endpoint.reader(meter), url, || {
                self.endpoint.get_with_bearer(url).query(query)
            })
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
                if let Ok(entity) = serde_json::from_value::<Entity>(item) {
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
