//! One entity seen by several sources: the cache keeps one row per entity reference.

use super::entity::Entity;

/// An entity as one source reported it.
#[derive(Debug, Clone)]
pub struct SourcedEntity {
    /// The configured source's name.
    pub source: String,
    /// Position of that source in the configuration: lower wins.
    pub precedence: usize,
    /// What the source said.
    pub entity: Entity,
}

/// The merged view of one entity reference.
#[derive(Debug, Clone)]
pub struct MergedEntity {
    /// The body shown: the highest-precedence source's.
    pub entity: Entity,
    /// Every source that reported it, in precedence order.
    pub sources: Vec<String>,
}

/// Merges reports of the same entity. The body comes from the source listed first in the
/// configuration (a team's own catalog files usually come before a shared Backstage), so the
/// result does not depend on which source synced last. Returns `None` for no reports.
pub fn merge_reports(mut reports: Vec<SourcedEntity>) -> Option<MergedEntity> {
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
        assert!(merge_reports(vec![]).is_none());
    }
}
