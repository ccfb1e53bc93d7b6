import type { Ipc, OnCallPanel, Person, SearchHit, ServiceDetail, ServiceRow, SourceStatus, TeamOnCall, TeamSummary } from "../ipc";

export const XSS = `<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>`;

export function team(name: string, extra: Partial<TeamSummary> = {}): TeamSummary {
  return { key: `group:default/${name}`, name, title: name[0].toUpperCase() + name.slice(1), service_count: 2, member_count: 3, gap_count: 0, is_mine: false, ...extra };
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
    item_count: 141, requests_last_hour: 3, last_requests: 1, last_rows_written: 0, last_duration_ms: 42, quota: null,
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
        created_at: minutesAgo(4), last_status_change_at: null, assignees: ["Dana Whitfield"], acknowledged_by: [], html_url: "https://x.pagerduty.com/incidents/Q1" },
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

/** A fake shell: answers from fixed data and lets the test fire events. */
export function fakeIpc(overrides: Partial<Ipc> = {}) {
  const handlers = { progress: [] as ((p: any) => void)[], changed: [] as (() => void)[], openService: [] as ((key: string) => void)[] };
  const calls: string[] = [];
  const ipc: Ipc = {
    teams: async () => [team("checkout", { is_mine: true, gap_count: 1 }), team("payments")],
    teamServices: async (key) => {
      calls.push(`teamServices ${key}`);
      return key.endsWith("checkout") ? [row("checkout-api", { tier: "1" }), row("cart-service", { gaps: ["no-runbook"] })] : [row("payments-gateway")];
    },
    orphanedServices: async () => [row("legacy-reports", { gaps: ["orphan-owner"] })],
    service: async (key) => detail(key.split("/")[1]),
    search: async (text): Promise<SearchHit[]> => [{ key: "component:default/checkout-api", kind: "component", name: "checkout-api", title: "checkout-api", context: `owned by checkout (${text})`, team: "group:default/checkout" }],
    sources: async () => [source()],
    identity: async () => "dana@demo.opsdeck.dev",
    syncNow: async () => [],
    uiReady: async () => undefined,
    onSyncProgress: async (h) => (handlers.progress.push(h), () => undefined),
    onCacheChanged: async (h) => (handlers.changed.push(h), () => undefined),
    onCall: async () => panel(),
    onCallOverview: async () => [teamOnCall("checkout", { is_mine: true, me_on_call: true, triggered: 1, firing_alerts: 1 }), teamOnCall("payments", { acknowledged: 1 })],
    openLink: async (url) => void calls.push(`openLink ${url}`),
    onOpenService: async (h) => (handlers.openService.push(h), () => undefined),
    ...overrides,
  };
  return { ipc, handlers, calls };
}
