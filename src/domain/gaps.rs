//! Ownership gaps: what a service lacks for its team to run it well. Pure rules over an
//! entity and the set of groups that exist.

use serde::{Deserialize, Serialize};

use super::entity::Entity;

/// Annotation joining a component to its PagerDuty service.
pub const PAGERDUTY_SERVICE_ID: &str = "pagerduty.com/service-id";
/// Annotation naming a component's Argo CD application.
pub const ARGOCD_APP_NAME: &str = "argocd/app-name";
/// Annotation selecting a component's Argo CD applications by label.
pub const ARGOCD_APP_SELECTOR: &str = "argocd/app-selector";
/// Annotation naming a component's GitHub repository (`owner/repo`).
pub const GITHUB_PROJECT_SLUG: &str = "github.com/project-slug";
/// Annotation with an Alertmanager matcher selecting a component's alerts.
pub const ALERT_SELECTOR: &str = "opsdeck.io/alert-selector";

/// One thing missing from a service's ownership.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ts_rs::TS,
)]
#[serde(rename_all = "kebab-case")]
#[ts(export)]
pub enum Gap {
    /// `spec.owner` is absent.
    NoOwner,
    /// `spec.owner` names a group that is not in the catalog.
    OrphanOwner,
    /// Not joined to PagerDuty: nobody can be paged for it.
    NoPagerduty,
    /// Not joined to an Argo CD application.
    NoArgocd,
    /// Not joined to a GitHub repository.
    NoGithub,
    /// No `metadata.links` entry of type `runbook`.
    NoRunbook,
}

impl Gap {
    /// Whether the gap means nobody in the catalog owns the entity.
    pub fn means_unowned(self) -> bool {
        matches!(self, Self::NoOwner | Self::OrphanOwner)
    }

    /// A short sentence for people.
    pub fn describe(self) -> &'static str {
        match self {
            Self::NoOwner => "no owner",
            Self::OrphanOwner => "owner group missing (orphan)",
            Self::NoPagerduty => "no PagerDuty service",
            Self::NoArgocd => "no Argo CD application",
            Self::NoGithub => "no GitHub repository",
            Self::NoRunbook => "no runbook link",
        }
    }
}

/// The gaps of an entity. `owner_exists` says whether the owner reference resolves to an entity
/// in the catalog. Platform and runbook gaps only apply to components (services).
pub fn ownership_gaps(entity: &Entity, owner_exists: bool) -> Vec<Gap> {
    let mut gaps = Vec::new();
    match entity.owner_ref() {
        None => gaps.push(Gap::NoOwner),
        Some(_) if !owner_exists => gaps.push(Gap::OrphanOwner),
        Some(_) => {}
    }
    if entity.is_kind("component") {
        let has = |key: &str| entity.annotation(key).is_some();
        if !has(PAGERDUTY_SERVICE_ID) {
            gaps.push(Gap::NoPagerduty);
        }
        if !has(ARGOCD_APP_NAME) && !has(ARGOCD_APP_SELECTOR) {
            gaps.push(Gap::NoArgocd);
        }
        if !has(GITHUB_PROJECT_SLUG) {
            gaps.push(Gap::NoGithub);
        }
        if !entity.metadata.links.iter().any(|l| l.is_runbook()) {
            gaps.push(Gap::NoRunbook);
        }
    }
    gaps
}

/// The platforms a component is wired to, as (platform, annotation, value), in a fixed order.
pub fn platform_wiring(entity: &Entity) -> Vec<(&'static str, &'static str, String)> {
    [
        ("PagerDuty", PAGERDUTY_SERVICE_ID),
        ("Argo CD", ARGOCD_APP_NAME),
        ("Argo CD", ARGOCD_APP_SELECTOR),
        ("GitHub", GITHUB_PROJECT_SLUG),
        ("Alertmanager", ALERT_SELECTOR),
    ]
    .into_iter()
    .filter_map(|(platform, annotation)| {
        entity
            .annotation(annotation)
            .map(|v| (platform, annotation, v.to_string()))
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn component(
        annotations: serde_json::Value,
        links: serde_json::Value,
        owner: Option<&str>,
    ) -> Entity {
        let mut spec = json!({"type": "service", "lifecycle": "production"});
        if let Some(o) = owner {
            spec["owner"] = json!(o);
        }
        serde_json::from_value(json!({
            "apiVersion": "backstage.io/v1alpha1", "kind": "Component",
            "metadata": {"name": "svc", "annotations": annotations, "links": links},
            "spec": spec
        }))
        .unwrap()
    }

    #[test]
    fn fully_wired_service_has_no_gaps() {
        let e = component(
            json!({PAGERDUTY_SERVICE_ID: "P1", ARGOCD_APP_SELECTOR: "app=svc", GITHUB_PROJECT_SLUG: "o/svc"}),
            json!([{"url": "https://rb", "type": "runbook"}]),
            Some("team"),
        );
        assert_eq!(ownership_gaps(&e, true), vec![]);
        let wiring: Vec<_> = platform_wiring(&e)
            .into_iter()
            .map(|(p, _, v)| (p, v))
            .collect();
        assert_eq!(
            wiring,
            vec![
                ("PagerDuty", "P1".into()),
                ("Argo CD", "app=svc".into()),
                ("GitHub", "o/svc".into())
            ]
        );
    }

    #[test]
    fn orphan_and_missing_wiring_are_all_reported() {
        let e = component(
            json!({}),
            json!([{"url": "https://d", "type": "dashboard"}]),
            Some("gone"),
        );
        assert_eq!(
            ownership_gaps(&e, false),
            vec![
                Gap::OrphanOwner,
                Gap::NoPagerduty,
                Gap::NoArgocd,
                Gap::NoGithub,
                Gap::NoRunbook
            ]
        );
    }

    #[test]
    fn missing_owner_is_not_an_orphan_and_blank_annotations_count_as_missing() {
        let e = component(json!({GITHUB_PROJECT_SLUG: "  "}), json!([]), None);
        let gaps = ownership_gaps(&e, false);
        assert_eq!(gaps[0], Gap::NoOwner);
        assert!(gaps.contains(&Gap::NoGithub));
        assert!(!gaps.contains(&Gap::OrphanOwner));
    }
}
