//! Runbooks: which links are runbooks and of what kind (a page, a markdown file kept in a
//! repository, a workflow to run), their URL templates filled with an incident's context, and
//! the inputs a `workflow_dispatch` workflow takes. No I/O.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::delivery::is_github_slug;
use crate::text::percent_encoded;

/// The branch an automated runbook's workflow is dispatched on.
pub const DEFAULT_BRANCH: &str = "main";

/// What a runbook link leads to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[ts(export)]
pub enum RunbookKind {
    /// A page, opened in the browser.
    Link,
    /// A markdown file in a GitHub repository: read through the contents API, cached, shown
    /// in the app.
    Markdown {
        /// `owner/repo`.
        repo: String,
        /// The file's path in the repository.
        path: String,
        /// The branch, tag or commit in the link.
        git_ref: String,
    },
    /// A GitHub Actions workflow with `workflow_dispatch`: run from the app.
    Automated {
        /// `owner/repo`.
        repo: String,
        /// The workflow file, e.g. `drain-region.yml`.
        workflow: String,
        /// The branch it is dispatched on.
        git_ref: String,
    },
}

/// What a link to GitHub is, by its address: a markdown file (`…/blob/REF/PATH.md`), a
/// workflow (`…/actions/workflows/FILE`), else a page.
pub fn kind_of(url: &str) -> RunbookKind {
    let Some(rest) = url
        .strip_prefix("https://github.com/")
        .map(|r| r.split(['?', '#']).next().unwrap_or(r))
    else {
        return RunbookKind::Link;
    };
    let parts: Vec<&str> = rest.split('/').collect();
    if parts.len() < 4 || !is_github_slug(&format!("{}/{}", parts[0], parts[1])) {
        return RunbookKind::Link;
    }
    let repo = format!("{}/{}", parts[0], parts[1]);
    let safe = |segment: &str| !segment.is_empty() && segment != "." && segment != "..";
    match parts[2..] {
        ["blob", git_ref, ref path @ ..]
            if !path.is_empty() && path.iter().all(|s| safe(s)) && safe(git_ref) =>
        {
            let path = path.join("/");
            let lower = path.to_ascii_lowercase();
            if lower.ends_with(".md") || lower.ends_with(".markdown") {
                RunbookKind::Markdown {
                    repo,
                    path,
                    git_ref: git_ref.to_string(),
                }
            } else {
                RunbookKind::Link
            }
        }
        ["actions", "workflows", workflow]
            if safe(workflow)
                && workflow
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) =>
        {
            RunbookKind::Automated {
                repo,
                workflow: workflow.to_string(),
                git_ref: DEFAULT_BRANCH.to_string(),
            }
        }
        _ => RunbookKind::Link,
    }
}

/// Where a runbook comes from, for people: the service's own, inherited, or an alert's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "from", content = "name", rename_all = "snake_case")]
#[ts(export)]
pub enum RunbookOrigin {
    /// The component's own `metadata.links`.
    Service,
    /// Its system's.
    System(String),
    /// Its owner group's.
    Team(String),
    /// An alert's `runbook_url` annotation (the alert's name).
    Alert(String),
}

/// The placeholders a runbook URL may hold; any `{label.NAME}` too.
pub const PLACEHOLDERS: [&str; 7] = [
    "service",
    "system",
    "team",
    "env",
    "version",
    "incident_id",
    "alertname",
];

/// What a runbook is launched for: the values its URL's placeholders take.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LaunchContext {
    values: BTreeMap<String, String>,
}

impl LaunchContext {
    /// Sets `{name}` (one of [`PLACEHOLDERS`], or `label.NAME`).
    pub fn with(mut self, name: &str, value: Option<&str>) -> Self {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            self.values.insert(name.to_string(), value.to_string());
        }
        self
    }

    /// Sets `{label.NAME}` for every label of an alert.
    pub fn with_labels(mut self, labels: &BTreeMap<String, String>) -> Self {
        for (name, value) in labels {
            self.values.insert(format!("label.{name}"), value.clone());
        }
        self
    }

    /// The values set, by placeholder.
    pub fn values(&self) -> &BTreeMap<String, String> {
        &self.values
    }
}

