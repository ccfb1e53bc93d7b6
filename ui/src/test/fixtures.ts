import { act } from "@testing-library/preact";
import type {
  ActionPlan,
  ActionProgress,
  ActionRequest,
  Change,
  IncidentView,
  AuditEntry,
  RunbookRow,
  RunbookRunProgress,
  ChangesView,
  DeploymentRow,
  DesktopSettings,
  EditableSource,
  Ipc,
  LaunchInfo,
  OnCallPanel,
  Person,
  ReleaseMatrix,
  RollbackPlan,
  RollbackProgress,
  Screen,
  SearchHit,
  ServiceDelivery,
  SourceCheck,
  SourceDraft,
  SourceKind,
  SourcesFile,
  ServiceDetail,
  ServiceRow,
  ScorecardView,
  ServiceScorecard,
  SourceStatus,
  TeamDetail,
  TeamOnCall,
  TeamSummary,
} from "../ipc";

export const XSS = `<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>`;

export function team(name: string, extra: Partial<TeamSummary> = {}): TeamSummary {
  return {
    key: `group:default/${name}`, name, title: name[0].toUpperCase() + name.slice(1), service_count: 2, member_count: 3, gap_count: 0, is_mine: false,
    group_type: "team", parent: null, depth: 0, child_count: 0, service_count_below: 2, gap_count_below: 0,
    ...extra,
  };
}

/** A department with checkout (mine) and platform, which has two sub-teams, in tree order. */
export function tree(): TeamSummary[] {
  const below = (parent: string, depth: number) => ({ parent: `group:default/${parent}`, depth });
  return [
    team("engineering", { group_type: "department", service_count: 0, service_count_below: 8, gap_count_below: 3, child_count: 2 }),
    team("checkout", { is_mine: true, gap_count: 1, gap_count_below: 1, ...below("engineering", 1) }),
    team("platform", { service_count_below: 6, gap_count_below: 2, child_count: 2, ...below("engineering", 1) }),
    team("platform-build", { title: "Build and release", group_type: "sub-team", gap_count: 2, gap_count_below: 2, ...below("platform", 2) }),
    team("platform-runtime", { title: "Platform runtime", group_type: "sub-team", ...below("platform", 2) }),
  ];
}

const CHECKS = [
  ["owner", "Owner in the catalog", "bronze"],
  ["runbook", "Runbook", "silver"],
  ["rotation", "On-call rotation of more than one", "gold"],
] as const;

export function scorecardView(team: string | null, extra: Partial<ScorecardView> = {}): ScorecardView {
  const checks = CHECKS.map(([id, name, level]) => ({ id, name, level, why: `${name} matters`, fix: `fix ${id}`, docs: "https://backstage.io/docs" }));
  const outcome = (check: string, passed: boolean, detail = passed ? "ok" : `no ${check}`) => ({ check, passed, detail });
  return {
    team, below: true, levels: ["bronze", "silver", "gold"], checks, level: "silver",
    tally: { services: 2, at_level: [0, 0, 1, 1], passed: 5, total: 6, failing: { rotation: 1 } },
    failing_most: [["rotation", 1]],
    teams: team ? [] : [{ key: "group:default/checkout", title: "Checkout", depth: 1, level: "gold", tally: { services: 1, at_level: [0, 0, 0, 1], passed: 3, total: 3, failing: {} } }],
    services: team
      ? [
          { key: "component:default/artifact-registry", name: "artifact-registry", title: "artifact-registry", owner: team, tier: "2", lifecycle: "production", level: "silver", outcomes: [outcome("owner", true), outcome("runbook", true), outcome("rotation", false, "1 person at level 1; wants 2")], last_production_deploy: null, open_incidents: 0 },
          { key: "component:default/build-runners", name: "build-runners", title: "build-runners", owner: team, tier: "2", lifecycle: "production", level: "gold", outcomes: [outcome("owner", true), outcome("runbook", true), outcome("rotation", true)], last_production_deploy: null, open_incidents: 0 },
        ]
      : [],
    trend: [
      { day: "2026-11-30", percent: 66, services: 2, at_level: [0, 1, 1, 0] },
      { day: "2026-12-01", percent: 83, services: 2, at_level: [0, 0, 1, 1] },
    ],
    worse: [{ key: "component:default/artifact-registry", name: "artifact-registry", was: "gold", now: "silver", newly_failing: ["rotation"] }],
    computed_at: new Date().toISOString(),
    ...extra,
  };
}

