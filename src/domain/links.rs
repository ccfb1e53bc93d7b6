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

/// The scheme of Opsdeck's own links, which a chat message or a PagerDuty custom field can
/// carry to open the app on the right screen.
pub const DEEP_LINK_SCHEME: &str = "opsdeck";

/// A screen an `opsdeck://` link asks for. Names are as a person writes them (`checkout-api`,
/// `component:default/checkout-api`); whether they exist is for the cache to say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeepLink {
    /// `opsdeck://service/NAME`
    Service(String),
    /// `opsdeck://incident/ID` (a PagerDuty id or number)
    Incident(String),
    /// `opsdeck://team/NAME`
    Team(String),
}

/// Longest name or id a link may carry.
const DEEP_LINK_NAME_MAX: usize = 253;

/// The screen `url` asks for, else why it cannot be opened. Anything but the three screens and
/// a plain name (after percent-decoding: no control characters, no spaces) is refused.
pub fn deep_link(url: &str) -> Result<DeepLink, String> {
    let url = url.trim();
    let rest = url
        .split_once("://")
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case(DEEP_LINK_SCHEME))
        .map(|(_, rest)| rest)
        .ok_or_else(|| format!("not an {DEEP_LINK_SCHEME}:// link"))?;
    // A query or fragment (a chat app's tracking) says nothing Opsdeck reads.
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let (screen, name) = rest.split_once('/').unwrap_or((rest, ""));
    let name = percent_encoding::percent_decode_str(name.trim_end_matches('/'))
        .decode_utf8()
        .map_err(|_| "the link's name is not UTF-8".to_string())?;
    if name.is_empty() {
        return Err(format!(
            "{DEEP_LINK_SCHEME}://{screen}/… names nothing: write {DEEP_LINK_SCHEME}://service/NAME, incident/ID or team/NAME"
        ));
    }
    if name.len() > DEEP_LINK_NAME_MAX || name.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err("the link's name is not a name Opsdeck knows how to look up".to_string());
    }
    let name = name.into_owned();
    match screen.to_ascii_lowercase().as_str() {
        "service" => Ok(DeepLink::Service(name)),
        "incident" => Ok(DeepLink::Incident(name)),
        "team" => Ok(DeepLink::Team(name)),
        other => Err(format!(
            "{DEEP_LINK_SCHEME}://{other}/… is no screen of Opsdeck's: use service, incident or team"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::{deep_link, openable, DeepLink};

    #[test]
    fn deep_links_name_a_screen_and_what_to_show() {
        assert_eq!(
            deep_link("opsdeck://service/checkout-api"),
            Ok(DeepLink::Service("checkout-api".into()))
        );
        assert_eq!(
            deep_link("OPSDECK://Service/component:default%2Fcheckout-api/?from=slack#x"),
            Ok(DeepLink::Service("component:default/checkout-api".into()))
        );
        assert_eq!(
            deep_link(" opsdeck://incident/Q1DEMO0INCIDENT "),
            Ok(DeepLink::Incident("Q1DEMO0INCIDENT".into()))
        );
        assert_eq!(
            deep_link("opsdeck://team/site%20reliability").unwrap_err(),
            "the link's name is not a name Opsdeck knows how to look up"
        );
        assert_eq!(
            deep_link("opsdeck://team/checkout"),
            Ok(DeepLink::Team("checkout".into()))
        );
        for refused in [
            "https://service/checkout-api",
            "opsdeck:service/checkout-api",
            "opsdeck://service/",
            "opsdeck://service",
            "opsdeck://settings/x",
            "opsdeck://service/a%0Ab",
            "opsdeck://service/%FF",
            &format!("opsdeck://service/{}", "a".repeat(300)),
        ] {
            assert!(deep_link(refused).is_err(), "{refused}");
        }
    }

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
