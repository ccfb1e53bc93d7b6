//! Logging for the two binaries (libraries only emit): `tracing` to stderr, filtered by
//! `OPSDECK_LOG` (any `tracing` filter, e.g. `info` or `opsdeck=debug`), and to a log file
//! rotated daily in the data directory, seven days kept. Whatever reaches either is scrubbed
//! of tokens: the ones Opsdeck resolved, and anything shaped like a credential.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::{LazyLock, RwLock};

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// What the log file records unless `OPSDECK_LOG` says otherwise: every sync's outcome.
const FILE_FILTER: &str = "warn,opsdeck=info,opsdeck_desktop=info";
/// Log files kept, one per day.
const FILES_KEPT: usize = 7;
/// Stands in for a secret.
const REDACTED: &str = "[redacted]";

/// Token values resolved in this process, scrubbed from every line.
static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Credentials by their shape: `Authorization` values, bearer tokens, `token=` pairs
/// (PagerDuty's `Token token=…` among them), and keys in URLs.
static CREDENTIAL: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(
        r#"(?i)(authorization["']?\s*[:=]\s*["']?(?:bearer|token|basic)?\s*|bearer\s+|token\s*[=:]\s*["']?|[?&](?:access_token|token|api_key|key)=)[^\s"'&,;)]+"#,
    )
    .expect("the credential pattern is valid")
});

/// Registers a secret so that no log line ever shows it.
pub fn redact(secret: &str) {
    // Very short values would scrub ordinary words; tokens are never that short.
    if secret.len() < 8 {
        return;
    }
    let mut secrets = SECRETS.write().unwrap_or_else(|p| p.into_inner());
    if !secrets.iter().any(|s| s == secret) {
        secrets.push(secret.to_string());
    }
}

/// `text` with registered secrets and credential-shaped values replaced.
pub fn scrub(text: &str) -> String {
    let mut out = CREDENTIAL
        .replace_all(text, |c: &regex::Captures| format!("{}{REDACTED}", &c[1]))
        .into_owned();
    for secret in SECRETS.read().unwrap_or_else(|p| p.into_inner()).iter() {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), REDACTED);
        }
    }
    out
}

/// Installs the subscriber. `stderr_filter` applies to stderr when `OPSDECK_LOG` is unset or
/// invalid; with `log_dir`, lines also go to `opsdeck.YYYY-MM-DD.log` there. A log directory
/// that cannot be created is reported once on stderr and the app goes on without the file.
pub fn init(stderr_filter: &str, log_dir: Option<&Path>) {
    let from_env = || EnvFilter::try_from_env("OPSDECK_LOG").ok();
    // Colours for a person at a terminal; a journal or a file would keep the escape codes.
    let stderr = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(Scrubbed(std::io::stderr))
        .with_filter(from_env().unwrap_or_else(|| EnvFilter::new(stderr_filter)));
    let file = log_dir.and_then(|dir| {
        // The appender prunes old files by listing the directory, so it must exist first.
        let appender = crate::paths::private_dir(dir)
            .map_err(|e| e.to_string())
            .and_then(|()| {
                tracing_appender::rolling::Builder::new()
                    .rotation(tracing_appender::rolling::Rotation::DAILY)
                    .filename_prefix("opsdeck")
                    .filename_suffix("log")
                    .max_log_files(FILES_KEPT)
                    .build(dir)
                    .map_err(|e| e.to_string())
            });
        match appender {
            Ok(appender) => Some(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_writer(Scrubbed(appender))
                    .with_filter(from_env().unwrap_or_else(|| EnvFilter::new(FILE_FILTER))),
            ),
            Err(e) => {
                eprintln!(
                    "opsdeck: no log file in {}: {e}; logging to stderr only",
                    dir.display()
                );
                None
            }
        }
    });
    let _ = tracing_subscriber::registry()
        .with(stderr)
        .with(file)
        .try_init();
}

/// A writer factory whose writers scrub each line before it reaches `W`.
struct Scrubbed<W>(W);

impl<'a, W: MakeWriter<'a>> MakeWriter<'a> for Scrubbed<W> {
    type Writer = ScrubbingWriter<W::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        ScrubbingWriter {
            inner: self.0.make_writer(),
            line: Vec::new(),
        }
    }
}

/// Gathers one event's text, then writes it scrubbed when dropped (the subscriber makes one
/// writer per event).
struct ScrubbingWriter<W: Write> {
    inner: W,
    line: Vec<u8>,
}

impl<W: Write> Write for ScrubbingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.line.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.line.is_empty() {
            let text = scrub(&String::from_utf8_lossy(&self.line));
            self.line.clear();
            self.inner.write_all(text.as_bytes())?;
        }
        self.inner.flush()
    }
}

impl<W: Write> Drop for ScrubbingWriter<W> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_scrubbed_by_shape() {
        for (line, kept) in [
            (
                "Authorization: Bearer eyJhbGciOi.abc-def",
                "Authorization: Bearer ",
            ),
            (
                "authorization=\"Token token=y_NbAkKc66ryYTWUXYEu\"",
                "authorization=\"Token ",
            ),
            (
                "sending bearer ghp_16C7e42F292c6912E7710c838347Ae178B4a",
                "sending bearer ",
            ),
            (
                "GET /x?access_token=abc123def456&page=2",
                "GET /x?access_token=",
            ),
        ] {
            let out = scrub(line);
            assert!(out.starts_with(kept), "{line} → {out}");
            assert!(out.contains(REDACTED), "{line} → {out}");
            for secret in ["eyJhbGciOi", "y_NbAkKc66", "ghp_16C7", "abc123"] {
                assert!(!out.contains(secret), "{line} → {out}");
            }
        }
        for kept_whole in [
            "catalog: 14000 rows in 2.1 s".to_string(),
            crate::secrets::TokenError::Missing {
                source_name: "catalog".into(),
                what: "token",
                env: "OPSDECK_SANDBOX_TOKEN".into(),
                keychain_note: String::new(),
            }
            .to_string(),
        ] {
            assert_eq!(scrub(&kept_whole), kept_whole);
        }
    }

    #[test]
    fn registered_secrets_are_scrubbed_anywhere() {
        redact("s3cr3t-value-for-test");
        redact("short");
        assert_eq!(
            scrub("error: s3cr3t-value-for-test was rejected (short)"),
            "error: [redacted] was rejected (short)"
        );
    }
}
