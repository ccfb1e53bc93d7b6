//! The sources editor's changes, for both faces: the config file edited in place (comments and
//! order kept, nothing written that does not load) and a typed token put in the OS keychain
//! under the source's name and host, moved with it when either changes.

use std::path::Path;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::config::{Config, SourceConfig};
use crate::config_file::{ConfigFile, SourceForm};
use crate::error::{Error, Result};
use crate::secrets::Secrets;

/// A source as the editor sends it: the form, the name it had (none for a new source) and a
/// token typed into it, which goes to the keychain and is never sent back.
#[derive(Debug, Clone, Deserialize, TS)]
#[ts(export)]
pub struct SourceDraft {
    /// The name the source had when the editor opened it; none for a new source.
    pub previous_name: Option<String>,
    /// What the form says.
    pub form: SourceForm,
    /// A token typed into the form (none: keep what the keychain or `token_env` has).
    pub token: Option<String>,
}

/// A configured source as the editor shows it.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct EditableSource {
    /// What the file says.
    pub form: SourceForm,
    /// Where its token comes from (`env GITHUB_TOKEN`, `keychain`), never the token; none when
    /// it has none.
    pub token_origin: Option<String>,
    /// Why a token it needs cannot be had, in words.
    pub token_problem: Option<String>,
}

/// The config file as the editor shows it.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct SourcesFile {
    /// Where it is.
    pub path: String,
    /// Whether it exists yet.
    pub exists: bool,
    /// Its sources, in precedence order.
    pub sources: Vec<EditableSource>,
    /// `[identity] email`.
    pub identity: Option<String>,
}

/// The file at `path` as the editor shows it. A file that does not load as a config is its
/// error, so the editor never writes over what it could not read.
pub fn sources_file(path: &Path, secrets: &Secrets) -> Result<SourcesFile> {
    let file = ConfigFile::open(path)?;
    let config = Config::parse(&file.text(), path)?;
    let sources = file
        .sources()
        .into_iter()
        .map(|form| {
            let token = config.source(&form.name).map(|s| secrets.token_for(s));
            EditableSource {
                token_origin: token
                    .as_ref()
                    .and_then(|t| t.as_ref().ok()?.as_ref().map(|t| t.origin.clone())),
                token_problem: token.and_then(|t| t.err()).map(|e| e.detail()),
                form,
            }
        })
        .collect();
    Ok(SourcesFile {
        path: path.display().to_string(),
        exists: path.exists(),
        sources,
        identity: file.identity(),
    })
}

/// The config `path` would hold with `draft` saved, and the draft's source in it; nothing is
/// written. A name another source has is refused: saving would overwrite that source.
pub fn draft_config(path: &Path, draft: &SourceDraft) -> Result<Config> {
    let mut file = ConfigFile::open(path)?;
    apply(&mut file, draft)?;
    Ok(Config::parse(&file.text(), path)?)
}

/// Saves `draft` into the file at `path` and its token (typed, or the one the source had under
/// its old name or host) into the keychain: the config now in force.
pub fn save_source(path: &Path, draft: &SourceDraft, secrets: &Secrets) -> Result<Config> {
    let mut file = ConfigFile::open(path)?;
    let before = Config::parse(&file.text(), path)?;
    apply(&mut file, draft)?;
    let config = file.save()?;
    let saved = config
        .source(&draft.form.name)
        .expect("the draft's source was just written");
    let typed = draft
        .token
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let previous = draft
        .previous_name
        .as_deref()
        .and_then(|name| before.source(name));
    match (typed, previous) {
        (Some(token), previous) => {
            secrets.store_in_keychain(saved, token)?;
            if let Some(previous) = previous.filter(|p| keychain_moved(p, saved)) {
                let _ = secrets.forget_in_keychain(&crate::secrets::keychain_account(previous));
            }
        }
        (None, Some(previous)) if keychain_moved(previous, saved) => {
            secrets.move_in_keychain(previous, saved)?;
        }
        (None, _) => {}
    }
    Ok(config)
}

/// Removes the source named `name` from the file at `path` and forgets its keychain token:
/// the config now in force.
pub fn remove_source(path: &Path, name: &str, secrets: &Secrets) -> Result<Config> {
    let mut file = ConfigFile::open(path)?;
    let before = Config::parse(&file.text(), path)?;
    if !file.remove_source(name) {
        return Err(Error::UnknownSource(name.to_string()));
    }
    let config = file.save()?;
    if let Some(removed) = before.source(name) {
        // A token left behind would be found again by a source re-added under the same name.
        let _ = secrets.forget_in_keychain(&crate::secrets::keychain_account(removed));
    }
    Ok(config)
}

/// Moves the source named `name` to `index` in precedence order: the config now in force.
pub fn move_source(path: &Path, name: &str, index: usize) -> Result<Config> {
    let mut file = ConfigFile::open(path)?;
    if !file.move_source(name, index) {
        return Err(Error::UnknownSource(name.to_string()));
    }
    Ok(file.save()?)
}

/// Sets `[identity] email` in the file at `path`: the config now in force.
pub fn set_identity(path: &Path, email: &str) -> Result<Config> {
    let email = email.trim();
    if !plausible_email(email) {
        return Err(Error::Refused(format!(
            "{email:?} is not an email address: the identity is the email your platforms know you by"
        )));
    }
    let mut file = ConfigFile::open(path)?;
    file.set_identity(email);
    Ok(file.save()?)
}

/// Sets `[desktop] keep_running_in_tray` in the file at `path`: the config now in force.
pub fn set_keep_running_in_tray(path: &Path, on: bool) -> Result<Config> {
    let mut file = ConfigFile::open(path)?;
    file.set_keep_running_in_tray(on);
    Ok(file.save()?)
}

