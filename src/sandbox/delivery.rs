//! What the sandbox's GitHub and Argo CD know: each repository's versions, commits, workflow
//! runs and deployments, and each Argo CD application's history, over the 90 days before the
//! sandbox started. Derived from the organisation and the start time, so every run tells the
//! same story relative to its start; kept as indexes and rendered per request, so a million
//! deployments cost memory for numbers, not JSON.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};

use super::org::Seed;
use super::stable_hash;
use crate::domain::Entity;

/// A file a sandbox repository holds (its contents API serves it); for a workflow, `name` is
/// the workflow's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RepoFile {
    pub path: &'static str,
    pub name: &'static str,
    pub text: &'static str,
}

/// The workflow every sandbox repository can dispatch to roll back.
pub const ROLLBACK_WORKFLOW: RepoFile = RepoFile {
    path: ".github/workflows/rollback.yml",
    name: "Roll back",
    text: include_str!("../../assets/demo/repos/rollback.yml"),
};

/// The demo's runbooks kept in repositories (`assets/demo/repos/`): the markdown the catalog
/// and the alerts link to, and checkout-api's automated runbook.
const DEMO_FILES: &[(&str, RepoFile)] = &[
    (
        "demo-org/checkout-api",
        RepoFile {
            path: "docs/runbooks/high-error-rate.md",
            name: "",
            text: include_str!("../../assets/demo/repos/checkout-api.high-error-rate.md"),
        },
    ),
    (
        "demo-org/checkout-api",
        RepoFile {
            path: ".github/workflows/drain-region.yml",
            name: "Drain a region",
            text: include_str!("../../assets/demo/repos/checkout-api.drain-region.yml"),
        },
    ),
    (
        "demo-org/payout-scheduler",
        RepoFile {
            path: "docs/runbooks/queue-backlog.md",
            name: "",
            text: include_str!("../../assets/demo/repos/payout-scheduler.queue-backlog.md"),
        },
    ),
    (
        "demo-org/search-indexer",
        RepoFile {
            path: "docs/runbooks/index-lag.md",
            name: "",
            text: include_str!("../../assets/demo/repos/search-indexer.index-lag.md"),
        },
    ),
    (
        "demo-org/event-pipeline",
        RepoFile {
            path: "docs/runbooks/consumer-lag.md",
            name: "",
            text: include_str!("../../assets/demo/repos/event-pipeline.consumer-lag.md"),
        },
    ),
    (
        "demo-org/api-gateway",
        RepoFile {
            path: "docs/runbooks/certificates.md",
            name: "",
            text: include_str!("../../assets/demo/repos/api-gateway.certificates.md"),
        },
    ),
    (
        "demo-org/warehouse-loader",
        RepoFile {
            path: "docs/runbooks/disk-space.md",
            name: "",
            text: include_str!("../../assets/demo/repos/warehouse-loader.disk-space.md"),
        },
    ),
];

/// The file at `path` in the repository `slug`, if it holds one.
pub fn repo_file(slug: &str, path: &str) -> Option<RepoFile> {
    if path == ROLLBACK_WORKFLOW.path {
        return Some(ROLLBACK_WORKFLOW);
    }
    DEMO_FILES
        .iter()
        .find(|(repo, file)| *repo == slug && file.path == path)
        .map(|(_, file)| *file)
}

/// Environments in promotion order.
pub const ENVIRONMENTS: [&str; 3] = ["beta", "gamma", "prod"];

/// Days of history before the start.
const HISTORY_DAYS: i64 = 90;

/// Argo CD keeps this many history entries per application by default.
const ARGO_HISTORY_LIMIT: usize = 10;

/// When a version reaches each environment after its release.
const PROMOTION_DELAYS_MINUTES: [i64; 3] = [0, 180, 26 * 60];

/// How long a deploy takes.
const DEPLOY_MINUTES: i64 = 3;

/// The world for reading, whatever a panicked writer left.
pub fn read(
    world: &std::sync::RwLock<DeliveryWorld>,
) -> std::sync::RwLockReadGuard<'_, DeliveryWorld> {
    world.read().unwrap_or_else(|p| p.into_inner())
}

