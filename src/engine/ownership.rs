//! What team leads review: the organisation as a tree with counts rolled up, a team's page
//! (sub-teams, everything it owns, members and who is on call), and scorecards with their
//! trends, worked out after a sync and read from the cache.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use sha2::{Digest, Sha256};

use crate::api::{
    CheckFix, CheckInfo, EntitySummary, Member, OutsideOnCall, OwnedKind, ScorecardView,
    ServiceScoreRow, ServiceScorecard, SystemMismatch, TeamDetail, TeamScore, TeamSummary,
    TrendPoint, Worsened,
};
use crate::domain::oncall::{on_call_at, Incident, Shift};
use crate::domain::org::OrgTree;
use crate::domain::scorecards::{
    catalog_snippet, edit_url, worsened, Scorecard, ServiceFacts, Tally,
};
use crate::domain::RelationType;
use crate::store::{key_name, RecordKind, ScorecardResult, ScoredService, TeamHead, Worsening};
use crate::{Engine, Error, Result};

/// Days of history a scorecard's trend shows.
pub const TREND_DAYS: u64 = 90;
/// How far back "what got worse" looks.
pub const WORSE_SINCE_DAYS: u64 = 7;

/// The key services without an owner are tallied under.
const NO_OWNER: &str = "";

impl Engine {
    /// Teams in tree order (each group followed by the groups below it; the branches holding
    /// the identity's teams first), with counts of their own and rolled up from below.
    pub async fn teams(&self) -> Result<Vec<TeamSummary>> {
        let mark = self.store().landings_mark().await?;
        if let Some(teams) = self.inner.sidebar.get(&mark) {
            return Ok(teams);
        }
        let org = self.org().await?;
        let me = self.config().identity.email.as_deref();
        let teams = with_rollups(&org, self.store().teams(me, None).await?);
        self.inner.sidebar.keep(mark, teams.clone());
        Ok(teams)
    }

    /// The groups as a tree and their heads in tree order, read again only after a landing.
    pub(crate) async fn org(&self) -> Result<Arc<OrgView>> {
        let mark = self.store().landings_mark().await?;
        if let Some(view) = self.inner.org_view.get(&mark) {
            return Ok(view);
        }
        let (groups, edges) = self.store().group_edges().await?;
        let tree = OrgTree::build(&groups, &edges);
        let me = self.config().identity.email.as_deref();
        let heads = self.store().team_heads(me).await?;
        let order = tree_order(&tree, heads.iter().map(|h| (&h.key, &h.title, h.is_mine)));
        let mut by_key: HashMap<String, TeamHead> =
            heads.into_iter().map(|h| (h.key.clone(), h)).collect();
        let heads = order
            .into_iter()
            .filter_map(|k| by_key.remove(&k))
            .collect();
        let view = Arc::new(OrgView { tree, heads });
        self.inner.org_view.keep(mark, view.clone());
        Ok(view)
    }

    /// A team's page: where it sits, its sub-teams, what else it owns, its members and who is
    /// on call for its services.
    pub async fn team(&self, team: &str) -> Result<TeamDetail> {
        let key = self.team_key(team).await?;
        let org = self.org().await?;
        let tree = &org.tree;
        // Its counts roll up from what is below it: only its subtree is counted.
        let me = self.config().identity.email.as_deref();
        let subtree = tree.subtree(&key);
        let teams = with_rollups(&org, self.store().teams(me, Some(&subtree)).await?);
        let find = |k: &str| teams.iter().find(|t| t.key == k).cloned();
        let summary = find(&key).ok_or_else(|| Error::NoTeam(team.to_string()))?;
        let entity = self.store().entity(&key).await?.map(|s| s.entity);
        let mut ancestors = Vec::new();
        for up in tree.path(&key).iter().rev().skip(1).rev() {
            ancestors.push(self.store().summary(up).await?);
        }
        let sub_teams = tree.children(&key).iter().filter_map(|k| find(k)).collect();
        let owned = self.store().related(&key, false).await?;
        let mut owns: BTreeMap<String, Vec<EntitySummary>> = BTreeMap::new();
        for r in owned
            .iter()
            .filter(|r| r.relation == RelationType::OwnedBy.as_str())
        {
            if !matches!(r.other.kind.as_str(), "component" | "group" | "user") {
                owns.entry(r.other.kind.clone())
                    .or_default()
                    .push(r.other.clone());
            }
        }
        let mut system_mismatches = Vec::new();
        for (service, system, system_owner) in self.store().system_owner_mismatches(&key).await? {
            system_mismatches.push(SystemMismatch {
                service: self.store().summary(&service).await?,
                system: self.store().summary(&system).await?,
                system_owner: match system_owner {
                    Some(owner) => Some(self.store().summary(&owner).await?),
                    None => None,
                },
            });
        }
        let (members, outside_on_call) = self.members_and_rotations(&key).await?;
        let around: BTreeSet<String> = tree
            .path(&key)
            .into_iter()
            .chain(tree.subtree(&key))
            .collect();
        Ok(TeamDetail {
            team: summary,
            description: entity.and_then(|e| e.metadata.description),
            ancestors,
            sub_teams,
            owns: owns
                .into_iter()
                .map(|(kind, entities)| OwnedKind { kind, entities })
                .collect(),
            system_mismatches,
            members,
            outside_on_call,
            tree_problems: tree
                .problems()
                .iter()
                .filter(|p| p.groups().iter().any(|g| around.contains(*g)))
                .map(ToString::to_string)
                .collect(),
        })
    }

