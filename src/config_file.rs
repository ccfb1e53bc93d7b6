//! `opsdeck.toml` edited in place: a source added, changed, removed or moved, and the identity
//! set, keeping the user's comments, order and every field Opsdeck does not edit. Nothing is
//! written that does not load as a [`Config`].

use std::path::{Path, PathBuf};

use toml_edit::{ArrayOfTables, DocumentMut, Item, Table, TableLike};

use crate::config::{Config, ConfigError, SourceKind};

/// A source as a form sets it: the fields a person fills in. The others a source may have
/// (`timeout`, `ca_file`, …) are kept as written.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct SourceForm {
    /// Unique name.
    pub name: String,
    /// Platform.
    pub kind: SourceKind,
    /// Base URL (none for catalog files; PagerDuty's and GitHub.com's by default).
    pub url: Option<String>,
    /// Environment variable holding the token (none: the keychain, or no token).
    pub token_env: Option<String>,
    /// Directory of catalog files.
    pub path: Option<String>,
    /// Sync interval, as written: `60s`, `5m` (none: the default).
    pub interval: Option<String>,
}

/// The config file as text and as edits to it.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    path: PathBuf,
    document: DocumentMut,
}

impl ConfigFile {
    /// The file at `path`, or an empty one when there is none yet.
    pub fn open(path: &Path) -> Result<Self, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        let document = text
            .parse::<DocumentMut>()
            .map_err(|e| ConfigError::Invalid {
                path: path.to_path_buf(),
                message: crate::text::one_line(&e.to_string(), 300),
            })?;
        Ok(Self {
            path: path.to_path_buf(),
            document,
        })
    }

    /// The source named `name` as a form would show it.
    pub fn source(&self, name: &str) -> Option<SourceForm> {
        self.sources().into_iter().find(|form| form.name == name)
    }

    /// Every source as a form would show it, in the file's (precedence) order.
    pub fn sources(&self) -> Vec<SourceForm> {
        let Some(tables) = self
            .document
            .get("sources")
            .and_then(Item::as_array_of_tables)
        else {
            return Vec::new();
        };
        tables.iter().filter_map(form_of).collect()
    }

    /// The identity's email as written.
    pub fn identity(&self) -> Option<String> {
        self.document
            .get("identity")?
            .get("email")?
            .as_str()
            .map(str::to_string)
    }

    /// Renames the source named `from` to `to` in place: whether there was one.
    pub fn rename_source(&mut self, from: &str, to: &str) -> bool {
        let Some(table) = self
            .sources_mut()
            .iter_mut()
            .find(|t| t.get("name").and_then(Item::as_str) == Some(from))
        else {
            return false;
        };
        set_keeping_comment(table, "name", to);
        true
    }

    /// Sets `[identity] email`.
    pub fn set_identity(&mut self, email: &str) {
        let identity = self.document["identity"].or_insert(Item::Table(Table::new()));
        if let Some(table) = identity.as_table_like_mut() {
            set_keeping_comment(table, "email", email);
        }
    }

    /// Sets `[desktop] keep_running_in_tray`.
    pub fn set_keep_running_in_tray(&mut self, on: bool) {
        let desktop = self.document["desktop"].or_insert(Item::Table(Table::new()));
        if let Some(table) = desktop.as_table_like_mut() {
            set_keeping_comment(table, "keep_running_in_tray", on);
        }
    }

    /// Puts `form` in: into the source of the same name (its other fields and comments kept),
    /// or as a new source after the others.
    pub fn put_source(&mut self, form: &SourceForm) {
        let sources = self.sources_mut();
        let at = sources
            .iter()
            .position(|t| t.get("name").and_then(Item::as_str) == Some(form.name.as_str()));
        let table = match at {
            Some(index) => sources.get_mut(index).expect("found above"),
            None => {
                sources.push(Table::new());
                let last = sources.len() - 1;
                sources.get_mut(last).expect("pushed above")
            }
        };
        set_keeping_comment(table, "name", &form.name);
        set_keeping_comment(table, "kind", form.kind.as_str());
        for (key, field) in [
            ("url", &form.url),
            ("token_env", &form.token_env),
            ("path", &form.path),
            ("interval", &form.interval),
        ] {
            match field.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
                Some(text) => set_keeping_comment(table, key, text),
                None => {
                    table.remove(key);
                }
            }
        }
    }

    /// Removes the source named `name`: whether there was one.
    pub fn remove_source(&mut self, name: &str) -> bool {
        let sources = self.sources_mut();
        let before = sources.len();
        sources.retain(|t| t.get("name").and_then(Item::as_str) != Some(name));
        sources.len() != before
    }

    /// Moves the source named `name` to `index` among the sources (precedence order): whether
    /// there was one. The places the sources held in the file are kept; only who holds which
    /// changes.
    pub fn move_source(&mut self, name: &str, index: usize) -> bool {
        let sources = self.sources_mut();
        let mut tables: Vec<Table> = sources.iter().cloned().collect();
        let Some(from) = tables
            .iter()
            .position(|t| t.get("name").and_then(Item::as_str) == Some(name))
        else {
            return false;
        };
        let places: Vec<Option<isize>> = tables.iter().map(Table::position).collect();
        let moved = tables.remove(from);
        tables.insert(index.min(tables.len()), moved);
        sources.clear();
        for (i, (mut table, place)) in tables.into_iter().zip(places).enumerate() {
            if let Some(place) = place {
                table.set_position(Some(place));
            }
            // A source that was first may have had no blank line above it.
            let prefix = table
                .decor()
                .prefix()
                .and_then(|p| p.as_str())
                .unwrap_or("")
                .to_string();
            if i > 0 && !prefix.starts_with('\n') {
                table.decor_mut().set_prefix(format!("\n{prefix}"));
            }
            sources.push(table);
        }
        true
    }

    /// The file's text as it stands.
    pub fn text(&self) -> String {
        self.document.to_string()
    }

    /// Writes the file (whole, or not at all), once its text loads as a config: the config
    /// it is. Nothing is written when it does not.
    pub fn save(&self) -> Result<Config, ConfigError> {
        let text = self.text();
        let config = Config::parse(&text, &self.path)?;
        let write = || -> std::io::Result<()> {
            if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            let partial = self.path.with_extension("toml.partial");
            std::fs::write(&partial, &text)?;
            std::fs::rename(&partial, &self.path)
        };
        write().map_err(|source| ConfigError::Read {
            path: self.path.clone(),
            source,
        })?;
        Ok(config)
    }

    fn sources_mut(&mut self) -> &mut ArrayOfTables {
        let item = self.document["sources"].or_insert(Item::ArrayOfTables(ArrayOfTables::new()));
        if !item.is_array_of_tables() {
            *item = Item::ArrayOfTables(ArrayOfTables::new());
        }
        item.as_array_of_tables_mut().expect("made one above")
    }
}

