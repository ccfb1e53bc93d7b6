import type { Ipc, SearchHit, ServiceDetail, ServiceRow, SourceStatus, TeamSummary } from "../ipc";

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
    name: "catalog", kind: "backstage", supported: true, interval_secs: 60, health: "fresh", data_stale: false,
    last_attempt: now, last_success: now, next_sync: now, retry_after: null, consecutive_failures: 0, last_error: null,
    item_count: 141, requests_last_hour: 3, last_requests: 1, last_rows_written: 0, last_duration_ms: 42, quota: null,
    ...extra,
  };
}

/** A fake shell: answers from fixed data and lets the test fire events. */
export function fakeIpc(overrides: Partial<Ipc> = {}) {
  const handlers = { progress: [] as ((p: any) => void)[], changed: [] as (() => void)[] };
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
    ...overrides,
  };
  return { ipc, handlers, calls };
}