/// The world for an action to change.
pub fn write(
    world: &std::sync::RwLock<DeliveryWorld>,
) -> std::sync::RwLockWriteGuard<'_, DeliveryWorld> {
    world.write().unwrap_or_else(|p| p.into_inner())
}

/// A rollout an action starts: when, how long it lasts, and whether it ends failed.
#[derive(Debug, Clone, Copy)]
pub struct Rollout {
    pub at: DateTime<Utc>,
    pub lasts: Duration,
    pub fails: bool,
}

/// How a deployment ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
    /// Held for a reviewer: queued, never started.
    AwaitingApproval,
}

/// One version of a repository: its last commit, released then.
#[derive(Debug, Clone)]
pub struct Version {
    pub name: String,
    pub last_commit: u32,
    pub released_at: DateTime<Utc>,
}

/// One GitHub deployment.
#[derive(Debug, Clone)]
pub struct Deploy {
    pub id: i64,
    pub version: usize,
    pub environment: usize,
    pub created_at: DateTime<Utc>,
    pub outcome: Outcome,
    pub creator: usize,
    /// When a later deployment to the same environment succeeded (GitHub marks it inactive).
    pub superseded_at: Option<DateTime<Utc>>,
    pub description: Option<String>,
    /// From queued to its end.
    pub duration: Duration,
    /// The `payload` it was created with.
    pub payload: Option<serde_json::Value>,
}

/// One Actions run.
#[derive(Debug, Clone)]
pub struct Run {
    pub id: i64,
    pub workflow: &'static str,
    pub path: &'static str,
    pub commit: u32,
    pub created_at: DateTime<Utc>,
    pub minutes: i64,
    pub status: &'static str,
    pub conclusion: Option<&'static str>,
    /// `push`, or `workflow_dispatch` for a run Opsdeck started.
    pub event: &'static str,
    /// Until then a dispatched run is in progress; `status`/`conclusion` hold after.
    pub ends_at: Option<DateTime<Utc>>,
}

impl Run {
    /// Its `status` and `conclusion` at `now`.
    pub fn state_at(&self, now: DateTime<Utc>) -> (&'static str, Option<&'static str>) {
        match self.ends_at {
            Some(end) if now < end => ("in_progress", None),
            _ => (self.status, self.conclusion),
        }
    }

    /// When it last changed at `now`: its end once completed.
    pub fn updated_at(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let started = self.created_at + Duration::seconds(5);
        match (self.state_at(now).0, self.ends_at) {
            ("completed", Some(end)) => end,
            ("completed", None) => started + Duration::minutes(self.minutes),
            _ => self.created_at,
        }
    }
}

/// A repository.
#[derive(Debug, Clone)]
pub struct Repo {
    pub slug: String,
    pub id: i64,
    pub versions: Vec<Version>,
    /// Commits in all: the versions' and any after the last one.
    pub commits: u32,
    pub deploys: Vec<Deploy>,
    pub runs: Vec<Run>,
}

impl Repo {
    /// The SHA of commit `index`.
    pub fn sha(&self, index: u32) -> String {
        let a = stable_hash(&format!("{}#{index}", self.slug));
        let b = stable_hash(&format!("{}@{index}", self.slug));
        format!("{a:016x}{b:016x}{:08x}", (a ^ b) as u32)
    }

    /// The commit whose SHA is `sha`.
    pub fn commit_of(&self, sha: &str) -> Option<u32> {
        (0..self.commits).find(|i| self.sha(*i) == sha)
    }

    /// When commit `index` was authored: spread between its version's release and the one
    /// before.
    pub fn authored_at(&self, index: u32, started: DateTime<Utc>) -> DateTime<Utc> {
        let version = self.versions.iter().find(|v| v.last_commit >= index);
        let at = version.map_or(started - Duration::minutes(50), |v| v.released_at);
        at - Duration::hours(i64::from(version.map_or(0, |v| v.last_commit - index)) * 5 + 1)
    }
}

