//! Tokens: from the environment variable a source names, else from the OS keychain where
//! `opsdeck login` put them. Never from the config file, never written to the cache or logs.

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::SourceConfig;
use crate::text::one_line;

/// Keychain service name under which tokens are stored, one entry per source name and host.
pub const KEYCHAIN_SERVICE: &str = "opsdeck";

/// Why no token could be had for a source that needs one, or could not be stored.
#[derive(Debug, Clone)]
pub enum TokenError {
    /// Neither the env var nor the keychain has a token.
    Missing {
        /// The source (or the shared audit log).
        source_name: String,
        /// What is missing: a token, a password.
        what: &'static str,
        /// The env var it names.
        env: String,
        /// Why the keychain did not help, when it could not be reached.
        keychain_note: String,
    },
    /// Storing a token in the keychain failed.
    StoreFailed {
        /// The source.
        source_name: String,
        /// The keychain's error.
        reason: String,
        /// What to do instead.
        hint: String,
    },
}

impl TokenError {
    /// What went wrong and what to do, without the source's name (callers that already name
    /// the source, such as a connector error, use this).
    pub fn detail(&self) -> String {
        match self {
            Self::Missing {
                source_name,
                what,
                env,
                keychain_note,
            } => {
                // Not "no token: set …": a log scrubs what follows "token:" as a credential.
                format!("no {what}; set {env} or run `opsdeck login {source_name}`{keychain_note}")
            }
            Self::StoreFailed { reason, hint, .. } => {
                format!("cannot store the token in the OS keychain ({reason}); set {hint} instead")
            }
        }
    }
}

impl std::fmt::Display for TokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (Self::Missing { source_name, .. } | Self::StoreFailed { source_name, .. }) = self;
        write!(f, "{source_name}: {}", self.detail())
    }
}

impl std::error::Error for TokenError {}

/// A token and where it came from (the origin, never the value, may be shown to people).
#[derive(Clone)]
pub struct Token {
    /// The secret itself.
    pub value: String,
    /// `env BACKSTAGE_TOKEN`, `keychain`, `embedded sandbox` or `the form`.
    pub origin: String,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Token(<redacted>, from {})", self.origin)
    }
}

/// Where tokens are kept between runs, by account ([`keychain_account`]): the OS keychain,
/// or a map in tests.
trait Keychain: Send + Sync + std::fmt::Debug {
    fn get(&self, account: &str) -> Result<Option<String>, String>;
    fn set(&self, account: &str, token: &str) -> Result<(), String>;
    /// Whether there was an entry to delete.
    fn delete(&self, account: &str) -> Result<bool, String>;
}

/// The OS keychain: Secret Service, macOS Keychain or Windows Credential Manager.
#[derive(Debug)]
struct OsKeychain;

impl OsKeychain {
    fn entry(account: &str) -> Result<keyring::Entry, String> {
        keyring::Entry::new(KEYCHAIN_SERVICE, account).map_err(reason)
    }
}

/// The keychain's error, in one line.
fn reason(error: keyring::Error) -> String {
    one_line(&error.to_string(), 300)
}

impl Keychain for OsKeychain {
    fn get(&self, account: &str) -> Result<Option<String>, String> {
        match Self::entry(account)?.get_password() {
            Ok(value) => Ok(Some(value)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(reason(e)),
        }
    }

    fn set(&self, account: &str, token: &str) -> Result<(), String> {
        Self::entry(account)?.set_password(token).map_err(reason)
    }

    fn delete(&self, account: &str) -> Result<bool, String> {
        match Self::entry(account)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring::Error::NoEntry) => Ok(false),
            Err(e) => Err(reason(e)),
        }
    }
}

/// The keychain account of `source`'s token: its name and the host (and port) its token goes
/// to, so two configs with a source of the same name never share a token. A source without
/// a URL is keyed by its name alone.
pub fn keychain_account(source: &SourceConfig) -> String {
    let host = source
        .url
        .as_deref()
        .and_then(|url| url::Url::parse(url).ok())
        .and_then(|url| {
            let host = url.host_str()?.to_ascii_lowercase();
            Some(match url.port() {
                Some(port) => format!("{host}:{port}"),
                None => host,
            })
        });
    match host {
        Some(host) => format!("{}@{host}", source.name),
        None => source.name.clone(),
    }
}

/// A keychain in memory, for tests.
#[cfg(test)]
#[derive(Debug, Default)]
struct MapKeychain(std::sync::Mutex<HashMap<String, String>>);

#[cfg(test)]
impl Keychain for MapKeychain {
    fn get(&self, account: &str) -> Result<Option<String>, String> {
        Ok(self.0.lock().unwrap().get(account).cloned())
    }
    fn set(&self, account: &str, token: &str) -> Result<(), String> {
        self.0.lock().unwrap().insert(account.into(), token.into());
        Ok(())
    }
    fn delete(&self, account: &str) -> Result<bool, String> {
        Ok(self.0.lock().unwrap().remove(account).is_some())
    }
}

