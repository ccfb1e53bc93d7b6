//! `opsdeck service NAME`: one service's page.

use clap_complete::ArgValueCompleter;
use opsdeck::api::EntitySummary;

use crate::cli::complete::service_names;
use crate::cli::output::{self, Exit};
use crate::cli::{drawn_from, Context};

/// One service: owner, system, relations, links, platforms, gaps
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Service name or entity reference
    #[arg(add = ArgValueCompleter::new(service_names))]
    name: String,
}

fn summary(e: &EntitySummary) -> String {
    if e.exists {
        e.key.clone()
    } else {
        format!("{} (missing)", e.key)
    }
}

pub async fn run(cx: &Context, args: Args) -> anyhow::Result<Exit> {
    let engine = cx.engine(drawn_from::CATALOG).await?;
    let s = engine.service(&args.name).await?;
    if cx.json() {
        output::json(&s)?;
        return Ok(Exit::Success);
    }
    let refs = |list: &[EntitySummary]| {
        if list.is_empty() {
            "-".to_string()
        } else {
            list.iter().map(summary).collect::<Vec<_>>().join(", ")
        }
    };
    let listed = |list: Vec<String>, none: &str| {
        if list.is_empty() {
            none.to_string()
        } else {
            list.join(", ")
        }
    };
    let mut fields = vec![
        ("Service", format!("{} ({})", s.name, s.key)),
        ("Title", s.title.clone()),
        ("Owner", s.owner.as_ref().map_or("-".into(), summary)),
        ("System", s.system.as_ref().map_or("-".into(), summary)),
        ("Type", output::or_dash(s.service_type.as_deref())),
        ("Lifecycle", output::or_dash(s.lifecycle.as_deref())),
        ("Tier", output::or_dash(s.tier.as_deref())),
        ("Description", output::or_dash(s.description.as_deref())),
        ("Depends on", refs(&s.depends_on)),
        ("Dependents", refs(&s.dependents)),
        ("Provides APIs", refs(&s.provides_apis)),
        ("Consumes APIs", refs(&s.consumes_apis)),
        ("Tags", listed(s.tags.clone(), "-")),
        (
            "Gaps",
            listed(
                s.gaps.iter().map(|g| g.describe().to_string()).collect(),
                "none",
            ),
        ),
        ("Sources", s.sources.join(", ")),
    ];
    for p in &s.platforms {
        fields.push((
            "Platform",
            format!("{}: {} ({})", p.platform, p.value, p.annotation),
        ));
    }
    for l in &s.links {
        let kind = l.link_type.as_deref().unwrap_or("link");
        fields.push((
            "Link",
            format!("[{kind}] {} {}", l.title.as_deref().unwrap_or(""), l.url),
        ));
    }
    for (label, value) in fields {
        output::line(format!("{label:<14} {value}"));
    }
    Ok(Exit::Success)
}