/// One entry of an application's history.
#[derive(Debug, Clone)]
pub struct HistoryEntry {
    pub id: i64,
    pub version: usize,
    pub deployed_at: DateTime<Utc>,
    /// How long its sync took: it started that long before `deployed_at`.
    pub took: Duration,
    pub initiator: Option<usize>,
}

impl HistoryEntry {
    /// When its sync started.
    pub fn started_at(&self) -> DateTime<Utc> {
        self.deployed_at - self.took
    }
}

/// An Argo CD application: one environment of a service.
#[derive(Debug, Clone)]
pub struct App {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub destination_namespace: String,
    pub repo: usize,
    pub automated_sync: bool,
    pub history: Vec<HistoryEntry>,
    /// Health once any rollout has ended.
    pub health: &'static str,
    /// Until then a rollout runs: the application is Progressing, its operation Running.
    pub rollout_until: Option<DateTime<Utc>>,
    /// `metadata.resourceVersion`: moves on each change, as Kubernetes' does.
    pub resource_version: u64,
}

impl App {
    /// Its history entries that have happened by `now` (a rollout's entry lands at its end).
    pub fn history_at(&self, now: DateTime<Utc>) -> impl Iterator<Item = &HistoryEntry> {
        self.history.iter().filter(move |h| h.deployed_at <= now)
    }

    /// The version Git holds for it: versions only move forward in Git, so the newest it ever
    /// ran; a rollback runs an older one until it is synced again.
    pub fn git_version(&self) -> Option<usize> {
        self.history.iter().map(|h| h.version).max()
    }

    /// Starts a rollout of `version`: a history entry that lands when it ends, Argo CD keeping
    /// its last ten.
    fn roll_out(&mut self, version: usize, rollout: Rollout) {
        let Rollout {
            at: now,
            lasts,
            fails,
        } = rollout;
        let next = self.history.iter().map(|h| h.id).max().unwrap_or(0) + 1;
        self.history.push(HistoryEntry {
            id: next,
            version,
            deployed_at: now + lasts,
            took: lasts,
            initiator: Some(0),
        });
        let keep_from = self.history.len().saturating_sub(ARGO_HISTORY_LIMIT);
        self.history.drain(..keep_from);
        self.rollout_until = Some(now + lasts);
        self.health = if fails { "Degraded" } else { "Healthy" };
    }

    /// Its health at `now`.
    pub fn health_at(&self, now: DateTime<Utc>) -> &'static str {
        match self.rollout_until {
            Some(end) if now < end => "Progressing",
            _ => self.health,
        }
    }
}

/// The sandbox's delivery platforms.
#[derive(Debug)]
pub struct DeliveryWorld {
    pub started: DateTime<Utc>,
    /// Repositories; those without a slug back Argo CD applications only.
    pub repos: Vec<Repo>,
    pub repo_of_slug: HashMap<String, usize>,
    pub apps: Vec<App>,
    /// GitHub logins of the people who deploy.
    pub logins: Vec<String>,
    /// GitHub's primary rate limit per hour.
    pub hourly_limit: u32,
    /// The newest resource version given to an application.
    pub resource_version: u64,
}

/// The demo's services and what their story says.
pub const DEMO_ROLLBACK_FROM: &str = "v2.14.0";
/// The version `checkout-api` ran in prod before.
pub const DEMO_ROLLBACK_TO: &str = "v2.13.2";
/// The version of `payments-gateway` waiting for approval.
pub const DEMO_AWAITING_APPROVAL: &str = "v5.2.0";

