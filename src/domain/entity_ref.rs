//! Entity references as Backstage writes them: `[kind:][namespace/]name`.
//!
//! Kind and namespace compare case-insensitively, so the canonical form used as a key in the
//! cache is fully lower-cased; the name keeps its case for display.

use std::fmt;

/// The namespace Backstage assumes when a reference names none.
pub const DEFAULT_NAMESPACE: &str = "default";

/// A parsed, complete entity reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EntityRef {
    /// Entity kind, lower-cased (`component`, `group`, …).
    pub kind: String,
    /// Namespace, lower-cased.
    pub namespace: String,
    /// Entity name as written.
    pub name: String,
}

/// Why a reference could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefError {
    /// The text was empty or had an empty part (`:x`, `a:/x`, `x/`).
    #[error("entity reference '{0}' has an empty part")]
    EmptyPart(String),
    /// No kind was written and the context gives no default kind.
    #[error("entity reference '{0}' needs a kind (write it as kind:name)")]
    MissingKind(String),
    /// More separators than the `[kind:][namespace/]name` form allows.
    #[error("entity reference '{0}' is not of the form [kind:][namespace/]name")]
    Malformed(String),
}

impl EntityRef {
    /// Builds a reference from its parts, normalising kind and namespace.
    pub fn new(kind: &str, namespace: &str, name: &str) -> Self {
        Self {
            kind: kind.to_ascii_lowercase(),
            namespace: namespace.to_ascii_lowercase(),
            name: name.to_string(),
        }
    }

    /// Parses `[kind:][namespace/]name`, filling missing parts from the context, as Backstage's
    /// `parseEntityRef` does: a missing kind takes `default_kind` (or is an error without one), a
    /// missing namespace takes `default_namespace`.
    pub fn parse(
        text: &str,
        default_kind: Option<&str>,
        default_namespace: &str,
    ) -> Result<Self, RefError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(RefError::EmptyPart(text.to_string()));
        }
        let (kind, rest) = match text.split_once(':') {
            Some((kind, rest)) => (Some(kind), rest),
            None => (None, text),
        };
        let (namespace, name) = match rest.split_once('/') {
            Some((namespace, name)) => (Some(namespace), name),
            None => (None, rest),
        };
        if name.contains(':') || name.contains('/') {
            return Err(RefError::Malformed(text.to_string()));
        }
        if kind == Some("") || namespace == Some("") || name.is_empty() {
            return Err(RefError::EmptyPart(text.to_string()));
        }
        let kind = kind
            .or(default_kind)
            .ok_or_else(|| RefError::MissingKind(text.to_string()))?;
        Ok(Self::new(
            kind,
            namespace.unwrap_or(default_namespace),
            name,
        ))
    }

    /// The lower-cased `kind:namespace/name` used as the cache's key: two spellings of one
    /// entity give one key.
    pub fn key(&self) -> String {
        format!(
            "{}:{}/{}",
            self.kind,
            self.namespace,
            self.name.to_ascii_lowercase()
        )
    }
}

impl fmt::Display for EntityRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}/{}", self.kind, self.namespace, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_reference_is_kept_and_kind_lowercased() {
        let r = EntityRef::parse("Component:Payments/Checkout-API", None, "default").unwrap();
        assert_eq!(r.kind, "component");
        assert_eq!(r.namespace, "payments");
        assert_eq!(r.name, "Checkout-API");
        assert_eq!(r.key(), "component:payments/checkout-api");
        assert_eq!(r.to_string(), "component:payments/Checkout-API");
    }

    #[test]
    fn defaults_fill_missing_kind_and_namespace() {
        let r = EntityRef::parse("team-a", Some("group"), "default").unwrap();
        assert_eq!(r.key(), "group:default/team-a");
        let r = EntityRef::parse("ops/team-a", Some("Group"), "default").unwrap();
        assert_eq!(r.key(), "group:ops/team-a");
        let r = EntityRef::parse("user:dana", Some("group"), "shop").unwrap();
        assert_eq!(r.key(), "user:shop/dana");
    }

    #[test]
    fn missing_kind_without_default_is_an_error() {
        assert_eq!(
            EntityRef::parse("cart-service", None, "default"),
            Err(RefError::MissingKind("cart-service".into()))
        );
    }

    #[test]
    fn empty_and_malformed_references_are_rejected() {
        for bad in ["", ":x", "component:", "component:/x", "a/", "/x"] {
            assert!(
                matches!(
                    EntityRef::parse(bad, Some("component"), "default"),
                    Err(RefError::EmptyPart(_))
                ),
                "{bad:?} should be rejected as empty"
            );
        }
        assert!(matches!(
            EntityRef::parse("a:b/c/d", None, "default"),
            Err(RefError::Malformed(_))
        ));
        assert!(matches!(
            EntityRef::parse("a:b:c", None, "default"),
            Err(RefError::Malformed(_))
        ));
    }
}