export function serviceScorecard(key: string, extra: Partial<ServiceScorecard> = {}): ServiceScorecard {
  const view = scorecardView("group:default/platform-build");
  // A service the fixture does not hold reads as artifact-registry's results under its own key.
  const row = view.services.find((s) => s.key === key) ?? { ...view.services[0], key, name: key.split("/")[1], title: key.split("/")[1] };
  return {
    row, levels: view.levels, checks: view.checks,
    fixes: row.outcomes.filter((o) => !o.passed).map((o) => ({ check: view.checks.find((c) => c.id === o.check)!, detail: o.detail, snippet: o.check === "runbook" ? "metadata:\n  links:\n    - type: runbook" : null })),
    edit_url: "https://github.com/demo-org/platform/edit/main/catalog-info.yaml",
    ...extra,
  };
}

export function teamDetail(key: string, extra: Partial<TeamDetail> = {}): TeamDetail {
  const teams = tree();
  const me = teams.find((t) => t.key === key) ?? teams[2];
  const summary = (k: string, kind = "group", exists = true) => ({ key: k, kind, name: k.split("/")[1], title: k.split("/")[1], exists });
  return {
    team: me, description: null,
    ancestors: me.parent ? [summary(me.parent)] : [],
    sub_teams: teams.filter((t) => t.parent === key),
    owns: [{ kind: "system", entities: [summary("system:default/paved-road", "system")] }],
    system_mismatches: [],
    members: [{ user: summary("user:default/sam-oconnor", "user"), email: "sam.oconnor@demo.opsdeck.dev", in_rotation: true, on_call_now: true, is_me: false }],
    outside_on_call: [],
    tree_problems: [],
    ...extra,
  };
}

export function row(name: string, extra: Partial<ServiceRow> = {}): ServiceRow {
  return { key: `component:default/${name}`, name, title: name, system: "storefront", lifecycle: "production", tier: "2", service_type: "service", gaps: [], tags: [], ...extra };
}

export function detail(name: string, extra: Partial<ServiceDetail> = {}): ServiceDetail {
  return {
    key: `component:default/${name}`, kind: "component", namespace: "default", name, title: name,
    description: null, service_type: "service", lifecycle: "production", tier: "1",
    owner: { key: "group:default/checkout", kind: "group", name: "checkout", title: "Checkout", exists: true },
    system: { key: "system:default/storefront", kind: "system", name: "storefront", title: "Storefront", exists: true },
    depends_on: [], dependents: [], provides_apis: [], consumes_apis: [], links: [], tags: [], platforms: [], gaps: [], sources: ["catalog"],
    ...extra,
  };
}

export function source(extra: Partial<SourceStatus> = {}): SourceStatus {
  const now = new Date().toISOString();
  return {
    name: "catalog", kind: "backstage", interval_secs: 60, health: "fresh", data_stale: false,
    last_attempt: now, last_success: now, next_sync: now, retry_after: null, consecutive_failures: 0, last_error: null,
    item_count: 141, requests_last_hour: 3, last_requests: 1, last_rows_written: 0, last_duration_ms: 42, quota: null, warning: null,
    syncing_now: null,
    ...extra,
  };
}

export function person(name: string, extra: Partial<Person> = {}): Person {
  const id = name.toLowerCase().replace(/\s+/g, ".");
  return { id: `P${id}`, name, email: `${id}@demo.opsdeck.dev`, phone: "+1 5550100", profile_url: `https://x.pagerduty.com/users/P${id}`, ...extra };
}

const inAnHour = () => new Date(Date.now() + 3600_000).toISOString();
const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000).toISOString();