impl DeliveryWorld {
    /// The world of `entities` as of `started`.
    pub fn new(seed: Seed, entities: &[Entity], started: DateTime<Utc>) -> Self {
        let logins: Vec<String> = entities
            .iter()
            .filter(|e| e.is_kind("user"))
            .map(|e| e.metadata.name.clone())
            .take(200)
            .collect();
        let mut world = Self {
            started,
            repos: Vec::new(),
            repo_of_slug: HashMap::new(),
            apps: Vec::new(),
            logins: if logins.is_empty() {
                vec!["deploy-bot".into()]
            } else {
                logins
            },
            hourly_limit: match seed {
                Seed::Demo => 5_000,
                // A load generator: the benchmark's syncs are not GitHub's quota to measure.
                Seed::Scale(_) => 100_000_000,
            },
            resource_version: 0,
        };
        let versions_per_repo = match seed {
            Seed::Demo => 14,
            // 42 versions × 3 environments: 126 deployments a repository, about a million
            // at 8,000 repositories (10,000 services).
            Seed::Scale(_) => 42,
        };
        for component in entities.iter().filter(|e| e.is_kind("component")) {
            let annotations = &component.metadata.annotations;
            let slug = annotations.get("github.com/project-slug");
            let app_name = annotations.get("argocd/app-name");
            let selector = annotations.get("argocd/app-selector");
            if slug.is_none() && app_name.is_none() && selector.is_none() {
                continue;
            }
            let name = &component.metadata.name;
            let repo = world.add_repo(slug.cloned(), name, versions_per_repo);
            let team = component
                .owner_ref()
                .map_or_else(|| "default".to_string(), |r| r.name.clone());
            // The load generator's repositories all record GitHub deployments too, as a
            // workflow that deploys through Argo CD may: about a million at 10,000 services.
            let argo = app_name.is_some() || selector.is_some();
            if slug.is_some() && (!argo || matches!(seed, Seed::Scale(_))) {
                world.add_deploys(repo);
            }
            if let Some(app) = app_name {
                world.add_app(app, vec![], "prod", &team, repo, name == "cart-service");
            } else if let Some(selector) = selector {
                let labels: Vec<(String, String)> = selector
                    .split(',')
                    .filter_map(|p| p.split_once('='))
                    .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                    .collect();
                for env in ENVIRONMENTS {
                    world.add_app(
                        &format!("{name}-{env}"),
                        labels.clone(),
                        env,
                        &team,
                        repo,
                        false,
                    );
                }
            }
            world.add_runs(repo);
        }
        if seed == Seed::Demo {
            world.tell_the_demo_story();
        }
        world
    }

    fn add_repo(&mut self, slug: Option<String>, name: &str, versions: usize) -> usize {
        let key = slug
            .clone()
            .unwrap_or_else(|| format!("argocd-only/{name}"));
        let hash = stable_hash(&key);
        let major = 1 + hash % 6;
        let mut minor = hash / 7 % 10;
        let mut patch = 0;
        let span = Duration::days(HISTORY_DAYS) - Duration::hours(30);
        let step = span / versions as i32;
        // Each repository releases on its own rhythm, not in lockstep with the others.
        let phase = Duration::minutes((hash % step.num_minutes().max(1) as u64) as i64);
        let first = self.started - Duration::days(HISTORY_DAYS) + phase - step;
        let mut list = Vec::with_capacity(versions);
        let mut commit = 0u32;
        for i in 0..versions {
            let mixed = stable_hash(&format!("{key}/{i}"));
            if mixed % 3 == 0 {
                patch += 1;
            } else {
                minor += 1;
                patch = 0;
            }
            let commits = 1 + (mixed % 4) as u32;
            let jitter = Duration::minutes((mixed % 600) as i64);
            list.push(Version {
                name: format!("v{major}.{minor}.{patch}"),
                last_commit: commit + commits - 1,
                released_at: first + step * i as i32 + jitter,
            });
            commit += commits;
        }
        let index = self.repos.len();
        self.repos.push(Repo {
            slug: key.clone(),
            id: 100_000 + index as i64,
            versions: list,
            commits: commit,
            deploys: Vec::new(),
            runs: Vec::new(),
        });
        if slug.is_some() {
            self.repo_of_slug.insert(key, index);
        }
        index
    }

    fn deployer(&self, salt: &str) -> usize {
        (stable_hash(salt) % self.logins.len() as u64) as usize
    }