    async fn members_and_rotations(&self, key: &str) -> Result<(Vec<Member>, Vec<OutsideOnCall>)> {
        let now = Utc::now();
        let me = self.config().identity.email.as_deref();
        let users = self.store().members_of(key).await?;
        let policies = self.store().policies_of_owner(key).await?;
        let shifts: Vec<Shift> = self
            .store()
            .records::<Shift>(
                RecordKind::Shift,
                crate::store::LookupBy::JoinKey,
                &policies,
            )
            .await?
            .into_iter()
            .map(|(_, s)| s)
            .collect();
        let email_of = |s: &Shift| s.person.email.as_deref().map(str::to_lowercase);
        let members: Vec<Member> = users
            .into_iter()
            .map(|(user, email)| {
                let lower = email.as_deref().map(str::to_lowercase);
                let mine = |s: &&Shift| lower.is_some() && email_of(s) == lower;
                Member {
                    in_rotation: shifts.iter().any(|s| mine(&s)),
                    on_call_now: shifts.iter().filter(mine).any(|s| s.covers(now)),
                    is_me: matches!((&lower, me), (Some(a), Some(b)) if a.eq_ignore_ascii_case(b)),
                    user,
                    email,
                }
            })
            .collect();
        let member_emails: BTreeSet<String> = members
            .iter()
            .filter_map(|m| m.email.as_deref().map(str::to_lowercase))
            .collect();
        let mut outside: BTreeMap<String, OutsideOnCall> = BTreeMap::new();
        for shift in &shifts {
            if email_of(shift).is_some_and(|e| member_emails.contains(&e)) {
                continue;
            }
            let entry = outside
                .entry(shift.person.id.clone())
                .or_insert_with(|| OutsideOnCall {
                    name: shift.person.name.clone(),
                    email: shift.person.email.clone(),
                    catalog_user: None,
                    policies: Vec::new(),
                });
            if !entry.policies.contains(&shift.policy_name) {
                entry.policies.push(shift.policy_name.clone());
            }
        }
        let emails: Vec<String> = outside.values().filter_map(|o| o.email.clone()).collect();
        let users = self.store().users_by_email(&emails).await?;
        let mut outside: Vec<OutsideOnCall> = outside.into_values().collect();
        for person in &mut outside {
            person.catalog_user = person
                .email
                .as_deref()
                .and_then(|e| users.get(&e.to_lowercase()))
                .cloned();
        }
        outside.sort_by(|a, b| a.name.cmp(&b.name));
        Ok((members, outside))
    }

    /// Works the scorecards out again from the cache, if what they were worked out from may
    /// have changed: a sync `changed` the cache, the scorecard config is another, or the day
    /// moved on (time-bound checks, and the day's history).
    pub(crate) async fn refresh_scorecards(&self, changed: bool) -> Result<()> {
        self.refresh_scorecards_at(changed, Utc::now()).await?;
        Ok(())
    }