/** Checkout's night: dana on call, the triggered incident, HighErrorRate firing, a silenced alert. */
export function panel(extra: Partial<OnCallPanel> = {}): OnCallPanel {
  return {
    me_on_call: true,
    policies: [{
      policy_id: "PE1", policy_name: "Checkout escalation", policy_url: "https://x.pagerduty.com/escalation_policies/PE1",
      levels: [
        { level: 1, now: [{ person: person("Dana Whitfield", { email: "dana@demo.opsdeck.dev" }), until: inAnHour(), schedule_name: "Checkout primary", schedule_url: null, is_me: true, catalog_user: "user:default/dana" }],
          next: { person: person("Lena Fischer"), starts: inAnHour(), is_me: false } },
        { level: 2, now: [{ person: person("Marco Rossi"), until: inAnHour(), schedule_name: "Checkout secondary", schedule_url: null, is_me: false, catalog_user: null }], next: null },
      ],
    }],
    incidents: [{
      source: "pagerduty",
      incident: { id: "Q1", number: 3100, title: "Checkout error rate above 5%", status: "triggered", urgency: "high", priority: "P1", service_id: "P76727D",
        created_at: minutesAgo(4), last_status_change_at: null, assignees: ["Dana Whitfield"], acknowledged_by: [], html_url: "https://x.pagerduty.com/incidents/Q1", policy_id: "PE1" },
      services: [{ key: "component:default/checkout-api", name: "checkout-api" }],
    }],
    resolved_recently: 2,
    alerts: [
      { source: "alertmanager", services: [{ key: "component:default/checkout-api", name: "checkout-api" }], silences: [],
        alert: { fingerprint: "f1", name: "HighErrorRate", state: "firing", severity: "critical", summary: "5xx above 5%", description: null,
          runbook_url: "https://github.com/demo-org/checkout-api/blob/main/docs/runbooks/high-error-rate.md", starts_at: minutesAgo(5), generator_url: null, labels: {}, silenced_by: [], inhibited_by: [] } },
      { source: "alertmanager", services: [{ key: "component:default/cart-service", name: "cart-service" }],
        silences: [{ id: "s1", matchers: 'alertname="DiskSpaceLow"', created_by: "eva", comment: "resize in progress", starts_at: minutesAgo(60), ends_at: inAnHour(), state: "active" }],
        alert: { fingerprint: "f2", name: "DiskSpaceLow", state: "silenced", severity: "warning", summary: "Disk 91% full", description: null,
          runbook_url: null, starts_at: minutesAgo(90), generator_url: null, labels: {}, silenced_by: ["s1"], inhibited_by: [] } },
    ],
    unpaged: [],
    unknown_to_pagerduty: [],
    ...extra,
  };
}

export function teamOnCall(name: string, extra: Partial<TeamOnCall> = {}): TeamOnCall {
  const p = panel().policies;
  return { key: `group:default/${name}`, name, title: name[0].toUpperCase() + name.slice(1), is_mine: false, policies: p, me_on_call: false, triggered: 0, acknowledged: 0, firing_alerts: 0, ...extra };
}

export function deploy(service: string, environment: string, version: string, minutes: number, extra: Partial<DeploymentRow> = {}): DeploymentRow {
  return {
    source: "argocd", id: `${service}-${environment}#${version}`, service: { key: `component:default/${service}`, name: service },
    environment, version, commit: `${version.replace(/\W/g, "")}aaaaaaaaaaaaaaaa`, actor: "dana", started_at: minutesAgo(minutes + 2),
    finished_at: minutesAgo(minutes), status: "success", link: null, rolled_back_from: null, description: null, ...extra,
  };
}

/** checkout-api after v2.14.0 reached prod, as the engine reads it. */
export function delivery(extra: Partial<ServiceDelivery> = {}): ServiceDelivery {
  const prod = deploy("checkout-api", "prod", "v2.14.0", 12);
  return {
    service: { key: "component:default/checkout-api", name: "checkout-api" },
    wired: true,
    stages: [
      { name: "build", is_environment: false, status: "success", version: "5c7eaae", started_at: minutesAgo(1600), duration_seconds: 300, waiting: null, link: "https://github.com/demo-org/checkout-api/actions/runs/1" },
      { name: "test", is_environment: false, status: "success", version: "5c7eaae", started_at: minutesAgo(1590), duration_seconds: 660, waiting: null, link: null },
      { name: "beta", is_environment: true, status: "success", version: "v2.14.0", started_at: minutesAgo(1500), duration_seconds: 120, waiting: null, link: null },
      { name: "prod", is_environment: true, status: "success", version: "v2.14.0", started_at: minutesAgo(14), duration_seconds: 120, waiting: null, link: null },
    ],
    environments: [
      { environment: "beta", current: deploy("checkout-api", "beta", "v2.14.0", 1500), latest: null, health: "Healthy", sync: "Synced", automated_sync: false, app_link: null, drift: false },
      { environment: "prod", current: prod, latest: null, health: "Healthy", sync: "Synced", automated_sync: false, app_link: null, drift: false },
    ],
    timeline: [prod, deploy("checkout-api", "beta", "v2.14.0", 1500), deploy("checkout-api", "prod", "v2.13.2", 8000)],
    versions: ["v2.14.0", "v2.13.2"],
    pending: null,
    notable_changes: changes("v2.13.2", "v2.14.0"),
    ...extra,
  };
}

