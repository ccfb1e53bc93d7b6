//! The organisation a sandbox serves: the demo story from `assets/demo/`, or a generated one of
//! any size for benchmarks. Deterministic: the same seed always gives the same entities.

use crate::domain::documents::parse_catalog_documents;
use crate::domain::Entity;

/// The demo organisation's catalog files, embedded so the sandbox runs from any directory.
/// `tests` checks that this list and `assets/demo/` (read as a catalog-files tree) agree.
pub const DEMO_FILES: &[(&str, &str)] = &[
    (
        "catalog-info.yaml",
        include_str!("../../assets/demo/catalog-info.yaml"),
    ),
    ("teams.yaml", include_str!("../../assets/demo/teams.yaml")),
    ("people.yaml", include_str!("../../assets/demo/people.yaml")),
    (
        "systems.yaml",
        include_str!("../../assets/demo/systems.yaml"),
    ),
    (
        "apis-and-resources.yaml",
        include_str!("../../assets/demo/apis-and-resources.yaml"),
    ),
    (
        "services/checkout.yaml",
        include_str!("../../assets/demo/services/checkout.yaml"),
    ),
    (
        "services/payments.yaml",
        include_str!("../../assets/demo/services/payments.yaml"),
    ),
    (
        "services/search.yaml",
        include_str!("../../assets/demo/services/search.yaml"),
    ),
    (
        "services/identity.yaml",
        include_str!("../../assets/demo/services/identity.yaml"),
    ),
    (
        "services/platform.yaml",
        include_str!("../../assets/demo/services/platform.yaml"),
    ),
    (
        "services/data.yaml",
        include_str!("../../assets/demo/services/data.yaml"),
    ),
    (
        "services/mobile.yaml",
        include_str!("../../assets/demo/services/mobile.yaml"),
    ),
    (
        "services/growth.yaml",
        include_str!("../../assets/demo/services/growth.yaml"),
    ),
    (
        "services/sre.yaml",
        include_str!("../../assets/demo/services/sre.yaml"),
    ),
    (
        "services/orphans.yaml",
        include_str!("../../assets/demo/services/orphans.yaml"),
    ),
];

/// The demo identity: a member of `checkout`.
pub const DEMO_IDENTITY: &str = "dana@demo.opsdeck.dev";

/// Which organisation to serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seed {
    /// The demo story.
    Demo,
    /// A generated organisation with this many services, 1 team per 20 services.
    Scale(usize),
}

impl std::str::FromStr for Seed {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "demo" => Ok(Self::Demo),
            _ => s
                .strip_prefix("scale:")
                .and_then(|n| n.parse().ok())
                .filter(|n| *n > 0)
                .map(Self::Scale)
                .ok_or_else(|| format!("unknown seed '{s}': use 'demo' or 'scale:N' (N services)")),
        }
    }
}

/// The entities of a seed, each with the file it came from.
pub fn entities(seed: Seed) -> Vec<(String, Entity)> {
    match seed {
        Seed::Demo => demo_entities(),
        Seed::Scale(services) => scale_entities(services),
    }
}

fn demo_entities() -> Vec<(String, Entity)> {
    DEMO_FILES
        .iter()
        .flat_map(|(file, text)| {
            parse_catalog_documents(text).into_iter().map(move |doc| {
                let doc = doc.unwrap_or_else(|e| {
                    panic!("assets/demo/{file} line {}: {}", e.line, e.message)
                });
                (file.to_string(), doc.entity)
            })
        })
        .collect()
}

/// A small deterministic generator (SplitMix64), so a scale seed needs no RNG dependency and
/// gives the same organisation on every machine.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const WORDS: &[&str] = &[
    "order", "cart", "price", "stock", "ledger", "refund", "payout", "search", "index", "rank",
    "session", "token", "profile", "consent", "gateway", "config", "flag", "secret", "image",
    "event", "metric", "report", "push", "email", "loyalty", "quote", "tax", "fraud", "vault",
    "route",
];
const ROLES: &[&str] = &[
    "api",
    "service",
    "worker",
    "sync",
    "web",
    "gateway",
    "scheduler",
    "store",
];

