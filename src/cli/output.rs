//! Everything the CLI prints goes through here. Platform and catalog text is untrusted: every
//! table cell and every line is made inert (control characters, terminal escapes included,
//! shown as `�`) by construction, so no command can forget. Tables fit the terminal's width.
//! With `--json`, stdout carries one JSON document (or JSON lines where a command documents
//! it) and failures are `{"error": …}` on stderr.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use opsdeck::domain::delivery::DeployStatus;
use serde::Serialize;

/// How a command ended, as the shell sees it (documented in `opsdeck --help`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: done, or the action was confirmed by its platform.
    Success,
    /// 1: a failure was reported, or an action did not end healthy.
    Failure,
    /// 2: the command line was wrong.
    Usage,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        match exit {
            Exit::Success => ExitCode::SUCCESS,
            Exit::Failure => ExitCode::from(1),
            Exit::Usage => ExitCode::from(2),
        }
    }
}

impl Exit {
    /// Success when `ok`, else failure.
    pub fn from_success(ok: bool) -> Self {
        if ok {
            Self::Success
        } else {
            Self::Failure
        }
    }
}

/// Whether stdout and stderr speak JSON (`--json`) or text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

/// Reports a failure on stderr: one line of text, or `{"error": {"message": …}}`.
pub fn report_error(format: Format, message: &str) {
    let first = message.lines().next().unwrap_or_default();
    match format {
        Format::Text => eprintln!("opsdeck: {}", printable(first)),
        Format::Json => eprintln!("{}", serde_json::json!({"error": {"message": first}})),
    }
}

/// A notice that is not a failure (stale data, a source never synced): one line on stderr,
/// for people, JSON or not; stdout stays the answer.
pub fn notice(message: &str) {
    eprintln!("opsdeck: {}", printable(message));
}

/// Progress of a long command on stderr (never stdout, which holds the answer).
pub fn progress(text: &str) {
    eprintln!("{}", printable(text));
}

/// `value` as one pretty JSON document on stdout.
pub fn json<T: Serialize + ?Sized>(value: &T) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut stdout, value)?;
    writeln!(stdout)?;
    Ok(())
}

/// A line of text on stdout, made inert.
pub fn line(text: impl AsRef<str>) {
    let _ = writeln!(std::io::stdout().lock(), "{}", printable(text.as_ref()));
}

/// Lines of untrusted text (a runbook's markdown) on stdout, each made inert.
pub fn lines(text: &str) {
    let mut stdout = std::io::stdout().lock();
    for line in text.lines() {
        let _ = writeln!(stdout, "{}", printable(line));
    }
}

/// A document (CSV, markdown, JSON) on stdout as it is, for a file or a pipe; on a terminal,
/// control characters other than line ends are made inert as [`printable`] does.
pub fn raw(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = if stdout.is_terminal() {
        let shown: String = text
            .chars()
            .map(|c| {
                if c.is_control() && c != '\n' {
                    '\u{FFFD}'
                } else {
                    c
                }
            })
            .collect();
        stdout.write_all(shown.as_bytes())
    } else {
        stdout.write_all(text.as_bytes())
    };
}

/// A table on stdout: a header, then rows. Every cell is made inert; when stdout is a
/// terminal, the widest columns are cut (with `…`) until the table fits its width.
pub fn table<S: AsRef<str>>(header: &[&str], rows: impl IntoIterator<Item = Vec<S>>) {
    let width = std::io::stdout()
        .is_terminal()
        .then(terminal_width)
        .flatten();
    let mut stdout = std::io::stdout().lock();
    for line in table_lines(header, rows, width) {
        let _ = writeln!(stdout, "{line}");
    }
}

/// A table's lines, every cell made inert, fitted to `width` when given.
fn table_lines<S: AsRef<str>>(
    header: &[&str],
    rows: impl IntoIterator<Item = Vec<S>>,
    width: Option<usize>,
) -> Vec<String> {
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    let rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|row| row.iter().map(|c| printable(c.as_ref())).collect())
        .collect();
    layout(&header, &rows, width)
}

/// The columns of stdout's terminal: `COLUMNS` when set, else what the terminal says.
fn terminal_width() -> Option<usize> {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .or_else(|| terminal_size::terminal_size().map(|(w, _)| usize::from(w.0)))
}

/// Two spaces between columns.
const GAP: usize = 2;
/// No column is cut below this.
const NARROWEST: usize = 6;