export function changes(from: string, to: string): ChangesView {
  return {
    from_version: from, to_version: to, total_commits: 2,
    commits: [
      { sha: "5c7eaae20dcf3278a7d5f2ba82e536c38f2a04bb", title: "Raise error-rate alert threshold", author: "diego", authored_at: minutesAgo(1700), link: "https://github.com/demo-org/checkout-api/commit/5c7eaae" },
      { sha: "de21fb1000000000000000000000000000000000", title: XSS, author: "tom", authored_at: minutesAgo(1800), link: null },
    ],
    link: `https://github.com/demo-org/checkout-api/compare/${from}...${to}`,
  };
}

/** checkout-api's rollback in prod, v2.14.0 → v2.13.2 through Argo CD, as planned. */
export function rollbackPlan(extra: Partial<RollbackPlan> = {}): RollbackPlan {
  const current = deploy("checkout-api", "prod", "v2.14.0", 12);
  return {
    key: "rb-1",
    service: { key: "component:default/checkout-api", name: "checkout-api" },
    owner: "checkout",
    environment: "prod",
    current,
    target: { version: "v2.13.2", commit: "deb2de8aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", deployment_id: "checkout-api-prod#11", deployed_at: minutesAgo(8000) },
    candidates: [
      { version: "v2.13.2", commit: "deb2de8aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", deployment_id: "checkout-api-prod#11", deployed_at: minutesAgo(8000) },
      { version: "v2.13.1", commit: "0b1c2d3aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", deployment_id: "checkout-api-prod#10", deployed_at: minutesAgo(20000) },
    ],
    changes: changes("v2.13.2", "v2.14.0"),
    changes_problem: null,
    executor: { kind: "argocd" },
    executor_label: "Argo CD rollback",
    source: "argocd",
    calls: [{ method: "POST", url: "https://argocd.example.com/api/v1/applications/checkout-api-prod/rollback", body: '{"dryRun":false,"id":11,"name":"checkout-api-prod","prune":false}', purpose: "roll checkout-api-prod back to history entry 11 (v2.13.2)" }],
    automated_sync: false,
    warnings: [],
    on_call: ["Dana Whitfield (you)", "Lena Fischer"],
    me_on_call: true,
    owned_by_me: true,
    needs_override: false,
    platform_target: "argocd-app:checkout-api-prod",
    also_claimed_by: [],
    blockers: [],
    planned_at: minutesAgo(0),
    expires_at: minutesAgo(-10),
    ...extra,
  };
}

export function rollbackProgress(extra: Partial<RollbackProgress> = {}): RollbackProgress {
  return {
    key: "rb-1", service: { key: "component:default/checkout-api", name: "checkout-api" }, environment: "prod",
    from_version: "v2.14.0", to_version: "v2.13.2", executor_label: "Argo CD rollback", state: "accepted",
    message: "Argo CD started syncing checkout-api-prod to history entry 11", started_at: minutesAgo(1), at: minutesAgo(0), link: null, ...extra,
  };
}

export function auditEntry(extra: Partial<AuditEntry> = {}): AuditEntry {
  return {
    key: "rb-1", kind: "rollback", actor: "dana@demo.opsdeck.dev", machine: "dana-laptop", service: { key: "component:default/checkout-api", name: "checkout-api" },
    target: { kind: "deployment", target: "argocd-app:checkout-api-prod", environment: "prod" }, from_version: "v2.14.0", to_version: "v2.13.2", subject: null, executor: "Argo CD rollback", calls: rollbackPlan().calls,
    response_id: null, override_reason: null, requested_at: minutesAgo(5), state: "succeeded", finished: true,
    message: "checkout-api-prod: Succeeded / Healthy", steps: [], ...extra,
  };
}

export const RUNBOOK_MARKDOWN = `# High error rate on checkout-api

Customers cannot place orders.

## 1. Look first

- Check the [dashboard](https://grafana.demo.opsdeck.dev/d/checkout-api).

## 2. Roll back

\`\`\`sh
opsdeck rollback checkout-api --env prod
\`\`\`
`;