    /// GitHub deployments of every version to each environment, as long as they happened
    /// before the start.
    fn add_deploys(&mut self, repo: usize) {
        let mut deploys = Vec::new();
        let slug = self.repos[repo].slug.clone();
        for (v, version) in self.repos[repo].versions.iter().enumerate() {
            for (e, delay) in PROMOTION_DELAYS_MINUTES.iter().enumerate() {
                let created_at = version.released_at + Duration::minutes(*delay);
                if created_at > self.started {
                    break;
                }
                // Now and then a version breaks in gamma and never reaches prod; the last
                // two always made it.
                let recent = v + 2 >= self.repos[repo].versions.len();
                let fails = e == 1 && !recent && stable_hash(&format!("{slug}/{v}")) % 9 == 0;
                deploys.push(Deploy {
                    id: 0,
                    version: v,
                    environment: e,
                    created_at,
                    outcome: if fails {
                        Outcome::Failure
                    } else {
                        Outcome::Success
                    },
                    creator: self.deployer(&format!("{slug}/{v}/{e}")),
                    superseded_at: None,
                    description: fails.then(|| "Health checks failed after rollout".into()),
                    duration: Duration::minutes(DEPLOY_MINUTES),
                    payload: None,
                });
                if fails {
                    break;
                }
            }
        }
        self.repos[repo].deploys = deploys;
        self.number_deploys(repo);
    }

    /// Gives deployments ids in creation order and marks those a later success superseded.
    fn number_deploys(&mut self, repo: usize) {
        let base = (repo as i64 + 1) * 1_000_000;
        let deploys = &mut self.repos[repo].deploys;
        deploys.sort_by_key(|d| d.created_at);
        let mut last_success: [Option<usize>; 3] = [None; 3];
        for i in 0..deploys.len() {
            deploys[i].id = base + i as i64;
            deploys[i].superseded_at = None;
            if deploys[i].outcome == Outcome::Success {
                let env = deploys[i].environment;
                if let Some(previous) = last_success[env] {
                    let at = deploys[i].created_at + deploys[i].duration;
                    deploys[previous].superseded_at = Some(at);
                }
                last_success[env] = Some(i);
            }
        }
    }

    /// Argo CD applications deployed the same way, keeping Argo CD's last ten entries.
    fn add_app(
        &mut self,
        name: &str,
        mut labels: Vec<(String, String)>,
        environment: &str,
        team: &str,
        repo: usize,
        automated_sync: bool,
    ) {
        let env = ENVIRONMENTS
            .iter()
            .position(|e| *e == environment)
            .unwrap_or(2);
        labels.push(("environment".to_string(), environment.to_string()));
        let mut history: Vec<HistoryEntry> = self.repos[repo]
            .versions
            .iter()
            .enumerate()
            .map(|(v, version)| HistoryEntry {
                id: 0,
                version: v,
                deployed_at: version.released_at
                    + Duration::minutes(PROMOTION_DELAYS_MINUTES[env] + DEPLOY_MINUTES),
                took: Duration::minutes(2),
                initiator: (!automated_sync).then(|| self.deployer(&format!("{name}/{v}"))),
            })
            .filter(|h| h.deployed_at <= self.started)
            .collect();
        for (i, entry) in history.iter_mut().enumerate() {
            entry.id = i as i64;
        }
        let keep_from = history.len().saturating_sub(ARGO_HISTORY_LIMIT);
        history.drain(..keep_from);
        self.resource_version += 1;
        self.apps.push(App {
            name: name.to_string(),
            labels,
            destination_namespace: team.to_string(),
            repo,
            automated_sync,
            history,
            health: "Healthy",
            rollout_until: None,
            resource_version: self.resource_version,
        });
    }

    /// A build and a test run for the head commit of each of the last versions.
    fn add_runs(&mut self, repo: usize) {
        let mut runs = Vec::new();
        let versions = &self.repos[repo].versions;
        let base = (repo as i64 + 1) * 10_000;
        for version in versions.iter().skip(versions.len().saturating_sub(8)) {
            let at = version.released_at - Duration::minutes(40);
            runs.push(build_run(0, version.last_commit, at));
            runs.push(test_run(
                0,
                version.last_commit,
                at + Duration::minutes(6),
                true,
            ));
        }
        for (i, run) in runs.iter_mut().enumerate() {
            run.id = base + i as i64;
        }
        self.repos[repo].runs = runs;
    }

