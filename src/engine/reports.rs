//! Reports to send round before a review: one row per service (ownership) or per team
//! (scorecard), as a table, CSV a spreadsheet opens safely, JSON or markdown.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::domain::org::OrgTree;
use crate::domain::scorecards::Tally;
use crate::store::key_name;
use crate::{Engine, Error, Result};

/// How a report is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    /// Aligned columns, for a terminal.
    Table,
    /// RFC 4180, formulas neutralised.
    Csv,
    /// An array of objects, one per row.
    Json,
    /// A GitHub-flavoured markdown table.
    Markdown,
}

impl std::str::FromStr for ReportFormat {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s {
            "table" => Ok(Self::Table),
            "csv" => Ok(Self::Csv),
            "json" => Ok(Self::Json),
            "markdown" | "md" => Ok(Self::Markdown),
            _ => Err(format!(
                "unknown format '{s}': use table, csv, json or markdown"
            )),
        }
    }
}

impl ReportFormat {
    /// The file name extension.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Table => "txt",
            Self::Csv => "csv",
            Self::Json => "json",
            Self::Markdown => "md",
        }
    }
}

/// Which report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, ts_rs::TS)]
#[serde(rename_all = "kebab-case")]
#[ts(export)]
pub enum ReportKind {
    /// One row per service.
    Ownership,
    /// One row per team, and the organisation.
    Scorecard,
}

/// A report: named columns and rows of text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows, each as long as `columns`.
    pub rows: Vec<Vec<String>>,
}

impl Engine {
    /// One row per service of `team` (and the groups below it when `below`), or of every
    /// service: owner, team path, tier, lifecycle, level, each check, on call at levels 1 and
    /// 2, the last production deploy and open incidents.
    pub async fn ownership_report(&self, team: Option<&str>, below: bool) -> Result<Report> {
        self.refresh_scorecards(false).await?;
        let card = &self.config().scorecard;
        let org = self.org().await?;
        let tree = &org.tree;
        let owners = match team {
            Some(team) => {
                let key = self.team_key(team).await?;
                Some(if below { tree.subtree(&key) } else { vec![key] })
            }
            None => None,
        };
        let services = self.store().scored_services(owners.as_deref()).await?;
        let pagerduty = self.store().pagerduty_wired().await?;
        let service_of: HashMap<&str, &str> = pagerduty
            .iter()
            .filter_map(|w| Some((w.key.as_str(), w.pagerduty_service_id.as_deref()?)))
            .collect();
        let on_call = self.on_call_by_service().await?;
        let mut columns: Vec<String> = [
            "service",
            "owner",
            "team path",
            "tier",
            "lifecycle",
            "level",
        ]
        .map(String::from)
        .to_vec();
        columns.extend(card.checks.iter().map(|c| c.id.clone()));
        columns.extend(
            [
                "on call L1",
                "on call L2",
                "last production deploy",
                "open incidents",
            ]
            .map(String::from),
        );
        let rows = services
            .into_iter()
            .map(|s| {
                let r = &s.result;
                let mut row = vec![
                    s.name.clone(),
                    r.owner_key
                        .as_deref()
                        .map(key_name)
                        .unwrap_or("")
                        .to_string(),
                    r.owner_key
                        .as_deref()
                        .map(|o| team_path(tree, o))
                        .unwrap_or_default(),
                    s.tier.clone().unwrap_or_default(),
                    s.lifecycle.clone().unwrap_or_default(),
                    card.level_name(r.level).to_string(),
                ];
                row.extend(
                    r.outcomes
                        .iter()
                        .map(|o| if o.passed { "pass" } else { "fail" }.to_string()),
                );
                let levels = service_of
                    .get(r.key.as_str())
                    .and_then(|id| on_call.get(*id));
                for level in 0..2 {
                    row.push(levels.map(|l| l[level].join(", ")).unwrap_or_default());
                }
                row.push(
                    r.last_production_deploy
                        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                        .unwrap_or_default(),
                );
                row.push(r.open_incidents.to_string());
                row
            })
            .collect();
        Ok(Report { columns, rows })
    }