/** checkout-api's runbooks as the engine lists them: a page, markdown, a workflow, inherited. */
export function runbookRows(): RunbookRow[] {
  const base = { unfilled: [] as string[], cached_at: null, refused: null, origin: { from: "service" as const } };
  return [
    { ...base, title: "Runbook", template: "https://wiki/{service}?i={incident_id}", url: "https://wiki/checkout-api?i={incident_id}", unfilled: ["incident_id"], kind: { kind: "link" } },
    {
      ...base,
      title: "High error rate runbook",
      template: "https://github.com/demo-org/checkout-api/blob/main/docs/runbooks/high-error-rate.md",
      url: "https://github.com/demo-org/checkout-api/blob/main/docs/runbooks/high-error-rate.md",
      kind: { kind: "markdown", repo: "demo-org/checkout-api", path: "docs/runbooks/high-error-rate.md", git_ref: "main" },
      cached_at: minutesAgo(120),
    },
    {
      ...base,
      title: "Drain a region (automated)",
      template: "https://github.com/demo-org/checkout-api/actions/workflows/drain-region.yml",
      url: "https://github.com/demo-org/checkout-api/actions/workflows/drain-region.yml",
      kind: { kind: "automated", repo: "demo-org/checkout-api", workflow: "drain-region.yml", git_ref: "main" },
    },
    { ...base, title: "Checkout on-call handbook", template: "https://wiki/teams/{team}", url: "https://wiki/teams/checkout", kind: { kind: "link" }, origin: { from: "team", name: "checkout" } },
    { ...base, title: "Mail", template: "mailto:x@y", url: "mailto:x@y", kind: { kind: "link" }, refused: "runbooks open only over http or https, not 'mailto:'" },
  ];
}

export function runbookRun(extra: Partial<RunbookRunProgress> = {}): RunbookRunProgress {
  return {
    key: "run-1", service: { key: "component:default/checkout-api", name: "checkout-api" }, title: "Drain a region (automated)",
    workflow: "drain-region.yml", run_id: 7, status: "queued", finished: false, message: "dispatched: run 7", link: null, started_at: minutesAgo(0), ...extra,
  };
}

/** Payments' releases: payments-gateway's v5.2.0 in gamma, waiting for prod. */
export function matrix(extra: Partial<ReleaseMatrix> = {}): ReleaseMatrix {
  const days = Array.from({ length: 90 }, (_, i) => new Date(Date.now() - (89 - i) * 86400_000).toISOString().slice(0, 10));
  const daily = days.map((_, i) => (i % 7 === 0 ? 1 : 0));
  return {
    team: "group:default/payments",
    environments: ["beta", "gamma", "prod"],
    rows: [
      {
        service: { key: "component:default/payments-gateway", name: "payments-gateway" },
        cells: [
          { version: "v5.2.0", deployed_at: minutesAgo(2880), incoming: null, incoming_status: null, drift: true, health: null, waiting: null },
          { version: "v5.2.0", deployed_at: minutesAgo(1560), incoming: null, incoming_status: null, drift: true, health: null, waiting: null },
          { version: "v5.1.3", deployed_at: minutesAgo(17000), incoming: "v5.2.0", incoming_status: "queued", drift: false, health: null, waiting: { reason: "approval" } },
        ],
        pending: { from_environment: "gamma", version: "v5.2.0", to_environment: "prod", production_version: "v5.1.3", commit_count: 2 },
        daily_deploys: daily,
      },
      {
        service: { key: "component:default/card-vault", name: "card-vault" },
        cells: [null, null, { version: "v2.7.0", deployed_at: minutesAgo(5000), incoming: null, incoming_status: null, drift: false, health: "Degraded", waiting: null }],
        pending: null,
        daily_deploys: daily,
      },
    ],
    unwired: ["payout-scheduler"],
    days,
    team_daily_deploys: daily.map((d) => d * 2),
    ...extra,
  };
}

/** A fake shell: answers from fixed data and lets the test fire events. */
/** A configured source as the sources editor lists it. */
export function editable(name: string, kind: SourceKind, url: string | null, more: Partial<EditableSource> = {}): EditableSource {
  return { form: { name, kind, url, token_env: null, path: null, interval: null }, token_origin: null, token_problem: null, ...more };
}