    fn repo_named(&self, slug: &str) -> usize {
        self.repo_of_slug[slug]
    }

    /// The demo night: checkout-api's v2.14.0 reached prod 12 minutes ago after v2.13.2;
    /// payments-gateway's v5.2.0 waits in gamma for approval to prod; search-indexer's newest
    /// commit failed its tests.
    fn tell_the_demo_story(&mut self) {
        let now = self.started;
        let checkout = self.repo_named("demo-org/checkout-api");
        let last = self.repos[checkout].versions.len() - 1;
        {
            let versions = &mut self.repos[checkout].versions;
            name_versions(
                versions,
                &["v2.13.0", "v2.13.1", DEMO_ROLLBACK_TO, DEMO_ROLLBACK_FROM],
            );
            versions[last].released_at = now - Duration::hours(27);
            versions[last - 1].released_at = now - Duration::days(6);
        }
        self.add_runs(checkout);
        for app in self.apps.iter_mut().filter(|a| a.repo == checkout) {
            let env = app
                .labels
                .iter()
                .find(|(k, _)| k == "environment")
                .map_or("prod", |(_, v)| v.as_str())
                .to_string();
            let n = app.history.len();
            app.history[n - 2].deployed_at = now - Duration::days(6) + Duration::hours(2);
            app.history[n - 1].deployed_at = match env.as_str() {
                "beta" => now - Duration::hours(27),
                "gamma" => now - Duration::hours(24),
                _ => now - Duration::minutes(12),
            };
        }
        let payments = self.repo_named("demo-org/payments-gateway");
        let last = self.repos[payments].versions.len() - 1;
        {
            let repo = &mut self.repos[payments];
            name_versions(
                &mut repo.versions,
                &["v5.1.2", "v5.1.3", DEMO_AWAITING_APPROVAL],
            );
            repo.versions[last].released_at = now - Duration::days(2);
            repo.deploys.retain(|d| d.version != last);
            // The release's build and tests ran when it was cut.
            let at = repo.versions[last].released_at - Duration::minutes(40);
            let head = repo.versions[last].last_commit;
            repo.runs.retain(|r| r.commit != head);
            repo.runs.push(build_run(0, head, at));
            repo.runs
                .push(test_run(0, head, at + Duration::minutes(6), true));
            for (environment, at, outcome) in [
                (0, now - Duration::days(2), Outcome::Success),
                (1, now - Duration::hours(26), Outcome::Success),
                (2, now - Duration::minutes(50), Outcome::AwaitingApproval),
            ] {
                repo.deploys.push(Deploy {
                    id: 0,
                    version: last,
                    environment,
                    created_at: at,
                    outcome,
                    creator: 0,
                    superseded_at: None,
                    description: (outcome == Outcome::AwaitingApproval)
                        .then(|| "Waiting for approval from payments-leads".into()),
                    duration: Duration::minutes(DEPLOY_MINUTES),
                    payload: None,
                });
            }
            let head = repo.versions[last].last_commit;
            repo.runs.push(Run {
                id: 0,
                workflow: "Deploy to prod",
                path: ".github/workflows/deploy-prod.yml",
                commit: head,
                created_at: now - Duration::minutes(50),
                minutes: 0,
                status: "waiting",
                conclusion: None,
                event: "push",
                ends_at: None,
            });
        }
        self.number_deploys(payments);
        let creator = self.deployer("payments-gateway/v5.2.0");
        for d in &mut self.repos[payments].deploys {
            if d.version == last {
                d.creator = creator;
            }
        }
        self.renumber_runs(payments);
        let search = self.repo_named("demo-org/search-indexer");
        {
            let repo = &mut self.repos[search];
            let head = repo.commits + 1;
            repo.commits += 2;
            let at = now - Duration::minutes(45);
            repo.runs.push(build_run(0, head, at));
            repo.runs
                .push(test_run(0, head, at + Duration::minutes(6), false));
        }
        self.renumber_runs(search);
    }

