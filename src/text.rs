//! Text from outside (platforms' error bodies, the keychain's errors) made fit for a one-line
//! message.

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