export function fakeIpc(overrides: Partial<Ipc> = {}) {
  const handlers = {
    progress: [] as ((p: any) => void)[],
    changed: [] as (() => void)[],
    openScreen: [] as ((screen: Screen) => void)[],
    linkFailed: [] as ((message: string) => void)[],
    rollback: [] as ((p: RollbackProgress) => void)[],
    runbook: [] as ((p: RunbookRunProgress) => void)[],
    action: [] as ((p: ActionProgress) => void)[],
    launch: [] as ((info: LaunchInfo) => void)[],
  };
  const calls: string[] = [];
  let desktop: DesktopSettings = { tray: true, keep_running_in_tray: true, start_at_login: false };
  // The config file the sources editor edits, as the engine would keep it.
  let file: SourcesFile = { path: "/home/dana/.config/opsdeck/opsdeck.toml", exists: true, identity: null, sources: [editable("catalog", "backstage", "http://catalog")] };
  const answer = (draft: SourceDraft): SourceCheck =>
    draft.token === "wrong"
      ? { source: draft.form.name, kind: draft.form.kind, address: draft.form.url ?? "", ok: false, found: null, problem: "401 Unauthorized: the token was refused; check it, or set a new one", signed_in_as: null, requests: 1, took_ms: 9 }
      : { source: draft.form.name, kind: draft.form.kind, address: draft.form.url ?? "", ok: true, found: "signed in as Dana Whitfield; 60 services", problem: null, signed_in_as: { name: "Dana Whitfield", email: "dana@example.com" }, requests: 1, took_ms: 9 };
  const ipc: Ipc = {
    teams: async () => [team("checkout", { is_mine: true, gap_count: 1, gap_count_below: 1 }), team("payments")],
    team: async (key) => (calls.push(`team ${key}`), teamDetail(key)),
    scorecard: async (key, below) => (calls.push(`scorecard ${key} ${below}`), scorecardView(key, { below })),
    serviceScorecard: async (key) => (calls.push(`serviceScorecard ${key}`), serviceScorecard(key)),
    exportReport: async (kind, key, markdown) => (calls.push(`exportReport ${kind} ${key} ${markdown}`), `/home/dana/Downloads/opsdeck-${kind}.${markdown ? "md" : "csv"}`),
    teamServices: async (key) => {
      calls.push(`teamServices ${key}`);
      return key.endsWith("checkout") ? [row("checkout-api", { tier: "1" }), row("cart-service", { gaps: ["no-runbook"] })] : [row("payments-gateway")];
    },
    orphanedServices: async () => [row("legacy-reports", { gaps: ["orphan-owner"] })],
    service: async (key) => detail(key.split("/")[1]),
    search: async (text): Promise<SearchHit[]> => [{ key: "component:default/checkout-api", kind: "component", name: "checkout-api", title: "checkout-api", context: `owned by checkout (${text})`, team: "group:default/checkout" }],
    // The engine's sources are the config file's.
    sources: async () => file.sources.map((s) => source({ name: s.form.name, kind: s.form.kind })),
    identity: async () => "dana@demo.opsdeck.dev",
    launchInfo: async () => ({ demo: false, first_run: false, config_path: "/home/dana/.config/opsdeck/opsdeck.toml" }),
    onLaunchChanged: async (h) => (handlers.launch.push(h), () => undefined),
    configSources: async () => file,
    checkDraft: async (draft) => (calls.push(`checkDraft ${draft.form.name} ${draft.token ?? "-"}`), answer(draft)),
    saveSource: async (draft) => {
      calls.push(`saveSource ${draft.previous_name ?? "-"} ${draft.form.name} ${draft.form.url ?? "-"} ${draft.token ?? "-"}`);
      const saved = { form: draft.form, token_origin: draft.token ? "keychain" : null, token_problem: null };
      const at = file.sources.findIndex((s) => s.form.name === (draft.previous_name ?? draft.form.name));
      file = { ...file, sources: at < 0 ? [...file.sources, saved] : file.sources.map((s, i) => (i === at ? saved : s)) };
      return file;
    },
    removeSource: async (name) => (calls.push(`removeSource ${name}`), (file = { ...file, sources: file.sources.filter((s) => s.form.name !== name) })),
    moveSource: async (name, index) => {
      calls.push(`moveSource ${name} ${index}`);
      const rest = file.sources.filter((s) => s.form.name !== name);
      rest.splice(index, 0, file.sources.find((s) => s.form.name === name)!);
      return (file = { ...file, sources: rest });
    },
    detectIdentity: async () => ["dana@example.com", "pagerduty"],
    setIdentity: async (email) => (calls.push(`setIdentity ${email}`), (file = { ...file, identity: email })),
    syncNow: async () => [],
    checkSource: async (source) => ({ source, kind: "backstage", address: "http://catalog", ok: true, found: "a catalog of 144 entities", problem: null, signed_in_as: null, requests: 1, took_ms: 12 }),
    uiReady: async () => undefined,
    onSyncProgress: async (h) => (handlers.progress.push(h), () => undefined),
    onCacheChanged: async (h) => (handlers.changed.push(h), () => undefined),
    onCall: async () => panel(),
    onCallOverview: async () => [teamOnCall("checkout", { is_mine: true, me_on_call: true, triggered: 1, firing_alerts: 1 }), teamOnCall("payments", { acknowledged: 1 })],
    openLink: async (url) => void calls.push(`openLink ${url}`),
    onOpenScreen: async (h) => (handlers.openScreen.push(h), () => undefined),
    onLinkFailed: async (h) => (handlers.linkFailed.push(h), () => undefined),
    openPendingLink: async () => void calls.push("openPendingLink"),
    desktopSettings: async () => desktop,
    setStartAtLogin: async (on) => (calls.push(`setStartAtLogin ${on}`), (desktop = { ...desktop, start_at_login: on })),
    setKeepRunningInTray: async (on) => (calls.push(`setKeepRunningInTray ${on}`), (desktop = { ...desktop, keep_running_in_tray: on })),
    serviceDelivery: async () => delivery(),
    releaseMatrix: async () => matrix(),
    activity: async (q) => {
      calls.push(`activity ${JSON.stringify(q)}`);
      return [deploy("checkout-api", "prod", "v2.14.0", 12), deploy("payments-gateway", "prod", "v5.2.0", 50, { status: "queued", source: "github" })];
    },
    environments: async () => ["beta", "gamma", "prod"],
    changes: async (_service, from, to, askGithub) => (calls.push(`changes ${from} ${to} ${askGithub}`), changes(from, to)),
    planRollback: async (service, environment, to) => (calls.push(`planRollback ${service} ${environment} ${to}`), rollbackPlan()),
    startRollback: async (c) => (calls.push(`startRollback ${JSON.stringify(c)}`), rollbackProgress()),
    audit: async (service) => (calls.push(`audit ${service}`), [auditEntry()]),
    exportAudit: async () => "/home/dana/Downloads/opsdeck-audit.jsonl",
    onRollbackProgress: async (h) => (handlers.rollback.push(h), () => undefined),
    runbooks: async (service, ask) => (calls.push(`runbooks ${service} ${JSON.stringify(ask)}`), runbookRows()),
    runbookDocument: async (_service, template, refresh) => (
      calls.push(`runbookDocument ${template} ${refresh}`),
      { title: "High error rate runbook", url: template, repo: "demo-org/checkout-api", path: "docs/runbooks/high-error-rate.md", markdown: RUNBOOK_MARKDOWN, confirmed_at: minutesAgo(120) }
    ),
    runbookForm: async (_service, template) => ({
      title: "Drain a region (automated)", template, repo: "demo-org/checkout-api", workflow: "drain-region.yml", git_ref: "main", confirmed_at: minutesAgo(60),
      inputs: [
        { name: "region", description: "Region to drain", input_type: "choice", default: null, options: ["eu-west-1", "us-east-1"], required: true },
        { name: "dry_run", description: null, input_type: "boolean", default: "true", options: [], required: false },
        { name: "environment", description: null, input_type: "environment", default: null, options: [], required: true },
      ],
    }),
    openRunbook: async (service, template, ask) => (calls.push(`openRunbook ${service} ${template} ${JSON.stringify(ask)}`), template),
    runRunbook: async (_service, template, _ask, inputs) => (calls.push(`runRunbook ${template} ${JSON.stringify(inputs)}`), runbookRun()),
    onRunbookProgress: async (h) => (handlers.runbook.push(h), () => undefined),
    incidents: async () => panel().incidents,
    incident: async (id) => (calls.push(`incident ${id}`), incidentView()),
    planAction: async (request) => (calls.push(`planAction ${JSON.stringify(request)}`), actionPlan(request)),
    startAction: async (key) => (calls.push(`startAction ${key}`), actionProgress(key)),
    onActionProgress: async (h) => (handlers.action.push(h), () => undefined),
    ...overrides,
  };
  return { ipc, handlers, calls };
}