    /// Marks `app` changed: a new resource version.
    pub fn touch_app(&mut self, app: usize) {
        self.resource_version += 1;
        self.apps[app].resource_version = self.resource_version;
    }

    /// Argo CD's rollback of `app` to history entry `id`: a sync that runs for `rollout`, then
    /// lands as a new history entry and ends healthy, or degraded when `fails`.
    pub fn roll_back_app(&mut self, app: usize, id: i64, rollout: Rollout) -> Result<(), String> {
        let now = rollout.at;
        let entry = self.apps[app]
            .history
            .iter()
            .find(|h| h.id == id && h.deployed_at <= now)
            .cloned()
            .ok_or_else(|| {
                format!(
                    "application {} does not have deployment with id {id}",
                    self.apps[app].name
                )
            })?;
        self.apps[app].roll_out(entry.version, rollout);
        Ok(())
    }

    /// Syncs an application to what Git holds, as `POST …/sync` does: a rollout of
    /// [`App::git_version`].
    pub fn sync_app(&mut self, app: usize, rollout: Rollout) -> Result<(), String> {
        let app = &mut self.apps[app];
        let version = app
            .git_version()
            .ok_or_else(|| format!("application {} has nothing to sync to", app.name))?;
        app.roll_out(version, rollout);
        Ok(())
    }

    /// A GitHub deployment of `version` to `environment` created now: queued, in progress,
    /// then success (or failure when `fails`) after `rollout`. Its id.
    pub fn create_deploy(
        &mut self,
        repo: usize,
        (version, environment): (usize, usize),
        rollout: Rollout,
        description: Option<String>,
        payload: Option<serde_json::Value>,
    ) -> i64 {
        self.repos[repo].deploys.push(Deploy {
            id: 0,
            version,
            environment,
            created_at: rollout.at,
            outcome: if rollout.fails {
                Outcome::Failure
            } else {
                Outcome::Success
            },
            creator: 0,
            superseded_at: None,
            description,
            duration: rollout.lasts,
            payload,
        });
        self.number_deploys(repo);
        self.repos[repo].deploys.last().map_or(0, |d| d.id)
    }

    /// A run of `workflow` dispatched now; a rollback workflow also deploys `version` to
    /// `environment` (a GitHub deployment, as such workflows record). The run's id.
    pub fn dispatch(
        &mut self,
        repo: usize,
        workflow: &RepoFile,
        deploys: Option<(usize, usize)>,
        rollout: Rollout,
    ) -> i64 {
        let Rollout {
            at: now,
            lasts,
            fails,
        } = rollout;
        let head = self.repos[repo].commits.saturating_sub(1);
        self.repos[repo].runs.push(Run {
            id: 0,
            workflow: workflow.name,
            path: workflow.path,
            commit: head,
            created_at: now,
            minutes: lasts.num_minutes(),
            status: "completed",
            conclusion: Some(if fails { "failure" } else { "success" }),
            event: "workflow_dispatch",
            ends_at: Some(now + lasts),
        });
        self.renumber_runs(repo);
        let run = self.repos[repo]
            .runs
            .iter()
            .find(|r| r.created_at == now && r.event == "workflow_dispatch")
            .map_or(0, |r| r.id);
        if let Some(deploy) = deploys {
            let description = Some(format!("{} workflow", workflow.name));
            self.create_deploy(repo, deploy, rollout, description, None);
        }
        run
    }

    fn renumber_runs(&mut self, repo: usize) {
        let base = (repo as i64 + 1) * 10_000;
        let runs = &mut self.repos[repo].runs;
        runs.sort_by_key(|r| r.created_at);
        for (i, run) in runs.iter_mut().enumerate() {
            run.id = base + i as i64;
        }
    }
}

/// Names a story's versions: `tail` for the newest, and one minor version apart before them.
fn name_versions(versions: &mut [Version], tail: &[&str]) {
    let first_of_tail = tail[0].trim_start_matches('v');
    let mut parts = first_of_tail
        .split('.')
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (mut major, mut minor) = (parts.next().unwrap_or(1), parts.next().unwrap_or(0));
    let untold = versions.len() - tail.len();
    for (version, name) in versions[untold..].iter_mut().zip(tail) {
        version.name = name.to_string();
    }
    for version in versions[..untold].iter_mut().rev() {
        if minor == 0 {
            (major, minor) = (major.saturating_sub(1), 9);
        } else {
            minor -= 1;
        }
        version.name = format!("v{major}.{minor}.0");
    }
}

