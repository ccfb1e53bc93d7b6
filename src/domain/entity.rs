//! The Backstage entity envelope (`apiVersion`, `kind`, `metadata`, `spec`), kept close to the
//! wire so that what a catalog says is never reinterpreted on the way into the cache.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::entity_ref::{EntityRef, DEFAULT_NAMESPACE};

/// One catalog entity, as Backstage's `Entity` schema describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entity {
    /// `backstage.io/v1alpha1` or `backstage.io/v1beta1` for the built-in kinds.
    pub api_version: String,
    /// `Component`, `System`, `Domain`, `API`, `Resource`, `Group`, `User`, `Location`, …
    pub kind: String,
    /// Name, namespace, descriptive fields, labels, annotations, tags and links.
    pub metadata: Metadata,
    /// Kind-specific fields, kept as JSON and read through the typed accessors below.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub spec: Value,
}

/// `metadata` of an entity.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Metadata {
    /// Unique within kind and namespace.
    pub name: String,
    /// Defaults to `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Display title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Free text written by the entity's owners: untrusted, shown as text only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Identifying key/value pairs.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Non-identifying key/value pairs; how other platforms are wired to the entity.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Classification tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// External hyperlinks (dashboards, runbooks, docs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
    /// Server-assigned id (Backstage API only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// Server-assigned version tag (Backstage API only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

/// An item of `metadata.links`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct Link {
    /// Target of the link; untrusted.
    pub url: String,
    /// Human-readable name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub title: Option<String>,
    /// Icon key, as Backstage's UI knows them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub icon: Option<String>,
    /// What the link is for, e.g. `runbook`, `dashboard`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub link_type: Option<String>,
}

impl Link {
    /// Whether this link is a runbook (`type: runbook`, as Backstage's link types go).
    pub fn is_runbook(&self) -> bool {
        self.link_type
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("runbook"))
    }
}

impl Entity {
    /// The entity's own reference.
    pub fn entity_ref(&self) -> EntityRef {
        EntityRef::new(&self.kind, self.namespace(), &self.metadata.name)
    }

    /// The namespace, defaulted as Backstage does.
    pub fn namespace(&self) -> &str {
        self.metadata
            .namespace
            .as_deref()
            .filter(|n| !n.is_empty())
            .unwrap_or(DEFAULT_NAMESPACE)
    }

    /// Whether the kind matches, case-insensitively.
    pub fn is_kind(&self, kind: &str) -> bool {
        self.kind.eq_ignore_ascii_case(kind)
    }

    /// A string field of `spec`.
    pub fn spec_str(&self, field: &str) -> Option<&str> {
        self.spec
            .get(field)
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
    }

    /// A list-of-strings field of `spec`; anything that is not a string is ignored.
    pub fn spec_list(&self, field: &str) -> Vec<&str> {
        self.spec
            .get(field)
            .and_then(Value::as_array)
            .map(|items| items.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }

    /// An annotation's value, when it is set to something other than blanks.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.metadata
            .annotations
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    /// `spec.profile.<field>` for users and groups.
    pub fn profile_str(&self, field: &str) -> Option<&str> {
        self.spec
            .get("profile")
            .and_then(|p| p.get(field))
            .and_then(Value::as_str)
    }

    /// Service tier, from the label `tier` (`1`, `2`, `3`); absent when not declared.
    pub fn tier(&self) -> Option<&str> {
        self.metadata.labels.get("tier").map(String::as_str)
    }

    /// The owner reference (`spec.owner`, default kind `group`), if it parses.
    pub fn owner_ref(&self) -> Option<EntityRef> {
        self.spec_str("owner")
            .and_then(|o| EntityRef::parse(o, Some("group"), self.namespace()).ok())
    }

    /// The system reference (`spec.system`), if it parses.
    pub fn system_ref(&self) -> Option<EntityRef> {
        self.spec_str("system")
            .and_then(|s| EntityRef::parse(s, Some("system"), self.namespace()).ok())
    }

    /// Best display label: the title, else the name.
    pub fn display_name(&self) -> &str {
        self.metadata
            .title
            .as_deref()
            .or_else(|| self.profile_str("displayName"))
            .unwrap_or(&self.metadata.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_backstage_json_and_defaults_namespace() {
        let e: Entity = serde_json::from_value(serde_json::json!({
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "Component",
            "metadata": {
                "name": "checkout-api",
                "labels": {"tier": "1"},
                "links": [{"url": "https://x/rb", "title": "Runbook", "type": "runbook"}]
            },
            "spec": {"type": "service", "owner": "checkout", "system": "storefront", "lifecycle": "production"}
        }))
        .unwrap();
        assert_eq!(e.entity_ref().key(), "component:default/checkout-api");
        assert_eq!(e.owner_ref().unwrap().key(), "group:default/checkout");
        assert_eq!(e.system_ref().unwrap().key(), "system:default/storefront");
        assert_eq!(e.tier(), Some("1"));
        assert!(e.metadata.links[0].is_runbook());
    }
}