/** The demo incident's view: checkout-api's v2.14.0 the top suspect, a config change on
 *  payments-gateway lower, one firing alert, Dana on call. */
export function incidentView(extra: Partial<IncidentView> = {}): IncidentView {
  const p = panel();
  const change = (id: string, service: string, kind: Change["kind"], version: string, minutes: number, environment: string | null, extraChange: Partial<Change> = {}): Change => ({
    id, kind, service_key: `component:default/${service}`, service, closeness: service === "checkout-api" ? "same-service" : "direct-dependency",
    environment, production: true, version, previous_version: null, commit: null, previous_commit: null, actor: "eva-novak",
    at: minutesAgo(minutes), status: kind === "change-event" ? null : "success", link: null, ...extraChange,
  });
  return {
    source: "pagerduty",
    incident: p.incidents[0].incident,
    pagerduty_service: "checkout-api",
    service: { key: "component:default/checkout-api", name: "checkout-api" },
    owner: { key: "group:default/checkout", kind: "group", name: "checkout", title: "Checkout", exists: true },
    system: { key: "system:default/storefront", kind: "system", name: "storefront", title: "Storefront", exists: true },
    tier: "1",
    policy: p.policies[0],
    me_on_call: true,
    neighbours: [
      { entity: { key: "component:default/payments-gateway", kind: "component", name: "payments-gateway", title: "payments-gateway", exists: true }, upstream: true, open_incidents: 0, firing_alerts: 1 },
      { entity: { key: "component:default/checkout-web", kind: "component", name: "checkout-web", title: "checkout-web", exists: true }, upstream: false, open_incidents: 0, firing_alerts: 0 },
    ],
    alerts: [p.alerts[0]],
    suspects: [
      {
        suspect: { change: change("deploy:1", "checkout-api", "deploy", "v2.14.0", 12, "prod", { previous_version: "v2.13.2" }), tier: "service-in-production", seconds_before: 480 },
        reason: "this service, in production", when: "8 min before",
        commits: [{ sha: "8eaf4350000000000000000000000000000000aa", title: "Fix timeout handling on slow upstreams", author: "eva-novak", authored_at: minutesAgo(300), link: null }],
        total_commits: 4, can_roll_back: true, replaced_by: null,
      },
      {
        suspect: { change: change("event:1", "payments-gateway", "change-event", "Config change: connection pool 200 → 120 <b>CHG-2317</b>", 44, null, { actor: "config-service" }), tier: "dependency-in-production", seconds_before: 2400 },
        reason: "a dependency, in production", when: "40 min before", commits: [], total_commits: null, can_roll_back: false, replaced_by: null,
      },
    ],
    ranking_rule: "Ranked: changes to this service in production first, then production changes to what it depends on, then the rest.",
    window_since: minutesAgo(364),
    automated_sync_off: [],
    actions: [],
    ...extra,
  };
}

