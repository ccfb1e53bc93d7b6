//! Alerts from Alertmanager, their silences, and the rule that joins an alert to catalog
//! components: the label `service` equal to the component's name, or the component's
//! `opsdeck.io/alert-selector` annotation in Alertmanager's matcher syntax.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// The annotation that picks a component's alerts by labels, e.g. `app="checkout",env="prod"`.
pub const ALERT_SELECTOR_ANNOTATION: &str = "opsdeck.io/alert-selector";

/// The alert label that names a component.
pub const SERVICE_LABEL: &str = "service";

/// Where an alert stands in Alertmanager. Silenced and inhibited alerts are both "suppressed"
/// there; they are told apart because they mean different things to whoever is on call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum AlertState {
    /// Firing and notifying.
    Firing,
    /// Firing, but a silence mutes it.
    Silenced,
    /// Firing, but another alert inhibits it.
    Inhibited,
    /// Received, not yet processed.
    Unprocessed,
}

impl AlertState {
    /// The name used in the CLI and the UI.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Firing => "firing",
            Self::Silenced => "silenced",
            Self::Inhibited => "inhibited",
            Self::Unprocessed => "unprocessed",
        }
    }
}

/// An alert as Opsdeck keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Alert {
    /// Alertmanager's fingerprint of the label set.
    pub fingerprint: String,
    /// The `alertname` label.
    pub name: String,
    /// State.
    pub state: AlertState,
    /// The `severity` label.
    pub severity: Option<String>,
    /// The `summary` annotation; untrusted text.
    pub summary: Option<String>,
    /// The `description` annotation; untrusted text.
    pub description: Option<String>,
    /// The `runbook_url` annotation.
    pub runbook_url: Option<String>,
    /// Since when it fires.
    #[ts(type = "string")]
    pub starts_at: DateTime<Utc>,
    /// Where it came from (the Prometheus graph).
    pub generator_url: Option<String>,
    /// All labels.
    pub labels: BTreeMap<String, String>,
    /// Ids of the silences that mute it.
    pub silenced_by: Vec<String>,
    /// Fingerprints of the alerts that inhibit it.
    pub inhibited_by: Vec<String>,
}

/// A silence, so a quiet alert can say why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Silence {
    /// Alertmanager's id.
    pub id: String,
    /// The matchers, in Alertmanager's syntax.
    pub matchers: String,
    /// Who made it.
    pub created_by: String,
    /// Why; untrusted text.
    pub comment: String,
    /// From.
    #[ts(type = "string")]
    pub starts_at: DateTime<Utc>,
    /// Until.
    #[ts(type = "string")]
    pub ends_at: DateTime<Utc>,
    /// `active`, `pending` or `expired`.
    pub state: String,
}

/// How a matcher compares a label's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOp {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~`, fully anchored.
    Regex,
    /// `!~`, fully anchored.
    NotRegex,
}

impl MatchOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Equal => "=",
            Self::NotEqual => "!=",
            Self::Regex => "=~",
            Self::NotRegex => "!~",
        }
    }
}

/// One label matcher.
#[derive(Debug, Clone)]
pub struct Matcher {
    /// Label name.
    pub name: String,
    /// Operator.
    pub op: MatchOp,
    /// Value or pattern.
    pub value: String,
    regex: Option<regex::Regex>,
}

impl Matcher {
    /// A matcher; regex operators compile `value` anchored at both ends, as Alertmanager does.
    pub fn new(name: &str, op: MatchOp, value: &str) -> Result<Self, String> {
        let regex = match op {
            MatchOp::Regex | MatchOp::NotRegex => Some(
                regex::Regex::new(&format!("^(?:{value})$"))
                    .map_err(|e| format!("'{value}' is not a valid regular expression: {e}"))?,
            ),
            _ => None,
        };
        Ok(Self {
            name: name.to_string(),
            op,
            value: value.to_string(),
            regex,
        })
    }

    /// Whether `labels` satisfy this matcher. A missing label reads as empty, as in
    /// Alertmanager.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let value = labels.get(&self.name).map_or("", String::as_str);
        match (self.op, &self.regex) {
            (MatchOp::Equal, _) => value == self.value,
            (MatchOp::NotEqual, _) => value != self.value,
            (MatchOp::Regex, Some(re)) => re.is_match(value),
            (MatchOp::NotRegex, Some(re)) => !re.is_match(value),
            _ => unreachable!("regex operators always carry their regex"),
        }
    }
}

