//! One entity seen by several sources: the cache keeps one row per entity reference.

use super::entity::Entity;

/// An entity as one source reported it. `E` is what stands for the entity: the entity
/// itself, or a handle to read it by once it wins (a cache reads only the winning bodies).
#[derive(Debug, Clone)]
pub struct SourcedEntity<E = Entity> {
    /// The configured source's name.
    pub source: String,
    /// Position of that source in the configuration: lower wins.
    pub precedence: usize,
    /// What the source said.
    pub entity: E,
}

/// The merged view of one entity reference.
#[derive(Debug, Clone)]
pub struct MergedEntity<E = Entity> {
    /// The body shown: the highest-precedence source's.
    pub entity: E,
    /// Every source that reported it, in precedence order.
    pub sources: Vec<String>,
}

/// Merges reports of the same entity. The body comes from the source listed first in the
/// configuration (a team's own catalog files usually come before a shared Backstage), so the
/// result does not depend on which source synced last. Returns `None` for no reports.
pub fn merge_reports<E>(mut reports: Vec<SourcedEntity<E>>) -> Option<MergedEntity<E>> {
    reports.sort_by(|a, b| {
        a.precedence
            .cmp(&b.precedence)
            .then(a.source.cmp(&b.source))
    });
    let sources = reports.iter().map(|r| r.source.clone()).collect();
    reports.into_iter().next().map(|first| MergedEntity {
        entity: first.entity,
        sources,
    })
}

/// Backstage's annotation naming where an entity was read from (`file:/abs/path` for files).
pub const MANAGED_BY_LOCATION: &str = "backstage.io/managed-by-location";

/// The entities of `previous` to keep beside a new read: those read from a location that is
/// damaged now (unreadable, or with a document that does not parse) and missing from
/// `fetched`. A file caught half-written, or broken by a typo, must not make its entities
/// vanish from the cache; they stay as last read until the file parses again.
pub fn carried_over<'a>(
    previous: &'a [Entity],
    fetched: &[Entity],
    damaged_locations: &std::collections::HashSet<String>,
) -> Vec<&'a Entity> {
    let fetched: std::collections::HashSet<String> =
        fetched.iter().map(|e| e.entity_ref().key()).collect();
    previous
        .iter()
        .filter(|e| {
            e.metadata
                .annotations
                .get(MANAGED_BY_LOCATION)
                .is_some_and(|at| damaged_locations.contains(at))
                && !fetched.contains(&e.entity_ref().key())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn report(source: &str, precedence: usize, title: &str) -> SourcedEntity {
        SourcedEntity {
            source: source.into(),
            precedence,
            entity: serde_json::from_value(json!({
                "apiVersion": "backstage.io/v1alpha1", "kind": "Component",
                "metadata": {"name": "a", "title": title}, "spec": {}
            }))
            .unwrap(),
        }
    }

    #[test]
    fn first_configured_source_wins_whatever_the_order() {
        let merged =
            merge_reports(vec![report("backstage", 1, "B"), report("files", 0, "F")]).unwrap();
        assert_eq!(merged.entity.metadata.title.as_deref(), Some("F"));
        assert_eq!(merged.sources, vec!["files", "backstage"]);
        assert!(merge_reports::<Entity>(vec![]).is_none());
    }

    fn located(name: &str, at: &str) -> Entity {
        serde_json::from_value(json!({
            "apiVersion": "backstage.io/v1alpha1", "kind": "Component",
            "metadata": {"name": name, "annotations": {MANAGED_BY_LOCATION: at}}, "spec": {}
        }))
        .unwrap()
    }

    #[test]
    fn entities_of_a_damaged_location_are_carried_over_until_it_parses() {
        let previous = vec![
            located("a", "file:/t/a.yaml"),
            located("b", "file:/t/a.yaml"),
            located("c", "file:/t/c.yaml"),
        ];
        let damaged = ["file:/t/a.yaml".to_string()].into();
        // a.yaml now yields only `a`; `b` sat in its broken half.
        let fetched = vec![located("a", "file:/t/a.yaml")];
        let kept: Vec<_> = carried_over(&previous, &fetched, &damaged)
            .iter()
            .map(|e| e.metadata.name.clone())
            .collect();
        assert_eq!(
            kept,
            vec!["b"],
            "c.yaml is not damaged: its removal is real"
        );
        assert!(carried_over(&previous, &fetched, &Default::default()).is_empty());
    }
}
