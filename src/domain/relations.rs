//! Relations between entities, derived from `spec` by the rules of Backstage's built-in kinds
//! processor. Every relation is kept in one canonical direction; its inverse is a query.

use super::entity::Entity;
use super::entity_ref::EntityRef;

/// The relation types Opsdeck stores, each in its canonical direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RelationType {
    /// entity → its owner (group or user).
    OwnedBy,
    /// component → system / subcomponent → component / system → domain.
    PartOf,
    /// component or resource → what it needs at run time.
    DependsOn,
    /// component → API it exposes.
    ProvidesApi,
    /// component → API it calls.
    ConsumesApi,
    /// user → group.
    MemberOf,
    /// parent group → child group.
    ParentOf,
}

impl RelationType {
    /// The name Backstage uses for this relation.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OwnedBy => "ownedBy",
            Self::PartOf => "partOf",
            Self::DependsOn => "dependsOn",
            Self::ProvidesApi => "providesApi",
            Self::ConsumesApi => "consumesApi",
            Self::MemberOf => "memberOf",
            Self::ParentOf => "parentOf",
        }
    }

    /// The name Backstage uses for the inverse direction.
    pub fn inverse_str(self) -> &'static str {
        match self {
            Self::OwnedBy => "ownerOf",
            Self::PartOf => "hasPart",
            Self::DependsOn => "dependencyOf",
            Self::ProvidesApi => "apiProvidedBy",
            Self::ConsumesApi => "apiConsumedBy",
            Self::MemberOf => "hasMember",
            Self::ParentOf => "childOf",
        }
    }
}

/// A directed, typed edge between two entities.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Relation {
    /// Where the edge starts, as a cache key.
    pub source: String,
    /// The edge's type.
    pub relation: RelationType,
    /// Where it ends, as a cache key.
    pub target: String,
}

/// A reference in `spec` that could not be turned into a relation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationProblem {
    /// The entity whose spec holds the bad reference.
    pub entity: String,
    /// Which spec field.
    pub field: &'static str,
    /// What is wrong with it.
    pub message: String,
}

impl std::fmt::Display for RelationProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: spec.{}: {}", self.entity, self.field, self.message)
    }
}