impl std::fmt::Display for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}{:?}", self.name, self.op.as_str(), self.value)
    }
}

/// A set of matchers that must all hold: `app="checkout",env=~"prod|staging"`, optionally in
/// braces, values quoted (with `\"` and `\\` escapes) or bare.
#[derive(Debug, Clone)]
pub struct Selector(pub Vec<Matcher>);

impl Selector {
    /// Whether every matcher holds for `labels`.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.0.iter().all(|m| m.matches(labels))
    }
}

impl std::str::FromStr for Selector {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let trimmed = text.trim();
        let inner = trimmed
            .strip_prefix('{')
            .and_then(|t| t.strip_suffix('}'))
            .unwrap_or(trimmed);
        let mut chars = inner.chars().peekable();
        let mut matchers = Vec::new();
        loop {
            while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
                chars.next();
            }
            if chars.peek().is_none() {
                break;
            }
            let name: String = std::iter::from_fn(|| {
                chars.next_if(|c| c.is_alphanumeric() || *c == '_' || *c == '.')
            })
            .collect();
            while chars.next_if(|c| c.is_whitespace()).is_some() {}
            let bad_op = || format!("'{text}': expected =, !=, =~ or !~ after '{name}'");
            let op = match chars.next() {
                Some('=') if chars.next_if_eq(&'~').is_some() => MatchOp::Regex,
                Some('=') => MatchOp::Equal,
                Some('!') => match chars.next() {
                    Some('=') => MatchOp::NotEqual,
                    Some('~') => MatchOp::NotRegex,
                    _ => return Err(bad_op()),
                },
                _ => return Err(bad_op()),
            };
            if name.is_empty() {
                return Err(format!("'{text}': a matcher needs a label name"));
            }
            while chars.next_if(|c| c.is_whitespace()).is_some() {}
            let value = if chars.next_if_eq(&'"').is_some() {
                let mut value = String::new();
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some('n') => value.push('\n'),
                            Some(c) => value.push(c),
                            None => return Err(format!("'{text}': unterminated quote")),
                        },
                        Some(c) => value.push(c),
                        None => return Err(format!("'{text}': unterminated quote")),
                    }
                }
                value
            } else {
                std::iter::from_fn(|| chars.next_if(|c| *c != ',' && !c.is_whitespace())).collect()
            };
            matchers.push(Matcher::new(&name, op, &value).map_err(|e| format!("'{text}': {e}"))?);
        }
        if matchers.is_empty() {
            return Err(format!("'{text}': no matchers"));
        }
        Ok(Self(matchers))
    }
}

/// Why `entity`'s `opsdeck.io/alert-selector` cannot be used, if it has one that does not parse:
/// the catalog's problem to fix, reported with the source's other document problems.
pub fn selector_problem(entity: &crate::Entity) -> Option<String> {
    let text = entity.metadata.annotations.get(ALERT_SELECTOR_ANNOTATION)?;
    let problem = text.parse::<Selector>().err()?;
    Some(format!(
        "{}: annotation {ALERT_SELECTOR_ANNOTATION}: {problem}; its alerts are joined by their '{SERVICE_LABEL}' label only",
        entity.entity_ref()
    ))
}

/// A component's alert wiring: its key, name and selector, if it has one.
#[derive(Debug, Clone)]
pub struct AlertTarget {
    /// The component's cache key.
    pub key: String,
    /// Its name, compared with the alert's `service` label.
    pub name: String,
    /// Its `opsdeck.io/alert-selector`, parsed.
    pub selector: Option<Selector>,
}