/// Resolves tokens for sources.
#[derive(Debug, Clone)]
pub struct Secrets {
    /// Tokens given in process by the embedded sandbox, by source name; they never touch the
    /// environment or the keychain.
    embedded: HashMap<String, String>,
    /// Where the embedded tokens came from, as said to people.
    embedded_origin: &'static str,
    keychain: Arc<dyn Keychain>,
}

impl Default for Secrets {
    fn default() -> Self {
        Self::with_embedded(HashMap::new())
    }
}

impl Secrets {
    /// A resolver that also knows the embedded sandbox's tokens.
    pub fn with_embedded(embedded: HashMap<String, String>) -> Self {
        Self {
            embedded,
            embedded_origin: "embedded sandbox",
            keychain: Arc::new(OsKeychain),
        }
    }

    /// A resolver whose token for `source` is one typed into a form, not yet stored anywhere.
    pub fn with_typed(source: &str, token: &str) -> Self {
        Self {
            embedded_origin: "the form",
            ..Self::with_embedded([(source.to_string(), token.to_string())].into())
        }
    }

    /// The token for `source`. `Ok(None)` means the source names no env var and the keychain
    /// holds nothing for it: the request goes out unauthenticated, as for a Backstage with guest
    /// access. A source that names an env var must end up with a token.
    pub fn token_for(&self, source: &SourceConfig) -> Result<Option<Token>, TokenError> {
        self.secret(
            (&source.name, "token"),
            source.token_env.as_deref(),
            &keychain_account(source),
        )
    }

