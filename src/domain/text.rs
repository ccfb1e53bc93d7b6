//! Text for messages: text from outside (platforms' error bodies, the keychain's errors) made
//! fit for one line, times as people read them, and text made safe for a URL.

use chrono::{DateTime, Utc};

/// A wall-clock time in the local zone, `HH:MM:SS`: when a wait ends, when the next sync is.
pub fn clock_time(at: DateTime<Utc>) -> String {
    at.with_timezone(&chrono::Local)
        .format("%H:%M:%S")
        .to_string()
}

/// Folds all white space, newlines included, to single spaces, makes other control characters
/// U+FFFD (a NUL included, which a shared cache cannot hold) and cuts to `max` characters.
pub fn one_line(text: &str, max: usize) -> String {
    let line = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace(char::is_control, "\u{FFFD}");
    if line.chars().count() > max {
        format!("{}…", line.chars().take(max).collect::<String>())
    } else {
        line
    }
}

/// `text` percent-encoded but for RFC 3986's unreserved characters: a path segment or a query
/// value that cannot reach another path or parameter.
pub fn percent_encoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// JSON's `\u0000` escapes made `\ufffd`, in place (the same length): a NUL is no character
/// a person reads, and a shared cache cannot hold one (PostgreSQL's `text` and `jsonb` refuse
/// it), so a platform's text with one still lands, the NUL shown as U+FFFD. A `\\u0000` (an
/// escaped backslash, then `u0000`) is text and stays.
pub fn replace_json_nul_escapes(json: &mut [u8]) {
    let mut backslashes = 0;
    for at in 0..json.len() {
        match json[at] {
            b'\\' => {
                backslashes += 1;
                continue;
            }
            b'u' if backslashes % 2 == 1 && json[at + 1..].starts_with(b"0000") => {
                json[at + 1..at + 5].copy_from_slice(b"fffd");
            }
            _ => {}
        }
        backslashes = 0;
    }
}

/// `text` with each NUL replaced by U+FFFD: see [`replace_json_nul_escapes`].
pub fn without_nul(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains('\0') {
        text.replace('\0', "\u{FFFD}").into()
    } else {
        text.into()
    }
}

/// A count as people read it, in groups of three: `12,712`.
pub fn grouped(count: u64) -> String {
    let digits = count.to_string();
    let mut text = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            text.push(',');
        }
        text.push(digit);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::{grouped, one_line, replace_json_nul_escapes, without_nul};

    #[test]
    fn nul_escapes_become_replacement_characters_and_escaped_backslashes_stay() {
        let mut json = br#"{"t":"a\u0000b","u":"\\u0000","v":"\\\u0000","w":"\u00001"}"#.to_vec();
        replace_json_nul_escapes(&mut json);
        let parsed: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(parsed["t"], "a\u{FFFD}b");
        assert_eq!(parsed["u"], "\\u0000");
        assert_eq!(parsed["v"], "\\\u{FFFD}");
        assert_eq!(parsed["w"], "\u{FFFD}1");
        let mut cut = br#""\u000"#.to_vec();
        replace_json_nul_escapes(&mut cut);
        assert_eq!(cut, br#""\u000"#);
        assert_eq!(without_nul("a\0b\0"), "a\u{FFFD}b\u{FFFD}");
        assert!(matches!(
            without_nul("ab"),
            std::borrow::Cow::Borrowed("ab")
        ));
    }

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(12_712), "12,712");
        assert_eq!(grouped(1_041_190), "1,041,190");
    }

    #[test]
    fn folds_and_cuts() {
        assert_eq!(one_line("  a\n\tb  c ", 10), "a b c");
        assert_eq!(one_line("abcdef", 3), "abc…");
        assert_eq!(one_line("a\0b\u{1b}[2J", 10), "a\u{FFFD}b\u{FFFD}[2J");
    }
}