/// The components an alert belongs to: any named by its `service` label, and any whose
/// selector matches its labels.
pub fn components_of_alert<'a>(alert: &Alert, targets: &'a [AlertTarget]) -> Vec<&'a str> {
    let service = alert.labels.get(SERVICE_LABEL);
    targets
        .iter()
        .filter(|t| {
            service == Some(&t.name)
                || t.selector
                    .as_ref()
                    .is_some_and(|s| s.matches(&alert.labels))
        })
        .map(|t| t.key.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn selectors_parse_like_alertmanager() {
        let s: Selector = r#"app="checkout",env="prod""#.parse().unwrap();
        assert!(s.matches(&labels(&[("app", "checkout"), ("env", "prod"), ("x", "y")])));
        assert!(!s.matches(&labels(&[("app", "checkout"), ("env", "staging")])));

        let s: Selector = r#"{ team =~ "pay.*" , env!="dev", zone!~"eu-.*", tier=1 }"#
            .parse()
            .unwrap();
        assert_eq!(s.0.len(), 4);
        assert!(s.matches(&labels(&[
            ("team", "payments"),
            ("env", "prod"),
            ("zone", "us-1"),
            ("tier", "1")
        ])));
        // Regexes are anchored: "xpayments" does not match "pay.*".
        assert!(!s.matches(&labels(&[
            ("team", "xpayments"),
            ("env", "prod"),
            ("zone", "us-1"),
            ("tier", "1")
        ])));
        assert!(!s.matches(&labels(&[
            ("team", "pay"),
            ("env", "prod"),
            ("zone", "eu-west"),
            ("tier", "1")
        ])));

        let s: Selector = r#"summary="say \"hi\", then go""#.parse().unwrap();
        assert_eq!(s.0[0].value, "say \"hi\", then go");
        // A missing label reads as empty.
        let s: Selector = r#"env="""#.parse().unwrap();
        assert!(s.matches(&labels(&[])));
    }

    #[test]
    fn bad_selectors_say_what_is_wrong() {
        assert!("app"
            .parse::<Selector>()
            .unwrap_err()
            .contains("expected ="));
        assert!(r#"app="x"#.parse::<Selector>().unwrap_err().contains("unterminated"));
        assert!(r#"app=~"(""#.parse::<Selector>().unwrap_err().contains("regular expression"));
        assert!("".parse::<Selector>().unwrap_err().contains("no matchers"));
        assert!(r#"="x""#.parse::<Selector>().unwrap_err().contains("label name"));
    }

    #[test]
    fn a_selector_that_does_not_parse_is_a_problem_of_its_entity() {
        let entity = |selector: &str| -> crate::Entity {
            serde_json::from_value(serde_json::json!({
                "apiVersion": "backstage.io/v1alpha1", "kind": "Component",
                "metadata": {"name": "cart", "annotations": {ALERT_SELECTOR_ANNOTATION: selector}},
                "spec": {}
            }))
            .unwrap()
        };
        assert_eq!(selector_problem(&entity(r#"app="cart""#)), None);
        let problem = selector_problem(&entity("app")).unwrap();
        assert!(
            problem.starts_with(
                "component:default/cart: annotation opsdeck.io/alert-selector: 'app': expected ="
            ),
            "{problem}"
        );
    }

    #[test]
    fn alerts_join_by_service_label_or_selector() {
        let alert = Alert {
            fingerprint: "f".into(),
            name: "HighErrorRate".into(),
            state: AlertState::Firing,
            severity: None,
            summary: None,
            description: None,
            runbook_url: None,
            starts_at: Utc::now(),
            generator_url: None,
            labels: labels(&[("service", "checkout-api"), ("app", "checkout")]),
            silenced_by: vec![],
            inhibited_by: vec![],
        };
        let targets = vec![
            AlertTarget {
                key: "component:default/checkout-api".into(),
                name: "checkout-api".into(),
                selector: None,
            },
            AlertTarget {
                key: "component:default/cart".into(),
                name: "cart".into(),
                selector: Some(r#"app="checkout""#.parse().unwrap()),
            },
            AlertTarget {
                key: "component:default/other".into(),
                name: "other".into(),
                selector: Some(r#"app="other""#.parse().unwrap()),
            },
        ];
        assert_eq!(
            components_of_alert(&alert, &targets),
            ["component:default/checkout-api", "component:default/cart"]
        );
    }

    proptest::proptest! {
        #[test]
        fn no_selector_text_panics(text in "\\PC{0,60}") {
            let _ = text.parse::<Selector>();
        }

        #[test]
        fn a_quoted_value_reads_back_exactly(
            name in "[a-z_][a-z0-9_.]{0,12}",
            op in proptest::sample::select(vec!["=", "!=", "=~", "!~"]),
            value in "\\PC{0,30}",
        ) {
            let pattern = if op.contains('~') { regex::escape(&value) } else { value.clone() };
            let quoted = pattern.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
            let selector: Selector = format!("{{{name}{op}\"{quoted}\"}}").parse().unwrap();
            let labels = BTreeMap::from([(name.clone(), value.clone())]);
            proptest::prop_assert_eq!(selector.matches(&labels), !op.starts_with('!'));
        }
    }
}