    /// The secret of `name` (a source's token, the shared audit log's password: `what`): the
    /// embedded one, else the one in the env var `env` names, else the keychain's under
    /// `account`. One that names an env var must be found.
    pub fn secret(
        &self,
        (name, what): (&str, &'static str),
        env: Option<&str>,
        account: &str,
    ) -> Result<Option<Token>, TokenError> {
        let token = self.find_secret((name, what), env, account)?;
        if let Some(token) = &token {
            crate::logging::redact(&token.value);
        }
        Ok(token)
    }

    fn find_secret(
        &self,
        (name, what): (&str, &'static str),
        env: Option<&str>,
        account: &str,
    ) -> Result<Option<Token>, TokenError> {
        if let Some(value) = self.embedded.get(name) {
            return Ok(Some(Token {
                value: value.clone(),
                origin: self.embedded_origin.into(),
            }));
        }
        if let Some(env) = env {
            if let Some(value) = std::env::var(env).ok().filter(|v| !v.trim().is_empty()) {
                return Ok(Some(Token {
                    value: value.trim().to_string(),
                    origin: format!("env {env}"),
                }));
            }
        }
        let keychain = self.keychain.get(account);
        match (keychain, env) {
            (Ok(Some(value)), _) => Ok(Some(Token {
                value,
                origin: "keychain".into(),
            })),
            (Ok(None), None) | (Err(_), None) => Ok(None),
            (lookup, Some(env)) => Err(TokenError::Missing {
                source_name: name.to_string(),
                what,
                env: env.to_string(),
                keychain_note: match lookup {
                    Err(reason) => format!(" (the OS keychain could not be reached: {reason})"),
                    _ => String::new(),
                },
            }),
        }
    }

    /// Stores a token for `source` in the OS keychain, under its name and host.
    pub fn store_in_keychain(&self, source: &SourceConfig, token: &str) -> Result<(), TokenError> {
        self.store_secret(
            &source.name,
            source.token_env.as_deref(),
            &keychain_account(source),
            token,
        )
    }

    /// Stores the secret of `name` in the OS keychain under `account`; `env` is the variable
    /// to use instead when the keychain cannot take it.
    pub fn store_secret(
        &self,
        name: &str,
        env: Option<&str>,
        account: &str,
        secret: &str,
    ) -> Result<(), TokenError> {
        self.keychain
            .set(account, secret)
            .map_err(|reason| TokenError::StoreFailed {
                source_name: name.to_string(),
                reason,
                hint: env.map_or("token_env in the config and that variable".into(), |env| {
                    format!("{env} in the environment")
                }),
            })
    }

    /// Moves `from`'s keychain token (when it has one) to where `to`'s is kept: a source renamed
    /// or moved to another host keeps its token.
    pub fn move_in_keychain(
        &self,
        from: &SourceConfig,
        to: &SourceConfig,
    ) -> Result<(), TokenError> {
        let stored = |reason| TokenError::StoreFailed {
            source_name: to.name.clone(),
            reason,
            hint: "the token again in the source's form".into(),
        };
        if let Some(token) = self.keychain.get(&keychain_account(from)).map_err(stored)? {
            self.store_in_keychain(to, &token)?;
            self.keychain
                .delete(&keychain_account(from))
                .map_err(stored)?;
        }
        Ok(())
    }

    /// Secrets over a keychain in memory, for tests.
    #[cfg(test)]
    pub(crate) fn with_test_keychain() -> Self {
        Self {
            keychain: Arc::new(MapKeychain::default()),
            ..Self::default()
        }
    }

    /// Removes the secret kept as `account` ([`keychain_account`] for a source's) from the OS
    /// keychain: whether there was one. The keychain's error, when it cannot be reached, in
    /// words.
    pub fn forget_in_keychain(&self, account: &str) -> Result<bool, String> {
        self.keychain.delete(account)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SourceKind;

    fn source(name: &str, env: Option<&str>) -> SourceConfig {
        SourceConfig {
            name: name.into(),
            kind: SourceKind::Backstage,
            url: Some("http://x".into()),
            token_env: env.map(Into::into),
            interval: std::time::Duration::from_secs(60),
            timeout: std::time::Duration::from_secs(30),
            path: None,
            follow_links: None,
            events_url: None,
            ca_file: None,
            allow_insecure: false,
        }
    }

    #[test]
    fn embedded_token_wins_and_is_redacted_in_debug() {
        let s = Secrets::with_embedded([("demo".to_string(), "s3cret".to_string())].into());
        let t = s
            .token_for(&source("demo", Some("UNSET_VAR_FOR_TEST")))
            .unwrap()
            .unwrap();
        assert_eq!(t.value, "s3cret");
        assert!(!format!("{t:?}").contains("s3cret"));
    }

    #[test]
    fn env_token_is_used_when_set() {
        // PATH is set in every process, so the test needs no unsafe set_var.
        let t = Secrets::default()
            .token_for(&source("env-src", Some("PATH")))
            .unwrap()
            .unwrap();
        assert_eq!(t.origin, "env PATH");
    }

    fn at(name: &str, url: &str) -> SourceConfig {
        SourceConfig {
            url: Some(url.into()),
            ..source(name, None)
        }
    }

    #[test]
    fn keychain_entries_are_keyed_by_source_name_and_host() {
        let secrets = Secrets::with_test_keychain();
        let public = at("github", "https://api.github.com");
        let enterprise = at("github", "https://GHE.corp.example:8443/api/v3");
        assert_eq!(keychain_account(&public), "github@api.github.com");
        assert_eq!(
            keychain_account(&enterprise),
            "github@ghe.corp.example:8443"
        );
        secrets.store_in_keychain(&public, "public-token").unwrap();
        // Another config's `github`, at another host, does not get this token.
        assert!(secrets.token_for(&enterprise).unwrap().is_none());
        secrets
            .store_in_keychain(&enterprise, "enterprise-token")
            .unwrap();
        let token = |s: &SourceConfig| secrets.token_for(s).unwrap().unwrap();
        assert_eq!(token(&public).value, "public-token");
        assert_eq!(token(&public).origin, "keychain");
        assert_eq!(token(&enterprise).value, "enterprise-token");
        // The same host under another source name is another entry too.
        assert!(secrets
            .token_for(&at("github-bot", "https://api.github.com"))
            .unwrap()
            .is_none());

        assert!(secrets
            .forget_in_keychain(&keychain_account(&public))
            .unwrap());
        assert!(!secrets
            .forget_in_keychain(&keychain_account(&public))
            .unwrap());
        assert!(secrets.token_for(&public).unwrap().is_none());
        assert_eq!(token(&enterprise).value, "enterprise-token");
    }

    #[test]
    fn missing_token_names_the_source_and_both_ways_to_supply_it() {
        let err = Secrets::default()
            .token_for(&source(
                "nobody-has-this",
                Some("OPSDECK_TEST_SURELY_UNSET"),
            ))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("nobody-has-this: no token; set OPSDECK_TEST_SURELY_UNSET or run `opsdeck login nobody-has-this`"),
            "{err}"
        );
    }

    #[test]
    fn the_shared_audit_logs_password_comes_from_its_env_var_or_the_keychain() {
        let secrets = Secrets::with_test_keychain();
        let account = "audit-log@db.example.com:5432";
        let err = secrets
            .secret(
                ("audit-log", "password"),
                Some("OPSDECK_TEST_SURELY_UNSET"),
                account,
            )
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "audit-log: no password; set OPSDECK_TEST_SURELY_UNSET or run `opsdeck login audit-log`"
        );
        secrets
            .store_secret("audit-log", None, account, "db-password")
            .unwrap();
        let found = secrets
            .secret(
                ("audit-log", "password"),
                Some("OPSDECK_TEST_SURELY_UNSET"),
                account,
            )
            .unwrap()
            .unwrap();
        assert_eq!(
            (found.value.as_str(), found.origin.as_str()),
            ("db-password", "keychain")
        );
        assert!(secrets.forget_in_keychain(account).unwrap());
        assert!(secrets
            .secret(("audit-log", "password"), None, account)
            .unwrap()
            .is_none());
    }
}
