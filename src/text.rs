//! Text for messages: text from outside (platforms' error bodies, the keychain's errors) made
//! fit for one line, and times as people read them.

use chrono::{DateTime, Utc};

/// A wall-clock time in the local zone, `HH:MM:SS`: when a wait ends, when the next sync is.
pub fn clock_time(at: DateTime<Utc>) -> String {
    at.with_timezone(&chrono::Local)
        .format("%H:%M:%S")
        .to_string()
}

/// Folds all white space, newlines included, to single spaces and cuts to `max` characters.
pub(crate) fn one_line(text: &str, max: usize) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() > max {
        format!("{}…", line.chars().take(max).collect::<String>())
    } else {
        line
    }
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn folds_and_cuts() {
        assert_eq!(one_line("  a\n\tb  c ", 10), "a b c");
        assert_eq!(one_line("abcdef", 3), "abc…");
    }
}