/// Whether `email` can be an address: one `@` at least, no spaces or control characters, and
/// no longer than an address may be.
pub(crate) fn plausible_email(email: &str) -> bool {
    email.contains('@')
        && email.len() <= 254
        && !email.chars().any(|c| c.is_control() || c.is_whitespace())
}

fn apply(file: &mut ConfigFile, draft: &SourceDraft) -> Result<()> {
    let name = draft.form.name.trim();
    if name.is_empty() {
        return Err(Error::Refused("a source needs a name".into()));
    }
    let taken = |file: &ConfigFile| file.source(name).is_some();
    match draft.previous_name.as_deref() {
        Some(previous) if previous == name && !taken(file) => {
            return Err(Error::UnknownSource(previous.to_string()));
        }
        Some(previous) if previous == name => {}
        Some(previous) => {
            if taken(file) {
                return Err(name_taken(name));
            }
            if !file.rename_source(previous, name) {
                return Err(Error::UnknownSource(previous.to_string()));
            }
        }
        None if taken(file) => return Err(name_taken(name)),
        None => {}
    }
    file.put_source(&SourceForm {
        name: name.to_string(),
        ..draft.form.clone()
    });
    Ok(())
}

fn name_taken(name: &str) -> Error {
    Error::Refused(format!(
        "a source named '{name}' exists already: give this one another name, or edit that one"
    ))
}

/// Whether a token kept for `before` is kept elsewhere for `after` (a new name or host).
fn keychain_moved(before: &SourceConfig, after: &SourceConfig) -> bool {
    crate::secrets::keychain_account(before) != crate::secrets::keychain_account(after)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SourceKind;

    const WRITTEN: &str = r#"# Ours.
[[sources]]
name = "pagerduty" # paging
kind = "pagerduty"

[[sources]]
name = "github"
kind = "github"
token_env = "OPSDECK_TEST_UNSET_GITHUB_TOKEN"
"#;

    fn draft(previous: Option<&str>, name: &str, url: &str, token: Option<&str>) -> SourceDraft {
        SourceDraft {
            previous_name: previous.map(Into::into),
            form: SourceForm {
                name: name.into(),
                kind: SourceKind::Pagerduty,
                url: Some(url.into()),
                token_env: None,
                path: None,
                interval: None,
            },
            token: token.map(Into::into),
        }
    }

    fn written() -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("opsdeck.toml");
        std::fs::write(&path, WRITTEN).unwrap();
        (dir, path)
    }

    #[test]
    fn a_typed_token_goes_to_the_keychain_and_moves_with_the_source() {
        let (_dir, path) = written();
        let secrets = Secrets::with_test_keychain();
        let config = save_source(
            &path,
            &draft(
                Some("pagerduty"),
                "pagerduty",
                "https://pd.example.com",
                Some(" t0k "),
            ),
            &secrets,
        )
        .unwrap();
        let token = secrets.token_for(config.source("pagerduty").unwrap());
        assert_eq!(token.unwrap().unwrap().value, "t0k");
        assert!(!std::fs::read_to_string(&path).unwrap().contains("t0k"));

        let config = save_source(
            &path,
            &draft(Some("pagerduty"), "paging", "https://pd2.example.com", None),
            &secrets,
        )
        .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("name = \"paging\" # paging"), "{text}");
        let moved = secrets.token_for(config.source("paging").unwrap()).unwrap();
        assert_eq!(moved.unwrap().origin, "keychain");
        let file = sources_file(&path, &secrets).unwrap();
        assert_eq!(file.sources[0].token_origin.as_deref(), Some("keychain"));
        let problem = file.sources[1].token_problem.as_deref().unwrap();
        assert!(
            problem.contains("OPSDECK_TEST_UNSET_GITHUB_TOKEN"),
            "{problem}"
        );

        remove_source(&path, "paging", &secrets).unwrap();
        let gone = secrets.token_for(&SourceConfig {
            name: "paging".into(),
            ..config.source("paging").unwrap().clone()
        });
        assert!(
            gone.unwrap().is_none(),
            "a removed source's token is forgotten"
        );
    }

    #[test]
    fn names_are_never_taken_twice_and_bad_drafts_write_nothing() {
        let (_dir, path) = written();
        let secrets = Secrets::with_test_keychain();
        let error = save_source(
            &path,
            &draft(None, "github", "https://pd.example.com", None),
            &secrets,
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("'github' exists already"), "{error}");
        let error = save_source(
            &path,
            &draft(Some("pagerduty"), "github", "https://pd.example.com", None),
            &secrets,
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("'github' exists already"), "{error}");
        let error = draft_config(&path, &draft(None, "new", "not a url", None))
            .unwrap_err()
            .to_string();
        assert!(error.contains("url"), "{error}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), WRITTEN);
        assert!(set_identity(&path, "not an email").is_err());
        assert_eq!(
            set_identity(&path, "dana@example.com")
                .unwrap()
                .identity
                .email
                .as_deref(),
            Some("dana@example.com")
        );
        assert!(
            !set_keep_running_in_tray(&path, false)
                .unwrap()
                .desktop
                .keep_running_in_tray
        );
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("[desktop]\nkeep_running_in_tray = false"),
            "{text}"
        );
        move_source(&path, "github", 0).unwrap();
        let names: Vec<String> = sources_file(&path, &secrets)
            .unwrap()
            .sources
            .into_iter()
            .map(|s| s.form.name)
            .collect();
        assert_eq!(names, ["github", "pagerduty"]);
    }
}