/// A `[[sources]]` table as a form; none when it has no name or no kind Opsdeck knows.
fn form_of(table: &Table) -> Option<SourceForm> {
    let text = |key: &str| table.get(key).and_then(Item::as_str).map(str::to_string);
    Some(SourceForm {
        name: text("name")?,
        kind: table
            .get("kind")
            .and_then(Item::as_str)
            .and_then(|k| toml::Value::String(k.into()).try_into().ok())?,
        url: text("url"),
        token_env: text("token_env"),
        path: text("path"),
        interval: text("interval"),
    })
}

/// Sets `key` to `value`, keeping the comment written after the value it replaces.
fn set_keeping_comment(table: &mut dyn TableLike, key: &str, value: impl Into<toml_edit::Value>) {
    let mut new = value.into();
    if let Some(old) = table.get(key).and_then(Item::as_value) {
        *new.decor_mut() = old.decor().clone();
    }
    table.insert(key, Item::Value(new));
}

#[cfg(test)]
mod tests {
    use super::*;

    const WRITTEN: &str = r#"# Our platforms. Keep the catalog first: it wins.

[identity]
email = "old@example.com" # who I am

# The real catalog.
[[sources]]
name = "catalog"
kind = "backstage"
url = "https://backstage.example.com"
token_env = "BACKSTAGE_TOKEN"
timeout = "20s" # it is slow on Mondays

# Paging.
[[sources]]
name = "pagerduty"
kind = "pagerduty"
token_env = "PAGERDUTY_TOKEN"

[delivery]
environments = ["staging", "prod"]
"#;