    /// One row per team in tree order with what it and the groups below it own, then the
    /// organisation: services, level, checks passed, services at each level, and how many
    /// services fail each check.
    pub async fn scorecard_report(&self) -> Result<Report> {
        self.refresh_scorecards(false).await?;
        let card = &self.config().scorecard;
        let org = self.org().await?;
        let (tree, teams) = (&org.tree, &org.heads);
        let direct = self.store().scorecard_tallies().await?;
        let below = tree.roll_up(&direct);
        let mut columns: Vec<String> = ["team", "team path", "services", "level", "checks passed"]
            .map(String::from)
            .to_vec();
        columns.push("no level".into());
        columns.extend(card.levels.iter().map(|l| format!("at {l}")));
        columns.extend(card.checks.iter().map(|c| format!("failing {}", c.id)));
        let row = |name: String, path: String, tally: &Tally| {
            let mut row = vec![
                name,
                path,
                tally.services.to_string(),
                card.level_name(tally.median_level()).to_string(),
                format!("{}%", tally.percent()),
            ];
            row.extend(
                (0..=card.levels.len())
                    .map(|l| tally.at_level.get(l).copied().unwrap_or(0).to_string()),
            );
            row.extend(
                card.checks
                    .iter()
                    .map(|c| tally.failing.get(&c.id).copied().unwrap_or(0).to_string()),
            );
            row
        };
        let mut rows: Vec<Vec<String>> = teams
            .iter()
            .map(|t| {
                row(
                    t.name.clone(),
                    team_path(tree, &t.key),
                    &below.get(&t.key).cloned().unwrap_or_default(),
                )
            })
            .collect();
        let org = direct
            .values()
            .cloned()
            .fold(Tally::default(), |mut all, t| {
                all += t;
                all
            });
        rows.push(row("(organisation)".into(), String::new(), &org));
        Ok(Report { columns, rows })
    }

    /// A report of `kind` written as `format`.
    pub async fn report(
        &self,
        kind: ReportKind,
        team: Option<&str>,
        below: bool,
    ) -> Result<Report> {
        match kind {
            ReportKind::Ownership => self.ownership_report(team, below).await,
            ReportKind::Scorecard => self.scorecard_report().await,
        }
    }

    /// Writes a report into `dir` under a name that says what and when, never over a file
    /// already there; returns the path.
    pub async fn export_report(
        &self,
        kind: ReportKind,
        team: Option<&str>,
        format: ReportFormat,
        dir: &Path,
    ) -> Result<PathBuf> {
        let report = self.report(kind, team, true).await?;
        let text = report.render(format)?;
        let scope = team
            .map(|t| key_name(t).to_string())
            .unwrap_or_else(|| "organisation".into());
        let kind = match kind {
            ReportKind::Ownership => "ownership",
            ReportKind::Scorecard => "scorecard",
        };
        let stem = format!(
            "opsdeck-{kind}-{}-{}",
            safe_file_name(&scope),
            chrono::Utc::now().format("%Y-%m-%d")
        );
        for n in 0..1000 {
            let name = match n {
                0 => format!("{stem}.{}", format.extension()),
                n => format!("{stem}-{n}.{}", format.extension()),
            };
            let path = dir.join(name);
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut file) => {
                    use std::io::Write;
                    file.write_all(text.as_bytes()).map_err(|e| {
                        Error::Refused(format!("cannot write {}: {e}", path.display()))
                    })?;
                    return Ok(path);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(Error::Refused(format!(
                        "cannot write the report into {}: {e}",
                        dir.display()
                    )))
                }
            }
        }
        Err(Error::Refused(format!(
            "{} holds a thousand reports of this name already: clear some out",
            dir.display()
        )))
    }
}

/// The path from the top of the tree to a team, by name.
fn team_path(tree: &OrgTree, key: &str) -> String {
    tree.path(key)
        .iter()
        .map(|k| key_name(k))
        .collect::<Vec<_>>()
        .join(" / ")
}