/// Derives an entity's relations from its `spec`. References that do not parse are reported,
/// not dropped in silence, and do not stop the other relations.
pub fn relations_of(entity: &Entity) -> (Vec<Relation>, Vec<RelationProblem>) {
    let me = entity.entity_ref();
    let ns = entity.namespace().to_string();
    let mut out = Vec::new();
    let mut problems = Vec::new();

    // (spec field, default kind, relation, whether this entity is the source of the edge)
    type Rule = (&'static str, Option<&'static str>, RelationType, bool);
    let kind = entity.kind.to_ascii_lowercase();
    let rules: &[Rule] = match kind.as_str() {
        "component" => &[
            ("owner", Some("group"), RelationType::OwnedBy, true),
            ("system", Some("system"), RelationType::PartOf, true),
            (
                "subcomponentOf",
                Some("component"),
                RelationType::PartOf,
                true,
            ),
            ("providesApis", Some("api"), RelationType::ProvidesApi, true),
            ("consumesApis", Some("api"), RelationType::ConsumesApi, true),
            ("dependsOn", None, RelationType::DependsOn, true),
            ("dependencyOf", None, RelationType::DependsOn, false),
        ],
        "api" => &[
            ("owner", Some("group"), RelationType::OwnedBy, true),
            ("system", Some("system"), RelationType::PartOf, true),
        ],
        "resource" => &[
            ("owner", Some("group"), RelationType::OwnedBy, true),
            ("system", Some("system"), RelationType::PartOf, true),
            ("dependsOn", None, RelationType::DependsOn, true),
            ("dependencyOf", None, RelationType::DependsOn, false),
        ],
        "system" => &[
            ("owner", Some("group"), RelationType::OwnedBy, true),
            ("domain", Some("domain"), RelationType::PartOf, true),
        ],
        "domain" => &[
            ("owner", Some("group"), RelationType::OwnedBy, true),
            ("subdomainOf", Some("domain"), RelationType::PartOf, true),
        ],
        "group" => &[
            ("parent", Some("group"), RelationType::ParentOf, false),
            ("children", Some("group"), RelationType::ParentOf, true),
            ("members", Some("user"), RelationType::MemberOf, false),
        ],
        "user" => &[("memberOf", Some("group"), RelationType::MemberOf, true)],
        _ => &[],
    };

    for &(field, default_kind, relation, outgoing) in rules {
        let values: Vec<&str> = match entity.spec.get(field) {
            Some(serde_json::Value::String(s)) => vec![s.as_str()],
            Some(serde_json::Value::Array(_)) => entity.spec_list(field),
            _ => continue,
        };
        for value in values {
            match EntityRef::parse(value, default_kind, &ns) {
                Ok(other) => {
                    let (source, target) = if outgoing {
                        (me.key(), other.key())
                    } else {
                        (other.key(), me.key())
                    };
                    out.push(Relation {
                        source,
                        relation,
                        target,
                    });
                }
                Err(e) => problems.push(RelationProblem {
                    entity: me.to_string(),
                    field,
                    message: e.to_string(),
                }),
            }
        }
    }
    out.sort();
    out.dedup();
    (out, problems)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entity(kind: &str, name: &str, spec: serde_json::Value) -> Entity {
        serde_json::from_value(json!({
            "apiVersion": "backstage.io/v1alpha1", "kind": kind,
            "metadata": {"name": name}, "spec": spec
        }))
        .unwrap()
    }

    fn edges(e: &Entity) -> Vec<(String, &'static str, String)> {
        relations_of(e)
            .0
            .into_iter()
            .map(|r| (r.source, r.relation.as_str(), r.target))
            .collect()
    }

    #[test]
    fn component_relations_use_default_kinds() {
        let e = entity(
            "Component",
            "checkout-api",
            json!({
                "owner": "checkout", "system": "storefront", "lifecycle": "production", "type": "service",
                "providesApis": ["checkout-public"], "consumesApis": ["api:payments"],
                "dependsOn": ["component:cart-service", "resource:checkout-db"],
                "dependencyOf": ["component:checkout-web"]
            }),
        );
        let got = edges(&e);
        let me = "component:default/checkout-api".to_string();
        for want in [
            (me.clone(), "ownedBy", "group:default/checkout".to_string()),
            (
                me.clone(),
                "partOf",
                "system:default/storefront".to_string(),
            ),
            (
                me.clone(),
                "providesApi",
                "api:default/checkout-public".to_string(),
            ),
            (
                me.clone(),
                "consumesApi",
                "api:default/payments".to_string(),
            ),
            (
                me.clone(),
                "dependsOn",
                "component:default/cart-service".to_string(),
            ),
            (
                me.clone(),
                "dependsOn",
                "resource:default/checkout-db".to_string(),
            ),
            (
                "component:default/checkout-web".to_string(),
                "dependsOn",
                me.clone(),
            ),
        ] {
            assert!(got.contains(&want), "missing {want:?} in {got:?}");
        }
        assert_eq!(got.len(), 7);
    }

    #[test]
    fn depends_on_without_kind_is_reported_and_others_survive() {
        let e = entity("Component", "a", json!({"owner": "t", "dependsOn": ["b"]}));
        let (rels, problems) = relations_of(&e);
        assert_eq!(rels.len(), 1);
        assert_eq!(problems.len(), 1);
        assert_eq!(
            problems[0].to_string(),
            "component:default/a: spec.dependsOn: entity reference 'b' needs a kind (write it as kind:name)"
        );
    }

    #[test]
    fn group_and_user_membership_meet_in_one_direction() {
        let g = entity(
            "Group",
            "checkout",
            json!({"type": "team", "parent": "commerce", "children": ["checkout-web-team"], "members": ["dana"]}),
        );
        let u = entity("User", "dana", json!({"memberOf": ["checkout"]}));
        let g_edges = edges(&g);
        assert!(g_edges.contains(&(
            "user:default/dana".into(),
            "memberOf",
            "group:default/checkout".into()
        )));
        assert!(g_edges.contains(&(
            "group:default/commerce".into(),
            "parentOf",
            "group:default/checkout".into()
        )));
        assert!(g_edges.contains(&(
            "group:default/checkout".into(),
            "parentOf",
            "group:default/checkout-web-team".into()
        )));
        assert_eq!(
            edges(&u),
            vec![(
                "user:default/dana".into(),
                "memberOf",
                "group:default/checkout".into()
            )]
        );
    }
}