    fn file() -> (tempfile::TempDir, ConfigFile) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("opsdeck.toml");
        std::fs::write(&path, WRITTEN).unwrap();
        let file = ConfigFile::open(&path).unwrap();
        (dir, file)
    }

    fn form(name: &str, kind: SourceKind, url: Option<&str>) -> SourceForm {
        SourceForm {
            name: name.into(),
            kind,
            url: url.map(Into::into),
            token_env: None,
            path: None,
            interval: None,
        }
    }

    #[test]
    fn an_untouched_file_round_trips_byte_for_byte() {
        let (_dir, file) = file();
        assert_eq!(file.text(), WRITTEN);
        let paging = file.source("pagerduty").unwrap();
        assert_eq!(paging.kind, SourceKind::Pagerduty);
        assert_eq!(paging.token_env.as_deref(), Some("PAGERDUTY_TOKEN"));
        assert_eq!(paging.url, None);
        assert!(file.source("nowhere").is_none());
    }

    #[test]
    fn edits_keep_comments_order_and_fields_not_edited() {
        let (dir, mut file) = file();
        file.set_identity("dana@example.com");
        let mut catalog = form(
            "catalog",
            SourceKind::Backstage,
            Some("https://bs.example.com"),
        );
        catalog.token_env = Some("BS_TOKEN".into());
        catalog.interval = Some("2m".into());
        file.put_source(&catalog);
        file.put_source(&form(
            "argocd",
            SourceKind::Argocd,
            Some("https://argo.example.com"),
        ));
        let config = file.save().unwrap();
        let text = std::fs::read_to_string(dir.path().join("opsdeck.toml")).unwrap();
        for kept in [
            "# Our platforms. Keep the catalog first: it wins.",
            "email = \"dana@example.com\" # who I am",
            "# The real catalog.",
            "timeout = \"20s\" # it is slow on Mondays",
            "# Paging.",
            "environments = [\"staging\", \"prod\"]",
        ] {
            assert!(text.contains(kept), "{kept} lost:\n{text}");
        }
        assert!(text.contains("url = \"https://bs.example.com\""), "{text}");
        assert!(!text.contains("BACKSTAGE_TOKEN"), "{text}");
        let names: Vec<&str> = config.sources.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["catalog", "pagerduty", "argocd"]);
        assert_eq!(
            config.sources[0].interval,
            std::time::Duration::from_secs(120)
        );
        assert_eq!(
            config.sources[0].timeout,
            std::time::Duration::from_secs(20)
        );
        assert_eq!(config.identity.email.as_deref(), Some("dana@example.com"));
    }

    #[test]
    fn sources_move_and_go_with_their_comments() {
        let (_dir, mut file) = file();
        assert!(file.move_source("pagerduty", 0));
        let text = file.text();
        let paging = text.find("# Paging.").unwrap();
        let real = text.find("# The real catalog.").unwrap();
        assert!(paging < real, "{text}");
        assert!(
            text.find("[delivery]").unwrap() > real,
            "other tables stay where they were:\n{text}"
        );
        let config = file.save().unwrap();
        assert_eq!(config.sources[0].name, "pagerduty");
        assert!(file.remove_source("pagerduty"));
        assert!(!file.remove_source("pagerduty"));
        assert!(!file.move_source("nowhere", 0));
        assert!(!file.text().contains("# Paging."));
    }

    #[test]
    fn a_rename_keeps_the_source_where_it_was_with_its_comments() {
        let (_dir, mut file) = file();
        assert!(file.rename_source("catalog", "backstage"));
        assert!(!file.rename_source("nowhere", "x"));
        let names: Vec<String> = file.sources().into_iter().map(|f| f.name).collect();
        assert_eq!(names, ["backstage", "pagerduty"]);
        assert!(file
            .text()
            .contains("# The real catalog.\n[[sources]]\nname = \"backstage\""));
        assert_eq!(file.identity().as_deref(), Some("old@example.com"));
    }

    #[test]
    fn nothing_is_written_that_does_not_load() {
        let (dir, mut file) = file();
        file.put_source(&form("alerts", SourceKind::Alertmanager, None));
        let error = file.save().unwrap_err().to_string();
        assert!(error.contains("kind alertmanager needs 'url'"), "{error}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("opsdeck.toml")).unwrap(),
            WRITTEN
        );
    }

    #[test]
    fn a_new_file_is_written_from_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/opsdeck.toml");
        let mut file = ConfigFile::open(&path).unwrap();
        file.set_identity("dana@example.com");
        file.put_source(&form("pagerduty", SourceKind::Pagerduty, None));
        let config = file.save().unwrap();
        assert_eq!(
            config.sources[0].url.as_deref(),
            Some(crate::config::PAGERDUTY_API)
        );
        assert!(path.exists());
    }
}
