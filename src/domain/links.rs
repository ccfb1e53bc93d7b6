//! Which links Opsdeck hands to the operating system: web pages, mail and phone numbers. Any
//! other scheme (`javascript:`, `file:`, `data:`, a custom handler) from a catalog, PagerDuty or
//! an alert is refused, so a remote text can never make the machine run something.

/// The schemes that may be opened.
pub const OPENABLE_SCHEMES: [&str; 4] = ["https", "http", "mailto", "tel"];

/// `url` if it may be opened, else why not.
pub fn openable(url: &str) -> Result<&str, String> {
    let url = url.trim();
    if url.chars().any(char::is_control) {
        return Err("the link holds control characters".to_string());
    }
    let scheme = url
        .split_once(':')
        .map(|(scheme, _)| scheme.to_ascii_lowercase())
        .filter(|s| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        })
        .ok_or_else(|| format!("'{url}' is not an absolute link"))?;
    if !OPENABLE_SCHEMES.contains(&scheme.as_str()) {
        return Err(format!(
            "links with '{scheme}:' are not opened; only {}",
            OPENABLE_SCHEMES.join(", ")
        ));
    }
    if matches!(scheme.as_str(), "http" | "https") && !url[scheme.len() + 1..].starts_with("//") {
        return Err(format!("'{url}' has no host"));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::openable;

    #[test]
    fn web_mail_and_phone_links_open() {
        for url in [
            "https://opsdeck-demo.pagerduty.com/incidents/PQ1",
            "HTTP://example.com",
            "mailto:dana@demo.opsdeck.dev",
            "tel:+1 5550100",
        ] {
            assert!(openable(url).is_ok(), "{url}");
        }
    }

    #[test]
    fn anything_else_is_refused() {
        for url in [
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "file:///etc/passwd",
            "vscode://open?x",
            "https:evil",
            "/relative/path",
            "https://ok.example/\nfile:///x",
            "",
        ] {
            assert!(openable(url).is_err(), "{url}");
        }
    }
}