fn scale_entities(services: usize) -> Vec<(String, Entity)> {
    let teams = (services / 20).max(8);
    let systems = (services / 10).max(8);
    let mut rng = SplitMix(0x0D5D_ECC0);
    let mut out = Vec::with_capacity(services + teams * 6 + systems);
    let mut push = |file: &str, value: serde_json::Value| {
        let entity: Entity =
            serde_json::from_value(value).expect("generated entities match the model");
        out.push((file.to_string(), entity));
    };
    // A tree three deep: departments of teams, each team with two sub-teams of its own.
    let departments = (teams / 30).max(1);
    for d in 0..departments {
        push(
            "teams.yaml",
            serde_json::json!({
                "apiVersion": "backstage.io/v1alpha1", "kind": "Group",
                "metadata": {"name": format!("dept-{d:03}"), "title": format!("Department {d}")},
                "spec": {"type": "department", "children": []}
            }),
        );
    }
    for t in 0..teams {
        let (kind, parent) = match t % 3 {
            0 => ("team", format!("dept-{:03}", (t / 3) % departments)),
            n => ("sub-team", format!("team-{:04}", t - n)),
        };
        push(
            "teams.yaml",
            serde_json::json!({
                "apiVersion": "backstage.io/v1alpha1", "kind": "Group",
                "metadata": {"name": format!("team-{t:04}"), "title": format!("Team {t}"),
                             "description": format!("Generated team {t}")},
                "spec": {"type": kind, "parent": parent, "children": []}
            }),
        );
        for m in 0..5 {
            push(
                "people.yaml",
                serde_json::json!({
                    "apiVersion": "backstage.io/v1alpha1", "kind": "User",
                    "metadata": {"name": format!("user-{t:04}-{m}")},
                    "spec": {"profile": {"displayName": format!("User {t}.{m}"),
                                         "email": format!("user-{t:04}-{m}@scale.opsdeck.dev")},
                             "memberOf": [format!("team-{t:04}")]}
                }),
            );
        }
    }
    for s in 0..systems {
        push(
            "systems.yaml",
            serde_json::json!({
                "apiVersion": "backstage.io/v1alpha1", "kind": "System",
                "metadata": {"name": format!("system-{s:04}")},
                "spec": {"owner": format!("team-{:04}", s % teams)}
            }),
        );
    }
    let names: Vec<String> = (0..services)
        .map(|i| {
            format!(
                "{}-{}-{i:05}",
                WORDS[rng.below(WORDS.len())],
                ROLES[rng.below(ROLES.len())]
            )
        })
        .collect();
    for (i, name) in names.iter().enumerate() {
        let mut annotations = serde_json::Map::new();
        for (key, value) in [
            ("pagerduty.com/service-id", format!("PS{i:05}")),
            ("github.com/project-slug", format!("scale-org/{name}")),
            ("argocd/app-name", name.clone()),
        ] {
            if rng.below(10) < 8 {
                annotations.insert(key.into(), value.into());
            }
        }
        let deps: Vec<String> = (0..rng.below(4))
            .map(|_| format!("component:{}", names[rng.below(services)]))
            .collect();
        let links = if rng.below(10) < 7 {
            serde_json::json!([{"url": format!("https://wiki.scale.opsdeck.dev/runbooks/{name}"), "title": "Runbook", "type": "runbook"}])
        } else {
            serde_json::json!([])
        };
        push(
            "services.yaml",
            serde_json::json!({
                "apiVersion": "backstage.io/v1alpha1", "kind": "Component",
                "metadata": {"name": name, "description": format!("Generated service {i} handling {} traffic", WORDS[i % WORDS.len()]),
                             "labels": {"tier": (1 + rng.below(3)).to_string()},
                             "annotations": annotations, "tags": [WORDS[rng.below(WORDS.len())]], "links": links},
                "spec": {"type": "service", "lifecycle": "production", "owner": format!("team-{:04}", i % teams),
                         "system": format!("system-{:04}", i % systems), "dependsOn": deps}
            }),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_parse() {
        assert_eq!("demo".parse::<Seed>(), Ok(Seed::Demo));
        assert_eq!("scale:10000".parse::<Seed>(), Ok(Seed::Scale(10000)));
        assert!("scale:0".parse::<Seed>().is_err());
        assert!("big".parse::<Seed>().unwrap_err().contains("scale:N"));
    }

    #[test]
    fn demo_follows_the_story() {
        let all = entities(Seed::Demo);
        let count = |kind: &str| all.iter().filter(|(_, e)| e.is_kind(kind)).count();
        assert!(count("component") >= 60, "60+ services");
        assert!(count("group") >= 9, "8+ teams and a department");
        let find = |name: &str| {
            all.iter()
                .map(|(_, e)| e)
                .find(|e| e.metadata.name == name)
                .unwrap()
        };
        assert_eq!(
            find("checkout-api").spec_str("owner"),
            Some("group:default/checkout")
        );
        assert_eq!(
            find("legacy-reports").spec_str("owner"),
            Some("group:default/reporting")
        );
        assert!(
            all.iter().all(|(_, e)| e.metadata.name != "reporting"),
            "the orphan's group must be missing"
        );
        assert!(find("legacy-reports")
            .metadata
            .links
            .iter()
            .all(|l| !l.is_runbook()));
        assert_eq!(find("dana").profile_str("email"), Some(DEMO_IDENTITY));
    }

    #[test]
    fn scale_seed_is_deterministic_and_proportional() {
        let a = entities(Seed::Scale(200));
        let b = entities(Seed::Scale(200));
        assert_eq!(a.len(), b.len());
        assert!(a.iter().zip(&b).all(|(x, y)| x.1 == y.1));
        assert_eq!(
            a.iter().filter(|(_, e)| e.is_kind("component")).count(),
            200
        );
        assert_eq!(a.iter().filter(|(_, e)| e.is_kind("group")).count(), 10 + 1);
        let parent = |name: &str| {
            a.iter()
                .find(|(_, e)| e.metadata.name == name)
                .and_then(|(_, e)| e.spec_str("parent").map(str::to_string))
        };
        // Three deep: a sub-team under a team under a department.
        assert_eq!(parent("team-0005").as_deref(), Some("team-0003"));
        assert_eq!(parent("team-0003").as_deref(), Some("dept-000"));
        assert_eq!(parent("dept-000"), None);
    }
}