/// `template` with each `{placeholder}` the context knows replaced by its value, URL-encoded;
/// a placeholder it does not know (or has no value for) is left as written, so a reader sees
/// what is missing.
pub fn expand(template: &str, context: &LaunchContext) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let name_end = after.find('}');
        let name = name_end.map(|end| &after[..end]);
        // A value that is a dot segment would move the URL up its path, encoded or not.
        let known = name.and_then(|n| context.values.get(n).map(|v| (n, v)));
        match known.filter(|(_, v)| !matches!(v.as_str(), "." | "..")) {
            Some((name, value)) => {
                out.push_str(&percent_encoded(value));
                rest = &after[name.len() + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The placeholders still in an expanded URL, so the reader is told what was not known.
pub fn unfilled(url: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = url;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(end) => {
                let name = &after[..end];
                let known = PLACEHOLDERS.contains(&name) || name.starts_with("label.");
                if known && !out.iter().any(|n: &String| n == name) {
                    out.push(name.to_string());
                }
                rest = &after[end + 1..];
            }
            None => break,
        }
    }
    out
}

/// A runbook's address, if it may be opened in the browser: `http` and `https` only.
pub fn launchable(url: &str) -> Result<&str, String> {
    let url = url.trim();
    let lower = url.to_ascii_lowercase();
    if url.chars().any(char::is_control) {
        return Err("the runbook's address holds control characters".into());
    }
    if !(lower.starts_with("https://") || lower.starts_with("http://")) {
        let scheme = url.split_once(':').map_or(url, |(s, _)| s);
        return Err(format!(
            "runbooks open only over http or https, not '{scheme}:'"
        ));
    }
    Ok(url)
}

/// The type of a `workflow_dispatch` input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum InputType {
    /// Free text (the default).
    String,
    /// One of `options`.
    Choice,
    /// `true` or `false`.
    Boolean,
    /// A number.
    Number,
    /// A GitHub environment's name.
    Environment,
}

/// One input of a `workflow_dispatch` workflow, as its file declares it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct WorkflowInput {
    /// Its key.
    pub name: String,
    /// What it is for; untrusted text.
    pub description: Option<String>,
    /// Its type.
    pub input_type: InputType,
    /// Its default, as text.
    pub default: Option<String>,
    /// A choice's options.
    pub options: Vec<String>,
    /// Whether it must be given.
    pub required: bool,
}