fn safe_file_name(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A spreadsheet runs a cell that starts with one of these as a formula (and some run one
/// after a tab or carriage return): such a cell is written with a leading `'`, as OWASP advises.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

fn neutralised(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(FORMULA_STARTS) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

/// Markdown and HTML read nothing in the cell: pipes, angle brackets, ampersands and line
/// breaks come out as text.
fn markdown_cell(cell: &str) -> String {
    let mut out = String::with_capacity(cell.len());
    for c in cell.chars() {
        match c {
            '|' => out.push_str("\\|"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '`' | '*' | '_' | '[' | ']' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

impl Report {
    /// The report as text in `format`; [`ReportFormat::Table`] is the CLI's to print (it keeps
    /// terminals safe), so here it is tab-separated.
    pub fn render(&self, format: ReportFormat) -> Result<String> {
        Ok(match format {
            ReportFormat::Csv => {
                let mut writer = csv::WriterBuilder::new()
                    .terminator(csv::Terminator::CRLF)
                    .from_writer(Vec::new());
                let write = |writer: &mut csv::Writer<Vec<u8>>, row: &[String]| {
                    writer
                        .write_record(row.iter().map(|c| neutralised(c).into_owned()))
                        .map_err(|e| Error::Refused(format!("cannot write the CSV: {e}")))
                };
                write(&mut writer, &self.columns)?;
                for row in &self.rows {
                    write(&mut writer, row)?;
                }
                let bytes = writer
                    .into_inner()
                    .map_err(|e| Error::Refused(format!("cannot write the CSV: {e}")))?;
                String::from_utf8(bytes).expect("the cells were strings")
            }
            ReportFormat::Json => {
                let objects: Vec<serde_json::Map<String, serde_json::Value>> = self
                    .rows
                    .iter()
                    .map(|row| {
                        self.columns
                            .iter()
                            .zip(row)
                            .map(|(c, v)| (c.clone(), serde_json::Value::String(v.clone())))
                            .collect()
                    })
                    .collect();
                serde_json::to_string_pretty(&objects).expect("strings serialise") + "\n"
            }
            ReportFormat::Markdown => {
                let line = |cells: &[String]| {
                    format!(
                        "| {} |\n",
                        cells
                            .iter()
                            .map(|c| markdown_cell(c))
                            .collect::<Vec<_>>()
                            .join(" | ")
                    )
                };
                let mut out = line(&self.columns);
                out.push_str(&format!("|{}\n", " --- |".repeat(self.columns.len())));
                for row in &self.rows {
                    out.push_str(&line(row));
                }
                out
            }
            ReportFormat::Table => {
                let mut out = self.columns.join("\t") + "\n";
                for row in &self.rows {
                    out.push_str(&row.join("\t"));
                    out.push('\n');
                }
                out
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(rows: &[&[&str]]) -> Report {
        Report {
            columns: vec!["service".into(), "owner".into()],
            rows: rows
                .iter()
                .map(|r| r.iter().map(|c| c.to_string()).collect())
                .collect(),
        }
    }

    #[test]
    fn csv_quotes_as_rfc_4180_says_and_neutralises_formulas() {
        let csv = report(&[
            &["checkout-api", "checkout"],
            &["=HYPERLINK(\"http://evil\")", "+1"],
            &["a, \"quoted\"\nname", "@SUM(A1)"],
            &["-2", "\tTAB"],
        ])
        .render(ReportFormat::Csv)
        .unwrap();
        assert_eq!(
            csv,
            "service,owner\r\n\
             checkout-api,checkout\r\n\
             \"'=HYPERLINK(\"\"http://evil\"\")\",'+1\r\n\
             \"a, \"\"quoted\"\"\nname\",'@SUM(A1)\r\n\
             '-2,'\tTAB\r\n"
        );
        // A reader that speaks RFC 4180 gets the cells back, each formula behind its quote.
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        let cells: Vec<Vec<String>> = reader
            .records()
            .map(|r| r.unwrap().iter().map(String::from).collect())
            .collect();
        assert_eq!(cells[1], vec!["'=HYPERLINK(\"http://evil\")", "'+1"]);
        assert_eq!(cells[2][0], "a, \"quoted\"\nname");
    }

    #[test]
    fn markdown_and_json_keep_untrusted_text_inert() {
        let r = report(&[&["<img src=x onerror=alert(1)>", "a|b [x](javascript:1)"]]);
        let md = r.render(ReportFormat::Markdown).unwrap();
        assert_eq!(
            md,
            "| service | owner |\n| --- | --- |\n| &lt;img src=x onerror=alert(1)&gt; | a\\|b \\[x\\](javascript:1) |\n"
        );
        let json: serde_json::Value =
            serde_json::from_str(&r.render(ReportFormat::Json).unwrap()).unwrap();
        assert_eq!(json[0]["owner"], "a|b [x](javascript:1)");
        assert_eq!("md".parse::<ReportFormat>(), Ok(ReportFormat::Markdown));
        assert!("xlsx"
            .parse::<ReportFormat>()
            .unwrap_err()
            .contains("table, csv, json or markdown"));
    }
}