fn build_run(id: i64, commit: u32, at: DateTime<Utc>) -> Run {
    Run {
        id,
        workflow: "build",
        path: ".github/workflows/build.yml",
        commit,
        created_at: at,
        minutes: 5,
        status: "completed",
        conclusion: Some("success"),
        event: "push",
        ends_at: None,
    }
}

fn test_run(id: i64, commit: u32, at: DateTime<Utc>, passed: bool) -> Run {
    Run {
        id,
        workflow: "test",
        path: ".github/workflows/test.yml",
        commit,
        created_at: at,
        minutes: 11,
        status: "completed",
        conclusion: Some(if passed { "success" } else { "failure" }),
        event: "push",
        ends_at: None,
    }
}

/// When each status of a deployment was set, newest first: (state, at).
pub fn statuses(deploy: &Deploy, now: DateTime<Utc>) -> Vec<(&'static str, DateTime<Utc>)> {
    let start = deploy.created_at;
    let mut list = vec![("queued", start)];
    match deploy.outcome {
        Outcome::AwaitingApproval => {}
        outcome => {
            list.push(("in_progress", start + deploy.duration / 9));
            let end = start + deploy.duration;
            list.push((
                if outcome == Outcome::Success {
                    "success"
                } else {
                    "failure"
                },
                end,
            ));
            if let Some(at) = deploy.superseded_at {
                list.push(("inactive", at));
            }
        }
    }
    list.retain(|(_, at)| *at <= now);
    list.reverse();
    list
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::org;

    fn demo() -> DeliveryWorld {
        let entities: Vec<Entity> = org::entities(Seed::Demo)
            .into_iter()
            .map(|(_, e)| e)
            .collect();
        DeliveryWorld::new(Seed::Demo, &entities, Utc::now())
    }

    #[test]
    fn the_demo_tells_the_story() {
        let world = demo();
        let checkout_prod = world
            .apps
            .iter()
            .find(|a| a.name == "checkout-api-prod")
            .unwrap();
        let repo = &world.repos[checkout_prod.repo];
        let n = checkout_prod.history.len();
        assert_eq!(
            repo.versions[checkout_prod.history[n - 1].version].name,
            "v2.14.0"
        );
        assert_eq!(
            repo.versions[checkout_prod.history[n - 2].version].name,
            "v2.13.2"
        );
        let payments = &world.repos[world.repo_of_slug["demo-org/payments-gateway"]];
        let waiting = payments.deploys.last().unwrap();
        assert_eq!(waiting.outcome, Outcome::AwaitingApproval);
        assert_eq!(payments.versions[waiting.version].name, "v5.2.0");
        assert_eq!(statuses(waiting, world.started)[0].0, "queued");
        let cart = world
            .apps
            .iter()
            .find(|a| a.name == "cart-service")
            .unwrap();
        assert!(cart.automated_sync);
        let search = &world.repos[world.repo_of_slug["demo-org/search-indexer"]];
        let newest = search.runs.iter().max_by_key(|r| r.created_at).unwrap();
        assert_eq!(
            (newest.workflow, newest.conclusion),
            ("test", Some("failure"))
        );
    }

    #[test]
    fn deployment_history_spans_ninety_days_and_superseded_ones_go_inactive() {
        let world = demo();
        let payments = &world.repos[world.repo_of_slug["demo-org/payments-gateway"]];
        let oldest = payments.deploys.first().unwrap();
        assert!(world.started - oldest.created_at > Duration::days(80));
        assert_eq!(statuses(oldest, world.started)[0].0, "inactive");
        let ids: std::collections::HashSet<i64> = payments.deploys.iter().map(|d| d.id).collect();
        assert_eq!(ids.len(), payments.deploys.len());
    }
}
