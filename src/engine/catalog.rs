//! What we own: teams, their services, a service's page, and search, from the cache.

use crate::api::{PlatformWiring, Screen, SearchHit, ServiceDetail, ServiceRow};
use crate::domain::links::{deep_link, DeepLink};
use crate::domain::{platform_wiring, EntityRef, RelationType, DEFAULT_NAMESPACE};
use crate::{Engine, Error, Result};

impl Engine {
    /// Services of a team (`checkout`, `group:checkout`, or a cache key), or all services.
    pub async fn services(&self, team: Option<&str>) -> Result<Vec<ServiceRow>> {
        let Some(team) = team else {
            return Ok(self.store.all_services().await?);
        };
        let key = self.team_key(team).await?;
        Ok(self.store.services_of(&key).await?)
    }

    /// The screen an `opsdeck://` link opens (`service/NAME`, `incident/ID`, `team/NAME`), once
    /// the cache holds what it names.
    pub async fn resolve_link(&self, url: &str) -> Result<Screen> {
        Ok(match deep_link(url).map_err(Error::Refused)? {
            DeepLink::Service(name) => Screen::Service {
                key: self.service_key(&name).await?,
            },
            DeepLink::Team(name) => Screen::Team {
                key: self.team_key(&name).await?,
            },
            DeepLink::Incident(reference) => Screen::Incident {
                id: self.find_incident(&reference).await?.1.id,
            },
        })
    }

    /// Services whose owner is missing from the catalog.
    pub async fn orphaned_services(&self) -> Result<Vec<ServiceRow>> {
        Ok(self.store.orphaned_services().await?)
    }

    /// The service page of `name` (`checkout-api`, `component:default/checkout-api`, …).
    pub async fn service(&self, name: &str) -> Result<ServiceDetail> {
        let (key, stored) = self.service_entity(name).await?;
        let e = &stored.entity;
        let owner = match e.owner_ref() {
            Some(r) => Some(self.store.summary(&r.key()).await?),
            None => None,
        };
        let system = match e.system_ref() {
            Some(r) => Some(self.store.summary(&r.key()).await?),
            None => None,
        };
        let outgoing = self.store.related(&key, true).await?;
        let incoming = self.store.related(&key, false).await?;
        let pick = |list: &[crate::store::RelatedEntity], relation: RelationType| {
            list.iter()
                .filter(|r| r.relation == relation.as_str())
                .map(|r| r.other.clone())
                .collect::<Vec<_>>()
        };
        Ok(ServiceDetail {
            key: key.clone(),
            kind: e.kind.to_ascii_lowercase(),
            namespace: e.namespace().to_string(),
            name: e.metadata.name.clone(),
            title: e.display_name().to_string(),
            description: e.metadata.description.clone(),
            service_type: e.spec_str("type").map(Into::into),
            lifecycle: e.spec_str("lifecycle").map(Into::into),
            tier: e.tier().map(Into::into),
            owner,
            system,
            depends_on: pick(&outgoing, RelationType::DependsOn),
            dependents: pick(&incoming, RelationType::DependsOn),
            provides_apis: pick(&outgoing, RelationType::ProvidesApi),
            consumes_apis: pick(&outgoing, RelationType::ConsumesApi),
            links: e.metadata.links.clone(),
            tags: e.metadata.tags.clone(),
            platforms: platform_wiring(e)
                .into_iter()
                .map(|(platform, annotation, value)| PlatformWiring {
                    platform: platform.into(),
                    annotation: annotation.into(),
                    value,
                })
                .collect(),
            gaps: stored.gaps,
            sources: stored.sources,
        })
    }

    /// Search as you type over services, teams, people and systems, and incidents by number
    /// or title: open incidents first (what an on-call engineer looks for), resolved ones
    /// after the catalog's hits.
    pub async fn search(&self, text: &str, limit: i64) -> Result<Vec<SearchHit>> {
        let limit = limit.max(0) as usize;
        // Both at once, on connections of their own; the catalog's hits are cut to the room
        // the open incidents leave.
        let (incidents, entities) = tokio::try_join!(
            self.store.search_incidents(text, INCIDENT_HITS),
            self.store.search(text, limit as i64),
        )?;
        let (open, resolved): (Vec<_>, Vec<_>) =
            incidents.into_iter().partition(|(_, i)| i.status.is_open());
        let mut hits: Vec<SearchHit> = open.iter().map(incident_hit).collect();
        hits.truncate(limit);
        let room = limit - hits.len();
        hits.extend(entities.into_iter().take(room));
        let room = limit.saturating_sub(hits.len());
        hits.extend(resolved.iter().take(room).map(incident_hit));
        Ok(hits)
    }

    /// The cache key of the team `team` names, if the cache holds it.
    pub(crate) async fn team_key(&self, team: &str) -> Result<String> {
        let key = parse_key(team, "group")?;
        if !self.store.summary(&key).await?.exists {
            return Err(Error::NoTeam(team.to_string()));
        }
        Ok(key)
    }

    /// The cache key of the service `name` names and what the cache holds of it.
    pub(crate) async fn service_entity(
        &self,
        name: &str,
    ) -> Result<(String, crate::store::StoredEntity)> {
        let key = parse_key(name, "component")?;
        let stored = self
            .store
            .entity(&key)
            .await?
            .ok_or_else(|| no_service(name))?;
        Ok((key, stored))
    }

    /// The cache key of the service `name` names, if the cache holds it.
    pub(crate) async fn service_key(&self, name: &str) -> Result<String> {
        let key = parse_key(name, "component")?;
        if !self.store.summary(&key).await?.exists {
            return Err(no_service(name));
        }
        Ok(key)
    }
}

/// Incidents a search lists at most.
const INCIDENT_HITS: i64 = 5;

fn incident_hit((_, incident): &(String, crate::domain::oncall::Incident)) -> SearchHit {
    SearchHit {
        key: incident.id.clone(),
        kind: "incident".into(),
        name: format!("#{}", incident.number),
        title: incident.title.clone(),
        context: Some(format!(
            "{} · {} urgency",
            incident.status.as_str(),
            incident.urgency
        )),
        team: None,
    }
}

fn no_service(name: &str) -> Error {
    Error::NoService(name.to_string())
}

/// A user-typed reference turned into a cache key, with the context's default kind.
fn parse_key(text: &str, default_kind: &str) -> Result<String> {
    EntityRef::parse(text, Some(default_kind), DEFAULT_NAMESPACE)
        .map(|r| r.key())
        .map_err(|e| Error::NotFound(e.to_string()))
}
