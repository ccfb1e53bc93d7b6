//! Catalog files as text: multi-document YAML turned into entities. Documents are split before
//! parsing so that one malformed document costs only itself, and every error names its line.

use serde_json::Value;

use super::entity::Entity;
use super::text::without_nul;

/// A document that could not become an entity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentError {
    /// 1-based line in the file where the problem is (or where the document starts).
    pub line: usize,
    /// What is wrong, in words a catalog author can act on.
    pub message: String,
}

/// An entity and the 1-based line its document starts on.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedEntity {
    /// The entity.
    pub entity: Entity,
    /// Line of the document's first line.
    pub line: usize,
}

/// Parses every YAML document in `text`. Empty documents are skipped; each failing document
/// yields one error and the others still parse.
pub fn parse_catalog_documents(text: &str) -> Vec<Result<ParsedEntity, DocumentError>> {
    split_documents(text)
        .into_iter()
        .filter(|(_, body)| !is_blank_document(body))
        .map(|(start, body)| parse_document(start, &body))
        .collect()
}

/// Splits on `---` / `...` marker lines, returning each document's first line (1-based) and body.
fn split_documents(text: &str) -> Vec<(usize, String)> {
    let mut docs = Vec::new();
    let mut start = 1;
    let mut body = String::new();
    for (index, line) in text.lines().enumerate() {
        let is_marker =
            line == "---" || line.starts_with("--- ") || line.starts_with("---\t") || line == "...";
        if is_marker {
            docs.push((start, std::mem::take(&mut body)));
            start = index + 2;
            // `--- key: value` starts a document on the marker line itself.
            if let Some(rest) = line.strip_prefix("---").filter(|r| !r.trim().is_empty()) {
                body.push_str(rest.trim_start());
                body.push('\n');
                start = index + 1;
            }
        } else {
            body.push_str(line);
            body.push('\n');
        }
    }
    docs.push((start, body));
    docs
}

fn is_blank_document(body: &str) -> bool {
    body.lines().all(|l| {
        let t = l.trim();
        t.is_empty() || t.starts_with('#') || t.starts_with('%')
    })
}

fn parse_document(start: usize, body: &str) -> Result<ParsedEntity, DocumentError> {
    let mut value: Value = serde_norway::from_str(body).map_err(|e| DocumentError {
        line: start + e.location().map_or(0, |l| l.line().saturating_sub(1)),
        message: format!("invalid YAML: {}", strip_location(&e.to_string())),
    })?;
    replace_nul(&mut value);
    let at_start = |message: String| DocumentError {
        line: start,
        message,
    };
    if !value.is_object() {
        return Err(at_start(
            "document is not a mapping (expected an entity with apiVersion, kind and metadata)"
                .into(),
        ));
    }
    for field in ["apiVersion", "kind"] {
        if !value.get(field).is_some_and(Value::is_string) {
            return Err(at_start(format!("entity has no '{field}'")));
        }
    }
    let name = value
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .ok_or_else(|| at_start("entity has no 'metadata.name'".into()))?;
    validate_name(name).map_err(at_start)?;
    let entity: Entity = serde_json::from_value(value)
        .map_err(|e| at_start(format!("entity does not match the catalog model: {e}")))?;
    Ok(ParsedEntity {
        entity,
        line: start,
    })
}

/// Every NUL in `value`'s strings and keys (YAML's `"\\0"`) made U+FFFD, as
/// [`without_nul`] says why.
fn replace_nul(value: &mut Value) {
    match value {
        Value::String(text) if text.contains('\0') => *text = without_nul(text).into_owned(),
        Value::Array(items) => items.iter_mut().for_each(replace_nul),
        Value::Object(map) => {
            if map.keys().any(|key| key.contains('\0')) {
                *map = std::mem::take(map)
                    .into_iter()
                    .map(|(key, child)| (without_nul(&key).into_owned(), child))
                    .collect();
            }
            map.values_mut().for_each(replace_nul);
        }
        _ => {}
    }
}

/// Backstage's name rule: 1–63 characters, `[a-zA-Z0-9]` runs joined by `-`, `_` or `.`.
pub fn validate_name(name: &str) -> Result<(), String> {
    let ok_len = (1..=63).contains(&name.len());
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    let ok_ends = name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok_len && ok_chars && ok_ends {
        Ok(())
    } else {
        Err(format!(
            "metadata.name '{name}' is not a valid entity name (1-63 letters, digits, '-', '_', '.')"
        ))
    }
}

fn strip_location(message: &str) -> &str {
    message
        .split(" at line ")
        .next()
        .unwrap_or(message)
        .trim_end()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: checkout\nspec:\n  type: team\n  children: []\n";

    #[test]
    fn a_nul_in_yaml_becomes_a_replacement_character() {
        let text = GOOD.replace(
            "spec:",
            "  description: \"a\\0b\"\n  annotations: {\"k\\0\": \"\\0\"}\nspec:",
        );
        let entity = parse_catalog_documents(&text).remove(0).unwrap().entity;
        let metadata = serde_json::to_string(&entity.metadata).unwrap();
        assert!(!metadata.contains("\\u0000"), "{metadata}");
        assert_eq!(entity.metadata.description.as_deref(), Some("a\u{FFFD}b"));
        assert_eq!(entity.metadata.annotations["k\u{FFFD}"], "\u{FFFD}");
    }

    #[test]
    fn several_documents_parse_with_their_lines() {
        let text = format!("# header\n---\n{GOOD}---\n{GOOD}");
        let docs = parse_catalog_documents(&text);
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].as_ref().unwrap().line, 3);
        assert_eq!(docs[1].as_ref().unwrap().line, 11);
    }

    #[test]
    fn a_malformed_document_costs_only_itself_and_names_its_line() {
        let text = format!("{GOOD}---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: [unclosed\n---\n{GOOD}");
        let docs = parse_catalog_documents(&text);
        assert_eq!(docs.len(), 3);
        assert!(docs[0].is_ok());
        let err = docs[1].as_ref().unwrap_err();
        assert!(err.message.starts_with("invalid YAML"), "{err:?}");
        assert!(
            (9..=13).contains(&err.line),
            "line {} should point into the 2nd document",
            err.line
        );
        assert!(docs[2].is_ok());
    }

    #[test]
    fn missing_fields_and_bad_names_are_explained() {
        let docs = parse_catalog_documents("kind: Component\nmetadata:\n  name: x\n---\napiVersion: v1\nkind: Component\nmetadata:\n  name: 'bad name!'\n---\n- a list\n");
        let msgs: Vec<_> = docs
            .iter()
            .map(|d| d.as_ref().unwrap_err().clone())
            .collect();
        assert_eq!(msgs[0].line, 1);
        assert!(msgs[0].message.contains("apiVersion"));
        assert_eq!(msgs[1].line, 5);
        assert!(msgs[1].message.contains("not a valid entity name"));
        assert!(msgs[2].message.contains("not a mapping"));
    }

    #[test]
    fn name_rule_matches_backstage() {
        for ok in ["a", "checkout-api", "v1.2_x", &"a".repeat(63)] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-a", "a-", "a b", "a/b", "a:b", &"a".repeat(64)] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }
}