/// The inputs of `on.workflow_dispatch.inputs` in a workflow file, in file order; an error
/// when the file is not YAML or cannot be dispatched.
pub fn workflow_inputs(yaml: &str) -> Result<Vec<WorkflowInput>, String> {
    use serde_norway::Value;
    let doc: Value =
        serde_norway::from_str(yaml).map_err(|e| format!("the workflow is not YAML: {e}"))?;
    // YAML 1.1 reads a bare `on` as true; GitHub means the key.
    let on = doc
        .get("on")
        .or_else(|| doc.as_mapping().and_then(|m| m.get(Value::Bool(true))))
        .ok_or("the workflow has no 'on:' triggers")?;
    let dispatch = match on {
        Value::String(event) if event == "workflow_dispatch" => None,
        Value::Sequence(events)
            if events
                .iter()
                .any(|e| e.as_str() == Some("workflow_dispatch")) =>
        {
            None
        }
        Value::Mapping(events) => match events.get("workflow_dispatch") {
            Some(dispatch) => Some(dispatch),
            None => {
                return Err(
                    "the workflow cannot be run by hand: no workflow_dispatch trigger".into(),
                )
            }
        },
        _ => return Err("the workflow cannot be run by hand: no workflow_dispatch trigger".into()),
    };
    let Some(inputs) = dispatch
        .and_then(|d| d.get("inputs"))
        .and_then(Value::as_mapping)
    else {
        return Ok(Vec::new());
    };
    let text = |value: Option<&Value>| -> Option<String> {
        match value? {
            Value::String(s) => Some(s.clone()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    };
    let mut out = Vec::new();
    for (name, spec) in inputs {
        let name = text(Some(name)).ok_or("an input's name is not text")?;
        let input_type = match spec.get("type").and_then(Value::as_str).unwrap_or("string") {
            "string" => InputType::String,
            "choice" => InputType::Choice,
            "boolean" => InputType::Boolean,
            "number" => InputType::Number,
            "environment" => InputType::Environment,
            other => return Err(format!("input '{name}' has an unknown type '{other}'")),
        };
        let options: Vec<String> = spec
            .get("options")
            .and_then(Value::as_sequence)
            .map(|list| list.iter().filter_map(|o| text(Some(o))).collect())
            .unwrap_or_default();
        if input_type == InputType::Choice && options.is_empty() {
            return Err(format!("choice input '{name}' lists no options"));
        }
        let (description, default) = (text(spec.get("description")), text(spec.get("default")));
        // YAML's "\0": a database refuses it in text, and a value changed to keep it would
        // not be the one the workflow expects back.
        let holds_nul = [Some(&name), description.as_ref(), default.as_ref()]
            .into_iter()
            .flatten()
            .chain(&options)
            .any(|text| text.contains('\0'));
        if holds_nul {
            return Err(format!(
                "input '{}' holds a NUL character, which Opsdeck can neither keep nor send back: take it out of the workflow",
                crate::text::without_nul(&name)
            ));
        }
        out.push(WorkflowInput {
            description,
            default,
            required: spec
                .get("required")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            name,
            input_type,
            options,
        });
    }
    Ok(out)
}

/// Fills the defaults an input lacks from the launch context, where the input names what the
/// context knows: an environment (by type, or named `env`/`environment`), `version`,
/// `service`, `incident`/`incident_id`, `alertname`. A choice takes only one of its options.
pub fn prefill(inputs: &mut [WorkflowInput], context: &LaunchContext) {
    for input in inputs.iter_mut().filter(|i| i.default.is_none()) {
        let from = match input.name.as_str() {
            _ if input.input_type == InputType::Environment => "env",
            "env" | "environment" => "env",
            "version" => "version",
            "service" => "service",
            "incident" | "incident_id" => "incident_id",
            "alert" | "alertname" => "alertname",
            _ => continue,
        };
        if let Some(value) = context.values.get(from) {
            if input.input_type != InputType::Choice || input.options.contains(value) {
                input.default = Some(value.clone());
            }
        }
    }
}

/// The inputs to dispatch with: `given` checked against the workflow's declarations, defaults
/// filled in; every problem at once when some are wrong.
pub fn checked_inputs(
    declared: &[WorkflowInput],
    given: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, Vec<String>> {
    let mut problems = Vec::new();
    for name in given.keys() {
        if !declared.iter().any(|d| &d.name == name) {
            let names: Vec<&str> = declared.iter().map(|d| d.name.as_str()).collect();
            problems.push(format!(
                "no input named '{name}' (the workflow takes: {})",
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            ));
        }
    }
    let mut out = BTreeMap::new();
    for input in declared {
        let value = given
            .get(&input.name)
            .cloned()
            .or_else(|| input.default.clone())
            .filter(|v| !v.is_empty());
        let Some(value) = value else {
            if input.required {
                problems.push(format!("'{}' is required", input.name));
            }
            continue;
        };
        let fits = match input.input_type {
            InputType::Choice => input.options.contains(&value),
            InputType::Boolean => value == "true" || value == "false",
            InputType::Number => value.parse::<f64>().is_ok(),
            InputType::String | InputType::Environment => true,
        };
        if !fits {
            problems.push(match input.input_type {
                InputType::Choice => format!(
                    "'{}' must be one of {} (not '{value}')",
                    input.name,
                    input.options.join(", ")
                ),
                InputType::Boolean => format!("'{}' must be true or false", input.name),
                _ => format!("'{}' must be a number", input.name),
            });
            continue;
        }
        out.insert(input.name.clone(), value);
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_links_to_markdown_and_workflows_are_told_apart() {
        assert_eq!(
            kind_of("https://github.com/demo-org/checkout-api/blob/main/docs/runbooks/high-error-rate.md"),
            RunbookKind::Markdown {
                repo: "demo-org/checkout-api".into(),
                path: "docs/runbooks/high-error-rate.md".into(),
                git_ref: "main".into()
            }
        );
        assert_eq!(
            kind_of("https://github.com/demo-org/checkout-api/actions/workflows/drain-region.yml"),
            RunbookKind::Automated {
                repo: "demo-org/checkout-api".into(),
                workflow: "drain-region.yml".into(),
                git_ref: "main".into()
            }
        );
        for page in [
            "https://wiki.demo.opsdeck.dev/runbooks/checkout-api",
            "https://github.com/demo-org/checkout-api",
            "https://github.com/demo-org/checkout-api/blob/main/src/main.rs",
            "https://github.com/demo-org/checkout-api/blob/main/../../x.md",
            "https://github.com/../x/blob/main/a.md",
            "http://github.com/o/r/blob/main/a.md",
        ] {
            assert_eq!(kind_of(page), RunbookKind::Link, "{page}");
        }
    }

    #[test]
    fn templates_fill_known_placeholders_url_encoded_and_leave_the_rest_visible() {
        let context = LaunchContext::default()
            .with("service", Some("checkout-api"))
            .with("env", Some("prod"))
            .with("incident_id", Some("Q1 2/3&x"))
            .with("alertname", Some("HighErrorRate"))
            .with_labels(&BTreeMap::from([(
                "region".to_string(),
                "eu west".to_string(),
            )]));
        let url = expand(
            "https://wiki/{service}?env={env}&i={incident_id}&r={label.region}&v={version}&x={nope}&{",
            &context,
        );
        assert_eq!(
            url,
            "https://wiki/checkout-api?env=prod&i=Q1%202%2F3%26x&r=eu%20west&v={version}&x={nope}&{"
        );
        assert_eq!(unfilled(&url), ["version"]);
        assert_eq!(expand("plain", &context), "plain");
        assert_eq!(
            expand("{service}{service}", &context),
            "checkout-apicheckout-api"
        );
    }

    #[test]
    fn only_http_and_https_runbooks_open() {
        assert!(launchable("https://wiki/x").is_ok());
        assert!(launchable("HTTP://wiki/x").is_ok());
        for refused in [
            "javascript:alert(1)",
            "file:///etc/passwd",
            "mailto:a@b",
            "data:text/html,x",
            "wiki/x",
            "https://x\n.y",
        ] {
            let err = launchable(refused).unwrap_err();
            assert!(
                err.contains("http") || err.contains("control"),
                "{refused}: {err}"
            );
        }
    }

    const DRAIN: &str = r#"
name: Drain a region
on:
  workflow_dispatch:
    inputs:
      region:
        description: Region to drain
        required: true
        type: choice
        options: [eu-west-1, us-east-1]
      dry_run:
        description: Only print what would happen
        type: boolean
        default: true
      environment:
        type: environment
        required: true
      percent:
        type: number
        default: 100
      reason:
        description: Why (goes to the incident)
  push:
    branches: [main]
jobs:
  drain:
    runs-on: ubuntu-latest
    steps:
      - run: echo draining ${{ inputs.region }}
"#;

    #[test]
    fn workflow_inputs_are_read_from_real_workflow_syntax() {
        let inputs = workflow_inputs(DRAIN).unwrap();
        let names: Vec<&str> = inputs.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(
            names,
            ["region", "dry_run", "environment", "percent", "reason"]
        );
        assert_eq!(inputs[0].input_type, InputType::Choice);
        assert_eq!(inputs[0].options, ["eu-west-1", "us-east-1"]);
        assert!(inputs[0].required);
        assert_eq!(inputs[1].input_type, InputType::Boolean);
        assert_eq!(inputs[1].default.as_deref(), Some("true"));
        assert_eq!(inputs[2].input_type, InputType::Environment);
        assert_eq!(inputs[3].default.as_deref(), Some("100"));
        assert_eq!(inputs[4].input_type, InputType::String);
        assert!(!inputs[4].required);
        // The short forms of `on`.
        assert_eq!(
            workflow_inputs("on: workflow_dispatch\njobs: {}\n").unwrap(),
            []
        );
        assert_eq!(
            workflow_inputs("on: [push, workflow_dispatch]\n").unwrap(),
            []
        );
        assert!(workflow_inputs("on: push\n")
            .unwrap_err()
            .contains("workflow_dispatch"));
        assert!(workflow_inputs("jobs: {}\n").is_err());
        assert!(
            workflow_inputs("on: {workflow_dispatch: {inputs: {a: {type: choice}}}}\n")
                .unwrap_err()
                .contains("no options")
        );
        assert!(workflow_inputs("on: [").unwrap_err().contains("not YAML"));
        // A NUL anywhere an input is described, as YAML's escape writes it.
        for input in [
            r#""a\0b": {}"#,
            r#"a: {description: "x\0"}"#,
            r#"a: {default: "\0"}"#,
            r#"a: {type: choice, options: [ok, "n\0"]}"#,
        ] {
            let yaml = format!("on: {{workflow_dispatch: {{inputs: {{{input}}}}}}}\n");
            let said = workflow_inputs(&yaml).unwrap_err();
            assert!(
                said.contains("NUL") && !said.contains('\0'),
                "{yaml}: {said}"
            );
        }
    }

    #[test]
    fn the_context_prefills_what_inputs_name() {
        let mut inputs = workflow_inputs(DRAIN).unwrap();
        let context = LaunchContext::default()
            .with("env", Some("prod"))
            .with("service", Some("checkout-api"));
        prefill(&mut inputs, &context);
        let environment = inputs.iter().find(|i| i.name == "environment").unwrap();
        assert_eq!(environment.default.as_deref(), Some("prod"));
        let region = inputs.iter().find(|i| i.name == "region").unwrap();
        assert_eq!(
            region.default, None,
            "nothing in the context names a region"
        );
        let percent = inputs.iter().find(|i| i.name == "percent").unwrap();
        assert_eq!(percent.default.as_deref(), Some("100"), "a default stays");
    }

    #[test]
    fn given_inputs_are_checked_and_defaults_filled_in() {
        let declared = workflow_inputs(DRAIN).unwrap();
        let given = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let ok = checked_inputs(
            &declared,
            &given(&[("region", "eu-west-1"), ("environment", "prod")]),
        )
        .unwrap();
        assert_eq!(ok["dry_run"], "true");
        assert_eq!(ok["percent"], "100");
        assert!(!ok.contains_key("reason"));
        let problems = checked_inputs(
            &declared,
            &given(&[
                ("region", "mars"),
                ("dry_run", "maybe"),
                ("percent", "lots"),
                ("colour", "red"),
            ]),
        )
        .unwrap_err();
        assert_eq!(problems.len(), 5, "{problems:?}");
        assert!(problems
            .iter()
            .any(|p| p.contains("no input named 'colour'")));
        assert!(problems
            .iter()
            .any(|p| p.contains("one of eu-west-1, us-east-1")));
        assert!(problems.iter().any(|p| p == "'environment' is required"));
    }

    proptest::proptest! {
        #[test]
        fn a_value_stays_in_its_placeholders_place(
            service in "\\PC{0,30}",
            env in "\\PC{0,30}",
        ) {
            let context = LaunchContext::default()
                .with("service", Some(&service))
                .with("env", Some(&env));
            let expanded = expand("https://wiki.example/runbooks/{service}/steps?env={env}#top", &context);
            let url = url::Url::parse(&expanded).unwrap();
            proptest::prop_assert_eq!(url.host_str(), Some("wiki.example"));
            proptest::prop_assert_eq!(url.fragment(), Some("top"));
            let segments: Vec<&str> = url.path_segments().unwrap().collect();
            proptest::prop_assert_eq!(segments.len(), 3);
            proptest::prop_assert_eq!(segments[0], "runbooks");
            proptest::prop_assert_eq!(segments[2], "steps");
            let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
            proptest::prop_assert_eq!(pairs.len(), 1);
            // A dot segment is left as written, and said to be unfilled.
            let shown = match env.as_str() {
                "." | ".." => "{env}".to_string(),
                _ => env.clone(),
            };
            if !env.is_empty() {
                proptest::prop_assert_eq!(&pairs[0], &("env".to_string(), shown));
            }
        }
    }
}