export function actionPlan(request: ActionRequest, extra: Partial<ActionPlan> = {}): ActionPlan {
  return {
    key: "act-1", kind: request.kind === "acknowledge" ? "incident-acknowledge" : request.kind === "silence" ? "silence" : "incident-note",
    title: request.kind === "acknowledge" ? "Acknowledge #3100 Checkout error rate above 5%" : `Do ${request.kind}`,
    service: { key: "component:default/checkout-api", name: "checkout-api" }, source: "pagerduty",
    call: { method: "PUT", url: "https://api.pagerduty.com/incidents/Q1", body: JSON.stringify(request), purpose: "acknowledge the incident" },
    warnings: [], blocker: null, expires_at: inAnHour(), ...extra,
  };
}

export function actionProgress(key: string, extra: Partial<ActionProgress> = {}): ActionProgress {
  return { key, kind: "incident-acknowledge", title: "Acknowledge #3100 Checkout error rate above 5%", state: "requested", message: "requested", started_at: minutesAgo(0), link: null, ...extra };
}

/** Once the frame after a render is drawn: what a page leaves below the fold is built then
 *  (`useBelowTheFold`). */
export const firstFrameDrawn = () => act(() => new Promise<void>((drawn) => requestAnimationFrame(() => setTimeout(drawn))));