    /// [`Engine::refresh_scorecards`] as of `now`; returns when the results the cache holds
    /// were worked out.
    async fn refresh_scorecards_at(
        &self,
        changed: bool,
        now: DateTime<Utc>,
    ) -> Result<DateTime<Utc>> {
        let _one_at_a_time = self.inner.scorecard_refresh.lock().await;
        let production = self.production_environments().await?;
        let fingerprint = self.scorecard_fingerprint(&production);
        let held = self.store().scorecard_state().await?;
        if let Some((f, at)) = held {
            if f == fingerprint && at.date_naive() == now.date_naive() && !changed {
                return Ok(at);
            }
        }
        let card = &self.config().scorecard;
        let inputs = self.store().scorecard_inputs(&production).await?;
        // Each policy's levels with someone on call, and the people at its first level.
        let policies: HashMap<String, (i64, i64)> = self
            .shifts_by_policy()
            .await?
            .into_iter()
            .map(|(policy, shifts)| {
                let levels: BTreeSet<i64> = shifts.iter().map(|s| s.level).collect();
                let first: BTreeSet<&str> = shifts
                    .iter()
                    .filter(|s| s.level == 1)
                    .map(|s| s.person.id.as_str())
                    .collect();
                (policy, (levels.len() as i64, first.len() as i64))
            })
            .collect();
        let mut open: HashMap<String, (DateTime<Utc>, i64)> = HashMap::new();
        for (_, incident) in self
            .store()
            .all_records::<Incident>(RecordKind::Incident)
            .await?
        {
            if incident.status.is_open() {
                let entry = open
                    .entry(incident.service_id.clone())
                    .or_insert((incident.created_at, 0));
                entry.0 = entry.0.min(incident.created_at);
                entry.1 += 1;
            }
        }
        let pagerduty_synced = self.store().holds_records(RecordKind::Service).await?;
        let levels = card.levels.len();
        let mut tallies: HashMap<String, Tally> = HashMap::new();
        let mut results = Vec::with_capacity(inputs.len());
        for input in inputs {
            let incidents = input
                .pagerduty_service_id
                .as_deref()
                .and_then(|id| open.get(id))
                .copied();
            let facts = ServiceFacts {
                owner_exists: input.owner_exists,
                owner_members: input.owner_members,
                escalation: input
                    .policy_id
                    .as_deref()
                    .map(|p| policies.get(p).copied().unwrap_or((0, 0))),
                pagerduty_synced,
                inherited_runbook: input.inherited_runbook.as_deref().map(|k| {
                    let kind = k.split(':').next().unwrap_or("");
                    let kind = if kind == "group" { "team" } else { kind };
                    format!("{kind} {}", key_name(k))
                }),
                alerts_seen: input.alerts_seen,
                last_production_deploy: input.last_production_deploy,
                oldest_open_incident: incidents.map(|(at, _)| at),
            };
            let score = card.evaluate(&input.entity, &facts, now);
            tallies
                .entry(input.owner_key.clone().unwrap_or_else(|| NO_OWNER.into()))
                .or_default()
                .add(levels, &score);
            results.push(ScorecardResult {
                key: input.key,
                owner_key: input.owner_key,
                level: score.level,
                outcomes: score.outcomes,
                last_production_deploy: input.last_production_deploy,
                open_incidents: incidents.map_or(0, |(_, n)| n),
            });
        }
        // Worse than a week ago: worked out here, once, so screens only read it.
        let keys: Vec<String> = results.iter().map(|r| r.key.clone()).collect();
        let week_ago = now.date_naive() - chrono::Days::new(WORSE_SINCE_DAYS);
        let then = self.store().scores_on(&keys, week_ago).await?;
        let worse: Vec<Worsening> = results
            .iter()
            .filter_map(|r| {
                let (was, failed) = then.get(&r.key)?;
                let failing: Vec<String> = r
                    .outcomes
                    .iter()
                    .filter(|o| !o.passed)
                    .map(|o| o.check.clone())
                    .collect();
                let newly_failing = worsened((*was, failed), (r.level, &failing))?;
                Some(Worsening {
                    key: r.key.clone(),
                    owner_key: r.owner_key.clone(),
                    was: *was,
                    now: r.level,
                    newly_failing,
                })
            })
            .collect();
        self.store()
            .replace_scorecards(&results, &worse, &tallies, &fingerprint, now)
            .await?;
        Ok(now)
    }

    /// Each owner's tally of the results worked out at `computed_at`, read once for them.
    async fn scorecard_tallies(
        &self,
        computed_at: DateTime<Utc>,
    ) -> Result<Arc<HashMap<String, Tally>>> {
        if let Some((at, tallies)) = &*self.inner.scorecard_tallies.lock().expect("never poisoned")
        {
            if *at == computed_at {
                return Ok(tallies.clone());
            }
        }
        let tallies = Arc::new(self.store().scorecard_tallies().await?);
        *self.inner.scorecard_tallies.lock().expect("never poisoned") =
            Some((computed_at, tallies.clone()));
        Ok(tallies)
    }

