//! Kubernetes label selectors, as `argocd/app-selector` wires a component to Argo CD
//! applications: Argo CD filters its list by them, and Opsdeck matches the applications its
//! watch stream reports against them to know which wirings a change belongs to.

/// One requirement of a selector.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    /// `k=v`, `k==v`, `k in (a,b)`.
    In(String, Vec<String>),
    /// `k!=v`, `k notin (a,b)`: also met where `k` is not set.
    NotIn(String, Vec<String>),
    /// `k`.
    Exists(String),
    /// `!k`.
    Absent(String),
}

/// A parsed label selector: every requirement must hold. The empty selector selects all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelSelector(Vec<Requirement>);

impl LabelSelector {
    /// Parses Kubernetes' selector syntax: comma-separated `k=v`, `k==v`, `k!=v`,
    /// `k in (a,b)`, `k notin (a,b)`, `k`, `!k`.
    pub fn parse(selector: &str) -> Result<Self, String> {
        split_requirements(selector)?
            .into_iter()
            .map(parse_requirement)
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// Whether labels (looked up by `label`) meet every requirement.
    pub fn matches<'a>(&self, label: impl Fn(&str) -> Option<&'a str>) -> bool {
        self.0.iter().all(|requirement| match requirement {
            Requirement::In(key, values) => {
                label(key).is_some_and(|v| values.iter().any(|w| w == v))
            }
            Requirement::NotIn(key, values) => {
                label(key).is_none_or(|v| values.iter().all(|w| w != v))
            }
            Requirement::Exists(key) => label(key).is_some(),
            Requirement::Absent(key) => label(key).is_none(),
        })
    }
}

/// The requirements, split at commas outside a set's parentheses.
fn split_requirements(selector: &str) -> Result<Vec<&str>, String> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0u32, 0);
    for (at, c) in selector.char_indices() {
        match c {
            '(' if depth == 0 => depth = 1,
            ')' if depth == 1 => depth = 0,
            '(' | ')' => return Err(format!("unbalanced parentheses in '{selector}'")),
            ',' if depth == 0 => {
                parts.push(&selector[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(format!("unbalanced parentheses in '{selector}'"));
    }
    parts.push(&selector[start..]);
    Ok(parts
        .into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect())
}

fn parse_requirement(text: &str) -> Result<Requirement, String> {
    let unparsable = || format!("unable to parse requirement: {text}");
    let key = |k: &str| {
        let k = k.trim();
        is_label_key(k)
            .then(|| k.to_string())
            .ok_or_else(unparsable)
    };
    let value = |v: &str| {
        let v = v.trim();
        is_label_value(v)
            .then(|| v.to_string())
            .ok_or_else(unparsable)
    };
    if let Some((k, v)) = text.split_once("!=") {
        return Ok(Requirement::NotIn(key(k)?, vec![value(v)?]));
    }
    if let Some((k, v)) = text.split_once("==").or_else(|| text.split_once('=')) {
        return Ok(Requirement::In(key(k)?, vec![value(v)?]));
    }
    if let Some((k, set)) = text.split_once('(') {
        let set = set.strip_suffix(')').ok_or_else(unparsable)?;
        let values = set.split(',').map(value).collect::<Result<Vec<_>, _>>()?;
        let (k, op) = k
            .trim_end()
            .rsplit_once(char::is_whitespace)
            .ok_or_else(unparsable)?;
        return match op {
            "in" => Ok(Requirement::In(key(k)?, values)),
            "notin" => Ok(Requirement::NotIn(key(k)?, values)),
            _ => Err(unparsable()),
        };
    }
    match text.strip_prefix('!') {
        Some(k) => Ok(Requirement::Absent(key(k)?)),
        None => Ok(Requirement::Exists(key(text)?)),
    }
}

/// A label key: an optional DNS-subdomain prefix and `/`, then a name of at most 63
/// characters of letters, digits, `-`, `_`, `.`, starting and ending alphanumeric.
fn is_label_key(key: &str) -> bool {
    let (prefix, name) = key.rsplit_once('/').unwrap_or(("", key));
    let prefix_ok = prefix.is_empty()
        || (prefix.len() <= 253
            && prefix
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-.".contains(c)));
    prefix_ok && !name.is_empty() && is_label_value(name)
}

/// A label value: empty, or at most 63 characters of letters, digits, `-`, `_`, `.`,
/// starting and ending alphanumeric.
fn is_label_value(value: &str) -> bool {
    value.is_empty()
        || (value.len() <= 63
            && value.starts_with(|c: char| c.is_ascii_alphanumeric())
            && value.ends_with(|c: char| c.is_ascii_alphanumeric())
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn select(selector: &str, labels: &[(&str, &str)]) -> Result<bool, String> {
        let parsed = LabelSelector::parse(selector)?;
        Ok(parsed.matches(|key| labels.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)))
    }

    const LABELS: &[(&str, &str)] = &[
        ("app.kubernetes.io/name", "checkout-api"),
        ("environment", "prod"),
    ];

    #[test]
    fn equality_and_inequality() {
        assert_eq!(
            select("app.kubernetes.io/name=checkout-api", LABELS),
            Ok(true)
        );
        assert_eq!(
            select(
                "app.kubernetes.io/name==checkout-api, environment!=beta",
                LABELS
            ),
            Ok(true)
        );
        assert_eq!(select("environment=beta", LABELS), Ok(false));
        assert_eq!(select("team!=payments", LABELS), Ok(true), "unset meets !=");
    }

    #[test]
    fn sets_and_existence() {
        assert_eq!(select("environment in (staging, prod)", LABELS), Ok(true));
        assert_eq!(
            select("environment notin (staging,prod)", LABELS),
            Ok(false)
        );
        assert_eq!(
            select("environment in (prod),app.kubernetes.io/name", LABELS),
            Ok(true)
        );
        assert_eq!(select("!team,environment", LABELS), Ok(true));
        assert_eq!(select("team", LABELS), Ok(false));
        assert_eq!(
            select("", LABELS),
            Ok(true),
            "the empty selector selects all"
        );
    }

    #[test]
    fn malformed_selectors_are_refused() {
        for bad in [
            "environment in (prod",
            "environment in prod)",
            "environment within (prod)",
            "=prod",
            "environment=pr od",
            "Env/x=1",
        ] {
            assert!(LabelSelector::parse(bad).is_err(), "{bad} was accepted");
        }
    }
}