/// The table's lines: columns padded to their widest cell, the last one unpadded; when
/// `width` is given, the widest columns are narrowed in turn until the lines fit.
fn layout(header: &[String], rows: &[Vec<String>], width: Option<usize>) -> Vec<String> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    if let Some(width) = width {
        let total =
            |widths: &[usize]| widths.iter().sum::<usize>() + GAP * widths.len().saturating_sub(1);
        while total(&widths) > width {
            let Some((widest, &w)) = widths.iter().enumerate().max_by_key(|(_, w)| **w) else {
                break;
            };
            if w <= NARROWEST {
                break;
            }
            let over = total(&widths) - width;
            widths[widest] = w.saturating_sub(over).max(NARROWEST);
        }
    }
    std::iter::once(header)
        .chain(rows.iter().map(Vec::as_slice))
        .map(|cells| {
            let last = cells.len().saturating_sub(1);
            let mut out = String::new();
            for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
                let cell = cut(cell, *w);
                if i == last {
                    out.push_str(&cell);
                } else {
                    out.push_str(&format!("{cell:<w$}{:GAP$}", ""));
                }
            }
            out.trim_end().to_string()
        })
        .collect()
}

/// `text` within `width` characters, ending in `…` when cut.
fn cut(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_string()
    } else {
        let mut kept: String = text.chars().take(width.saturating_sub(1)).collect();
        kept.push('…');
        kept
    }
}

/// Untrusted text made inert: control characters (ANSI escapes, carriage returns, newlines)
/// could rewrite the terminal or forge lines, so they are shown as visible replacements.
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect()
}

/// The indent of a group `depth` levels down a tree, at most eight levels deep: a catalog's
/// chain of groups must not make every line of a table as long as the chain.
pub fn indent(depth: i64) -> String {
    "  ".repeat(depth.clamp(0, 8) as usize)
}

/// How long ago `at` was: `42s`, `12m`, `3h05m`, `2d`.
pub fn age(at: DateTime<Utc>) -> String {
    let secs = (Utc::now() - at).num_seconds().max(0);
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m", secs / 60),
        3600..=86_399 => format!("{}h{:02}m", secs / 3600, secs % 3600 / 60),
        _ => format!("{}d", secs / 86_400),
    }
}

/// A moment in the coming days, in local time: `Tue 09:00`.
pub fn day_time(at: DateTime<Utc>) -> String {
    at.with_timezone(&chrono::Local)
        .format("%a %H:%M")
        .to_string()
}

/// A commit's short form: its first seven characters (characters, not bytes: a platform may
/// send anything).
pub fn short(sha: &str) -> String {
    sha.chars().take(7).collect()
}

/// `-` for nothing.
pub fn or_dash(text: Option<&str>) -> String {
    text.unwrap_or("-").to_string()
}

/// A deploy's status as words.
pub fn status_text(status: DeployStatus) -> &'static str {
    match status {
        DeployStatus::InProgress => "in progress",
        DeployStatus::Unknown => "-",
        other => other.as_str(),
    }
}

/// A person, with `(you)` when it is the identity.
pub fn person_text(name: &str, is_me: bool) -> String {
    if is_me {
        format!("{name} (you)")
    } else {
        name.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_inert_whatever_a_platform_sends() {
        let hostile = vec![vec!["\u{1b}[2J\u{1b}]0;owned\u{7}", "line\nforged"]];
        let lines = table_lines(&["A", "B"], hostile, None);
        assert!(
            lines.iter().all(|l| !l.chars().any(char::is_control)),
            "{lines:?}"
        );
        assert_eq!(lines.len(), 2);
    }

    #[test]
    fn a_wide_table_is_cut_to_the_terminal() {
        let header = vec!["NAME".to_string(), "TITLE".to_string()];
        let rows = vec![vec!["checkout-api".to_string(), "x".repeat(200)]];
        let lines = layout(&header, &rows, Some(40));
        assert!(lines.iter().all(|l| l.chars().count() <= 40), "{lines:?}");
        assert!(lines[1].ends_with('…'));
        assert!(lines[1].starts_with("checkout-api  "));
        // A terminal narrower than any table: every column at its narrowest, no panic.
        let squeezed = layout(&header, &rows, Some(0));
        assert!(squeezed[1].starts_with("check…"), "{squeezed:?}");
        let unbounded = layout(&header, &rows, None);
        assert!(unbounded[1].ends_with(&"x".repeat(200)));
    }

    #[test]
    fn a_commit_is_cut_by_characters() {
        assert_eq!(short("ééééééééé"), "ééééééé");
        assert_eq!(short("abc"), "abc");
    }
}