    /// The environments that count as production, among those deployed to.
    pub(crate) async fn production_environments(&self) -> Result<Vec<String>> {
        let order = self.config().delivery.order();
        Ok(self
            .store()
            .environments()
            .await?
            .into_iter()
            .filter(|e| order.is_production(e))
            .collect())
    }

    fn scorecard_fingerprint(&self, production: &[String]) -> String {
        let digest = Sha256::digest(format!("{:?}{production:?}", self.config().scorecard));
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// A team's scorecard (with the groups below it when `below`), or the organisation's.
    pub async fn scorecard(&self, team: Option<&str>, below: bool) -> Result<ScorecardView> {
        self.scorecard_at(team, below, Utc::now()).await
    }

    async fn scorecard_at(
        &self,
        team: Option<&str>,
        below: bool,
        now: DateTime<Utc>,
    ) -> Result<ScorecardView> {
        let computed_at = self.refresh_scorecards_at(false, now).await?;
        let card = &self.config().scorecard;
        let org = self.org().await?;
        let (tree, heads) = (&org.tree, &org.heads);
        let key = match team {
            Some(team) => Some(self.team_key(team).await?),
            None => None,
        };
        let owners: Option<Vec<String>> = key.as_ref().map(|k| {
            if below {
                tree.subtree(k)
            } else {
                vec![k.clone()]
            }
        });
        let direct = self.scorecard_tallies(computed_at).await?;
        let rolled = tree.roll_up(&direct);
        let tally_of = |k: &str, below: bool| -> Tally {
            let from = if below { &rolled } else { &direct };
            from.get(k).cloned().unwrap_or_default()
        };
        let tally = match &owners {
            Some(owners) => owners.iter().fold(Tally::default(), |mut all, o| {
                all += direct.get(o).cloned().unwrap_or_default();
                all
            }),
            None => direct
                .values()
                .cloned()
                .fold(Tally::default(), |mut all, t| {
                    all += t;
                    all
                }),
        };
        let shown: Vec<&TeamHead> = match &key {
            Some(k) => heads
                .iter()
                .filter(|h| tree.parent(&h.key) == Some(k.as_str()))
                .collect(),
            None => heads.iter().collect(),
        };
        let team_scores = shown
            .into_iter()
            .map(|t| {
                // A department's row counts what its teams own: the row says what the
                // person answering for it answers for.
                let tally = tally_of(&t.key, true);
                TeamScore {
                    key: t.key.clone(),
                    title: t.title.clone(),
                    depth: tree.depth(&t.key) as i64,
                    level: card.level_name(tally.median_level()).to_string(),
                    tally,
                }
            })
            .collect();
        let services = match &owners {
            Some(owners) => self
                .store()
                .scored_services(Some(owners))
                .await?
                .into_iter()
                .map(|s| score_row(card, s))
                .collect(),
            None => Vec::new(),
        };
        let today = now.date_naive();
        let trend = self.trend(owners.as_deref(), today).await?;
        let worse = self.worse_since(owners.as_deref()).await?;
        let mut failing_most: Vec<(String, i64)> = tally.failing.clone().into_iter().collect();
        failing_most.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        Ok(ScorecardView {
            team: key,
            below,
            levels: card.levels.clone(),
            checks: check_infos(card),
            level: card.level_name(tally.median_level()).to_string(),
            tally,
            failing_most,
            teams: team_scores,
            services,
            trend,
            worse,
            computed_at: Some(computed_at),
        })
    }

    async fn trend(&self, owners: Option<&[String]>, today: NaiveDate) -> Result<Vec<TrendPoint>> {
        let since = today - chrono::Days::new(TREND_DAYS);
        let mut by_day: BTreeMap<NaiveDate, Tally> = BTreeMap::new();
        for day in self.store().scorecard_team_days(owners, since).await? {
            let tally = by_day.entry(day.day).or_default();
            *tally += Tally {
                services: day.services,
                at_level: day.at_level,
                passed: day.passed,
                total: day.total,
                failing: BTreeMap::new(),
            };
        }
        Ok(by_day
            .into_iter()
            .map(|(day, t)| TrendPoint {
                day: day.to_string(),
                percent: t.percent(),
                services: t.services,
                at_level: t.at_level,
            })
            .collect())
    }

    async fn worse_since(&self, owners: Option<&[String]>) -> Result<Vec<Worsened>> {
        let card = &self.config().scorecard;
        Ok(self
            .store()
            .worsenings(owners)
            .await?
            .into_iter()
            .map(|w| Worsened {
                name: key_name(&w.key).to_string(),
                was: card.level_name(w.was).to_string(),
                now: card.level_name(w.now).to_string(),
                newly_failing: w.newly_failing,
                key: w.key,
            })
            .collect())
    }

    /// A service's scorecard, with how to fix each failing check.
    pub async fn service_scorecard(&self, name: &str) -> Result<ServiceScorecard> {
        self.refresh_scorecards(false).await?;
        let (key, stored) = self.service_entity(name).await?;
        let card = &self.config().scorecard;
        let scored = self
            .store()
            .scored_service(&key)
            .await?
            .ok_or_else(|| Error::NoService(name.to_string()))?;
        let row = score_row(card, scored);
        let checks = check_infos(card);
        let fixes = row
            .outcomes
            .iter()
            .filter(|o| !o.passed)
            .filter_map(|o| {
                let check = card.check(&o.check)?;
                Some(CheckFix {
                    check: checks.iter().find(|c| c.id == o.check)?.clone(),
                    detail: o.detail.clone(),
                    snippet: catalog_snippet(&check.rule, &stored.entity),
                })
            })
            .collect();
        Ok(ServiceScorecard {
            row,
            levels: card.levels.clone(),
            checks,
            fixes,
            edit_url: edit_url(&stored.entity),
        })
    }

    /// Who is on call at levels 1 and 2 for each PagerDuty service, now.
    pub(crate) async fn on_call_by_service(&self) -> Result<HashMap<String, [Vec<String>; 2]>> {
        let now = Utc::now();
        let shifts_by_policy = self.shifts_by_policy().await?;
        let mut out = HashMap::new();
        for (service, policy) in self.store().service_policies().await? {
            let policies = on_call_at(
                shifts_by_policy.get(&policy).into_iter().flatten(),
                now,
                None,
            );
            let mut levels: [Vec<String>; 2] = Default::default();
            for level in policies.iter().flat_map(|p| &p.levels) {
                if let Some(slot) = usize::try_from(level.level - 1)
                    .ok()
                    .and_then(|i| levels.get_mut(i))
                {
                    slot.extend(level.now.iter().map(|n| n.person.name.clone()));
                }
            }
            out.insert(service, levels);
        }
        Ok(out)
    }
}

/// The groups as a tree, and their heads in tree order.
#[derive(Debug)]
pub(crate) struct OrgView {
    /// The tree.
    pub tree: OrgTree,
    /// Each group's key, name, title and whether it is mine, in tree order.
    pub heads: Vec<TeamHead>,
}

/// `direct` (teams with their own counts, each group's whole subtree among them) in tree
/// order, with where each sits and its counts rolled up from below.
fn with_rollups(org: &OrgView, direct: Vec<TeamSummary>) -> Vec<TeamSummary> {
    let tree = &org.tree;
    let counts = |pick: fn(&TeamSummary) -> i64| -> HashMap<String, i64> {
        direct.iter().map(|t| (t.key.clone(), pick(t))).collect()
    };
    let services_below = tree.roll_up(&counts(|t| t.service_count));
    let gaps_below = tree.roll_up(&counts(|t| t.gap_count));
    let mut by_key: HashMap<String, TeamSummary> =
        direct.into_iter().map(|t| (t.key.clone(), t)).collect();
    org.heads
        .iter()
        .filter_map(|head| {
            let key = &head.key;
            let mut team = by_key.remove(key)?;
            team.parent = tree.parent(key).map(str::to_string);
            team.depth = tree.depth(key) as i64;
            team.child_count = tree.children(key).len() as i64;
            team.service_count_below = services_below.get(key).copied().unwrap_or(0);
            team.gap_count_below = gaps_below.get(key).copied().unwrap_or(0);
            Some(team)
        })
        .collect()
}

/// Groups in tree order: each before the groups below it; among siblings the branches holding
/// my teams first, then by title.
fn tree_order<'a>(
    tree: &OrgTree,
    groups: impl Iterator<Item = (&'a String, &'a String, bool)>,
) -> Vec<String> {
    let mut titles: HashMap<&str, String> = HashMap::new();
    let mut mine: HashMap<String, i64> = HashMap::new();
    for (key, title, is_mine) in groups {
        titles.insert(key, title.to_lowercase());
        mine.insert(key.clone(), i64::from(is_mine));
    }
    let mine_below = tree.roll_up(&mine);
    let sort_key = |key: &String| {
        let title = titles.get(key.as_str()).cloned().unwrap_or_default();
        std::cmp::Reverse((mine_below.get(key).copied().unwrap_or(0) == 0, title))
    };
    // Depth first, with a stack: the next sibling is the last one pushed.
    let mut stack: Vec<String> = tree.roots().to_vec();
    stack.sort_by_key(sort_key);
    let mut ordered = Vec::with_capacity(titles.len());
    while let Some(key) = stack.pop() {
        let mut children = tree.children(&key).to_vec();
        children.sort_by_key(sort_key);
        ordered.push(key);
        stack.extend(children);
    }
    ordered
}

/// The checks as people read them.
pub(crate) fn check_infos(card: &Scorecard) -> Vec<CheckInfo> {
    card.checks
        .iter()
        .map(|c| CheckInfo {
            id: c.id.clone(),
            name: c.name.clone(),
            level: card.level_name(Some(c.level)).to_string(),
            why: c.why.clone(),
            fix: c.fix.clone(),
            docs: c.docs.clone(),
        })
        .collect()
}

pub(crate) fn score_row(card: &Scorecard, s: ScoredService) -> ServiceScoreRow {
    ServiceScoreRow {
        key: s.result.key,
        name: s.name,
        title: s.title,
        owner: s.result.owner_key,
        tier: s.tier,
        lifecycle: s.lifecycle,
        level: card.level_name(s.result.level).to_string(),
        outcomes: s.result.outcomes,
        last_production_deploy: s.result.last_production_deploy,
        open_incidents: s.result.open_incidents,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::domain::Entity;
    use crate::secrets::Secrets;
    use serde_json::json;

    fn entity(
        kind: &str,
        name: &str,
        metadata: serde_json::Value,
        spec: serde_json::Value,
    ) -> Entity {
        let mut value = json!({"apiVersion": "backstage.io/v1alpha1", "kind": kind, "metadata": {"name": name}, "spec": spec});
        if let serde_json::Value::Object(extra) = metadata {
            value["metadata"].as_object_mut().unwrap().extend(extra);
        }
        serde_json::from_value(value).unwrap()
    }

    fn catalog(runbook: bool) -> Vec<Entity> {
        let links = if runbook {
            json!([{"url": "https://wiki/rb", "type": "runbook"}])
        } else {
            json!([{"url": "https://grafana/d", "type": "dashboard"}])
        };
        vec![
            entity(
                "Group",
                "eng",
                json!({}),
                json!({"type": "department", "children": ["team-a"]}),
            ),
            entity(
                "Group",
                "team-a",
                json!({}),
                json!({"type": "team", "parent": "eng"}),
            ),
            entity(
                "User",
                "ann",
                json!({}),
                json!({"memberOf": ["team-a"], "profile": {"email": "ann@x.dev"}}),
            ),
            entity(
                "Component",
                "svc-a",
                json!({"description": "A.", "labels": {"tier": "2"}, "links": links,
                       "annotations": {"prometheus.io/alert": "all"}}),
                json!({"type": "service", "lifecycle": "production", "owner": "team-a"}),
            ),
            entity(
                "Component",
                "svc-b",
                json!({}),
                json!({"type": "service", "owner": "team-a"}),
            ),
        ]
    }

    async fn land(engine: &Engine, entities: &[Entity], at: DateTime<Utc>) {
        engine.store().land_catalog(entities, at).await;
    }

    fn config(extra: &str) -> Config {
        let text = format!("[[sources]]\nname = \"catalog\"\nkind = \"catalog-files\"\npath = \"/srv/catalog\"\n{extra}");
        Config::parse(&text, std::path::Path::new("/tmp/o.toml")).unwrap()
    }

    #[tokio::test]
    async fn a_service_that_lost_its_runbook_is_worse_than_a_week_ago() {
        let engine = Engine::in_memory(config(""), Secrets::default())
            .await
            .unwrap();
        let now = Utc::now();
        let week_ago = now - chrono::Duration::days(8);
        land(&engine, &catalog(true), week_ago).await;
        engine.refresh_scorecards_at(true, week_ago).await.unwrap();
        land(&engine, &catalog(false), now).await;
        engine.refresh_scorecards_at(true, now).await.unwrap();

        let view = engine
            .scorecard_at(Some("team-a"), false, now)
            .await
            .unwrap();
        assert_eq!(view.services.len(), 2);
        let names: Vec<(&str, &str)> = view
            .worse
            .iter()
            .map(|w| (w.name.as_str(), w.now.as_str()))
            .collect();
        // Bronze then and now (nothing pages for it), but failing one more check.
        assert_eq!(names, vec![("svc-a", "bronze")]);
        assert_eq!(view.worse[0].was, "bronze");
        assert_eq!(view.worse[0].newly_failing, vec!["runbook".to_string()]);
        let days: Vec<&str> = view.trend.iter().map(|p| p.day.as_str()).collect();
        assert_eq!(
            days,
            vec![
                week_ago.date_naive().to_string(),
                now.date_naive().to_string()
            ]
        );
        assert!(
            view.trend[0].percent > view.trend[1].percent,
            "{:?}",
            view.trend
        );

        // The department counts what its team owns.
        let org = engine.scorecard_at(None, true, now).await.unwrap();
        let eng = org
            .teams
            .iter()
            .find(|t| t.key == "group:default/eng")
            .unwrap();
        assert_eq!((eng.depth, eng.tally.services), (0, 2));
        assert_eq!(org.tally.services, 2);
        assert_eq!(
            org.failing_most[0],
            ("delivery".to_string(), 2),
            "ties by name"
        );
        let team = engine.scorecard_at(Some("eng"), false, now).await.unwrap();
        assert!(
            team.services.is_empty(),
            "the department owns nothing itself"
        );
        assert_eq!(team.teams[0].tally.services, 2, "its sub-team, rolled up");
        assert_eq!(
            engine
                .scorecard_at(Some("eng"), true, now)
                .await
                .unwrap()
                .services
                .len(),
            2
        );
    }

    #[tokio::test]
    async fn groups_in_a_cycle_are_drawn_once_and_the_cycle_is_named() {
        let engine = Engine::in_memory(config(""), Secrets::default())
            .await
            .unwrap();
        let group = |name: &str, parent: &str| {
            entity(
                "Group",
                name,
                json!({}),
                json!({"type": "team", "parent": parent}),
            )
        };
        let mut entities = vec![group("a", "b"), group("b", "a"), group("c", "gone")];
        entities.push(entity("Component", "svc", json!({}), json!({"owner": "b"})));
        land(&engine, &entities, Utc::now()).await;
        let teams = engine.teams().await.unwrap();
        let drawn: Vec<(&str, i64, i64)> = teams
            .iter()
            .map(|t| (t.name.as_str(), t.depth, t.service_count_below))
            .collect();
        assert_eq!(drawn, vec![("a", 0, 1), ("b", 1, 1), ("c", 0, 0)]);
        let page = engine.team("b").await.unwrap();
        assert_eq!(page.tree_problems.len(), 1, "{:?}", page.tree_problems);
        assert!(page.tree_problems[0].contains("cycle"));
        let orphan = engine.team("c").await.unwrap();
        assert!(orphan.tree_problems[0].contains("names the parent group:default/gone"));
    }

    #[tokio::test]
    async fn another_scorecard_config_is_worked_out_again_before_it_is_read() {
        let engine = Engine::in_memory(config(""), Secrets::default())
            .await
            .unwrap();
        land(&engine, &catalog(false), Utc::now()).await;
        let card = engine.service_scorecard("svc-a").await.unwrap();
        assert!(card
            .row
            .outcomes
            .iter()
            .any(|o| o.check == "runbook" && !o.passed));
        let fix = card.fixes.iter().find(|f| f.check.id == "runbook").unwrap();
        assert!(fix.snippet.as_deref().unwrap().contains("type: runbook"));

        let lenient = engine.reconfigured(
            config("[scorecards]\ndrop = [\"runbook\"]\n"),
            Secrets::default(),
        );
        let card = lenient.service_scorecard("svc-a").await.unwrap();
        assert!(card.row.outcomes.iter().all(|o| o.check != "runbook"));
        assert!(card.checks.iter().all(|c| c.id != "runbook"));
        assert!(card.fixes.iter().all(|f| f.check.id != "runbook"));
    }
}
