import { fireEvent, render, screen, waitFor } from "@testing-library/preact";
import { render as renderNow } from "preact";
import { describe, expect, it, vi } from "vitest";
import { Palette } from "./Palette";
import { ServicePage } from "./ServicePage";
import { filterAndSort, ServiceTable } from "./ServiceTable";
import { Sources } from "./Sources";
import { StaleNotice } from "./StaleNotice";
import { StatusBar } from "./StatusBar";
import { detail, firstFrameDrawn, row, source, XSS } from "../test/fixtures";

describe("ServiceTable", () => {
  const rows = [
    row("checkout-api", { tier: "1", gaps: [] }),
    row("cart-service", { tier: "1", gaps: ["no-runbook", "no-argocd"], tags: ["go"] }),
    row("promo-engine", { tier: "2", system: "promotions", gaps: ["no-argocd"] }),
  ];

  it("sorts by any column and filters on every word", () => {
    expect(filterAndSort(rows, "", "name", true).map((r) => r.name)).toEqual(["cart-service", "checkout-api", "promo-engine"]);
    expect(filterAndSort(rows, "", "gaps", false).map((r) => r.name)).toEqual(["cart-service", "promo-engine", "checkout-api"]);
    expect(filterAndSort(rows, "no argo tier 1", "name", true).map((r) => r.name)).toEqual(["cart-service"]);
    expect(filterAndSort(rows, "promotions", "name", true).map((r) => r.name)).toEqual(["promo-engine"]);
    expect(filterAndSort(rows, "go", "name", true).map((r) => r.name)).toEqual(["cart-service"]);
  });

  it("renders only the visible window of a long list", () => {
    const many = Array.from({ length: 5000 }, (_, i) => row(`svc-${String(i).padStart(4, "0")}`));
    const { container } = render(<ServiceTable services={many} onOpen={() => undefined} />);
    const drawn = container.querySelectorAll(".body .row").length;
    expect(drawn).toBeGreaterThan(10);
    expect(drawn).toBeLessThan(80);
    expect(screen.getByText("5000 services")).toBeTruthy();
  });

  it("builds the rows that fit in the frame that shows the table, the rows past its edge after", async () => {
    const many = Array.from({ length: 5000 }, (_, i) => row(`svc-${String(i).padStart(4, "0")}`));
    const { container } = render(<ServiceTable services={many} onOpen={() => undefined} />);
    const drawn = () => container.querySelectorAll(".body .row").length;
    // 600 px (the test setup's viewport) of 36 px rows: 17 rows, the last one cut.
    expect(drawn()).toBe(17);
    await firstFrameDrawn();
    expect(drawn()).toBe(21);
  });

  it("sorts on header click, narrows on filter, opens on click and Enter", async () => {
    const onOpen = vi.fn();
    const { container } = render(<ServiceTable services={rows} onOpen={onOpen} />);
    const names = () => [...container.querySelectorAll(".body .row")].map((r) => r.getAttribute("data-service"));
    expect(names()).toEqual(["cart-service", "checkout-api", "promo-engine"]);
    fireEvent.click(screen.getByRole("columnheader", { name: /Service/ }));
    expect(names()).toEqual(["promo-engine", "checkout-api", "cart-service"]);
    fireEvent.input(screen.getByLabelText("Filter services"), { target: { value: "promo" } });
    expect(names()).toEqual(["promo-engine"]);
    expect(screen.getByText("1 of 3")).toBeTruthy();
    fireEvent.click(container.querySelector(".body .row")!);
    expect(onOpen).toHaveBeenCalledWith("component:default/promo-engine");
    fireEvent.keyDown(container.querySelector(".body .row")!, { key: "Enter" });
    expect(onOpen).toHaveBeenCalledTimes(2);
  });

  it("moves through rows with arrows and j/k, and opens the active one with Enter", () => {
    const onOpen = vi.fn();
    const { container } = render(<ServiceTable services={rows} onOpen={onOpen} />);
    const active = () => container.querySelector(".body .row.active")?.getAttribute("data-service");
    const filter = screen.getByLabelText("Filter services");
    expect(active()).toBe("cart-service");
    fireEvent.keyDown(filter, { key: "ArrowDown" });
    expect(active()).toBe("checkout-api");
    fireEvent.keyDown(filter, { key: "j" }); // typed into the filter, not a move
    expect(active()).toBe("checkout-api");
    const row = container.querySelector(".body .row.active")!;
    fireEvent.keyDown(row, { key: "j" });
    expect(active()).toBe("promo-engine");
    fireEvent.keyDown(row, { key: "j" });
    expect(active(), "stops at the last row").toBe("promo-engine");
    fireEvent.keyDown(row, { key: "k" });
    fireEvent.keyDown(row, { key: "Enter" });
    expect(onOpen).toHaveBeenCalledWith("component:default/checkout-api");
    fireEvent.input(filter, { target: { value: "promo" } });
    expect(active()).toBe("promo-engine");
  });

  it("keeps the cursor on the list when a re-read shortens it", () => {
    const { container, rerender } = render(<ServiceTable services={rows} onOpen={() => undefined} />);
    fireEvent.keyDown(document.body, { key: "ArrowDown" });
    fireEvent.keyDown(document.body, { key: "ArrowDown" });
    rerender(<ServiceTable services={rows.slice(0, 1)} onOpen={() => undefined} />);
    expect(container.querySelector(".body .row.active")?.getAttribute("data-service")).toBe("checkout-api");
  });

  it("keeps the cursor on its service when a re-read moves it down the list", () => {
    const table = (services: typeof rows) => <ServiceTable services={services} onOpen={() => undefined} />;
    const { container, rerender } = render(table(rows));
    fireEvent.keyDown(document.body, { key: "ArrowDown" });
    expect(container.querySelector(".body .row.active")?.getAttribute("data-service")).toBe("checkout-api");
    rerender(table([row("audit-log"), ...rows]));
    expect(container.querySelector(".body .row.active")?.getAttribute("data-service")).toBe("checkout-api");
  });

  it("answers the keys when nothing has focus", () => {
    const onOpen = vi.fn();
    render(<ServiceTable services={rows} onOpen={onOpen} />);
    fireEvent.keyDown(document.body, { key: "j" });
    fireEvent.keyDown(document.body, { key: "Enter" });
    expect(onOpen).toHaveBeenCalledWith("component:default/checkout-api");
  });
});

describe("ServicePage", () => {
  it("renders untrusted catalog text as text, never as markup", () => {
    const d = detail("evil", {
      title: XSS,
      description: XSS,
      tags: [XSS],
      links: [{ url: "javascript:alert(1)", title: XSS, type: "runbook" }],
    });
    const { container } = render(<ServicePage detail={d} onOpenEntity={() => undefined} onBack={() => undefined} backLabel="Back" onOpenLink={() => undefined} />);
    expect(container.querySelector("img")).toBeNull();
    expect(container.querySelector("script")).toBeNull();
    expect(container.querySelector("a")).toBeNull();
    expect((window as any).__pwned).toBeUndefined();
    expect(container.textContent).toContain(XSS);
  });

  it("shows gaps, wiring and links only components and teams", async () => {
    const onOpen = vi.fn();
    const d = detail("legacy-reports", {
      owner: { key: "group:default/reporting", kind: "group", name: "reporting", title: "reporting", exists: false },
      gaps: ["orphan-owner", "no-runbook"],
      platforms: [{ platform: "GitHub", annotation: "github.com/project-slug", value: "demo-org/legacy-reports" }],
      depends_on: [
        { key: "component:default/orders", kind: "component", name: "orders", title: "orders", exists: true },
        { key: "resource:default/orders-db", kind: "resource", name: "orders-db", title: "orders-db", exists: true },
      ],
    });
    const { container } = render(<ServicePage detail={d} onOpenEntity={onOpen} onBack={() => undefined} backLabel="Back" onOpenLink={() => undefined} />);
    await firstFrameDrawn();
    expect(screen.getByText("Owner group missing")).toBeTruthy();
    expect(screen.getByText("No runbook")).toBeTruthy();
    expect(screen.getByText("missing")).toBeTruthy();
    expect(screen.getByText("demo-org/legacy-reports")).toBeTruthy();
    expect(screen.getAllByText("not wired")).toHaveLength(3);
    expect(container.querySelector("[data-entity='group:default/reporting']")).toBeNull();
    expect(container.querySelector("[data-entity='resource:default/orders-db']")).toBeNull();
    fireEvent.click(container.querySelector("[data-entity='component:default/orders']")!);
    expect(onOpen).toHaveBeenCalledWith(expect.objectContaining({ name: "orders" }));
  });

  it("draws its top in the first frame, and the cards under the pipeline once that frame is drawn", async () => {
    const d = detail("checkout-api", { gaps: ["no-runbook"] });
    const root = document.createElement("div");
    // Rendered as the app renders a click's answer: outside testing-library's act, which would
    // run the page's effects at once.
    renderNow(<ServicePage detail={d} onOpenEntity={() => undefined} onBack={() => undefined} backLabel="Back" onOpenLink={() => undefined} onCall={<p data-on-call-panel />} delivery={<p data-delivery />} />, root);
    expect(root.querySelector("[data-service-page='checkout-api'] h1")).toBeTruthy();
    expect(root.querySelector("[data-on-call-panel]") && root.querySelector("[data-delivery]")).toBeTruthy();
    expect(root.querySelector(".gaps-card")).toBeNull();
    await waitFor(() => expect(root.querySelector(".gaps-card")?.textContent).toContain("No runbook"));
    renderNow(null, root);
  });
});

describe("Palette", () => {
  it("searches as you type, moves with arrows and opens with Enter", async () => {
    const hits = (names: string[]) => names.map((n) => ({ key: `component:default/${n}`, kind: "component", name: n, title: n, context: null, team: null }));
    const search = vi.fn(async (text: string) => hits(text === "ch" ? ["checkout-api", "checkout-web"] : []));
    const onPick = vi.fn();
    render(<Palette search={search} onPick={onPick} onClose={() => undefined} />);
    const input = screen.getByLabelText("Search");
    expect(document.activeElement).toBe(input);
    fireEvent.input(input, { target: { value: "ch" } });
    await waitFor(() => expect(screen.getAllByRole("option")).toHaveLength(2));
    fireEvent.keyDown(input, { key: "ArrowDown" });
    fireEvent.keyDown(input, { key: "Enter" });
    expect(onPick).toHaveBeenCalledWith(expect.objectContaining({ name: "checkout-web" }));
  });

  it("ignores an answer that arrives after the text changed", async () => {
    let release: (v: any) => void = () => undefined;
    const slow = new Promise<any>((r) => (release = r));
    const search = vi.fn((text: string) =>
      text === "a" ? slow : Promise.resolve([{ key: "k:ab", kind: "component", name: "ab", title: "ab", context: null, team: null }]),
    );
    render(<Palette search={search} onPick={() => undefined} onClose={() => undefined} />);
    const input = screen.getByLabelText("Search");
    fireEvent.input(input, { target: { value: "a" } });
    fireEvent.input(input, { target: { value: "ab" } });
    await waitFor(() => expect(screen.getByText("ab")).toBeTruthy());
    release([{ key: "k:stale", kind: "component", name: "stale", title: "stale", context: null, team: null }]);
    await new Promise((r) => setTimeout(r, 10));
    expect(screen.queryByText("stale")).toBeNull();
  });

  it("closes on Escape", () => {
    const onClose = vi.fn();
    render(<Palette search={async () => []} onPick={() => undefined} onClose={onClose} />);
    fireEvent.keyDown(screen.getByLabelText("Search"), { key: "Escape" });
    expect(onClose).toHaveBeenCalled();
  });
});

describe("StatusBar", () => {
  it("shows each source's badge, age and a failing source's error, and opens Sources", () => {
    const now = Date.parse("2026-11-26T02:13:00Z");
    const ago = (s: number) => new Date(now - s * 1000).toISOString();
    const onOpenSources = vi.fn();
    const { container } = render(
      <StatusBar
        now={now}
        syncing={false}
        progress={{}}
        onRefresh={() => undefined}
        onOpenSources={onOpenSources}
        sources={[
          source({ name: "catalog", last_success: ago(120), last_attempt: ago(120) }),
          source({
            name: "files",
            health: "failing",
            consecutive_failures: 2,
            last_success: ago(3600),
            last_attempt: ago(5),
            last_error: "files: cannot open catalog directory /x",
          }),
        ]}
      />,
    );
    expect(container.querySelector("[data-source='catalog']")!.className).toContain("fresh");
    expect(screen.getByText("synced 2m ago")).toBeTruthy();
    expect(container.querySelector("[data-source='files']")!.className).toContain("failing");
    expect(screen.getByText("failing ×2")).toBeTruthy();
    expect(screen.getByText("files: cannot open catalog directory /x")).toBeTruthy();
    fireEvent.click(container.querySelector("[data-source='files']")!);
    expect(onOpenSources).toHaveBeenCalled();
  });

  it("keeps to badges when several sources fail, so every source stays on screen", () => {
    const down = (name: string) => source({ name, health: "failing", consecutive_failures: 2, last_error: `${name}: cannot connect (127.0.0.1:1)` });
    const { container } = render(
      <StatusBar now={Date.now()} syncing={false} progress={{}} onRefresh={() => undefined} onOpenSources={() => undefined}
        sources={[down("catalog"), down("pagerduty"), down("alertmanager")]} />,
    );
    expect(container.querySelectorAll(".source.failing")).toHaveLength(3);
    expect(container.querySelector(".error-text")).toBeNull();
    expect(container.querySelector("[data-source='pagerduty']")!.getAttribute("title")).toBe("pagerduty: cannot connect (127.0.0.1:1)");
  });
});

/** The Sources screen's editing props, for tests of what it shows of sync and connections. */
const noSetup = { file: null, demo: false, onEdit: () => undefined, onRemove: () => undefined, onMove: () => undefined, onDetectIdentity: async () => null, onSetIdentity: () => undefined, desktop: null, onStartAtLogin: () => undefined, onKeepRunning: () => undefined };

describe("Sources", () => {
  const now = Date.parse("2026-11-26T02:13:00Z");
  const ago = (s: number) => new Date(now - s * 1000).toISOString();
  const sources = [
    source({ name: "catalog", last_success: ago(30), requests_last_hour: 57, last_requests: 29, last_rows_written: 0, last_duration_ms: 1830,
      quota: { limit: 900, remaining: 0, resets_at: "2026-11-26T02:31:00Z" } }),
    source({ name: "files", kind: "catalog-files", health: "failing", consecutive_failures: 3, last_success: null,
      last_rows_written: null, last_error: `files: cannot open catalog directory /x\n${XSS}` }),
  ];

  it("shows health, cost, budget and the whole error, inert", () => {
    const { container } = render(<Sources {...noSetup} sources={sources} progress={{}} syncing={new Set()} now={now} onSync={() => undefined} onCheck={vi.fn()} />);
    const catalog = container.querySelector("[data-source-row='catalog']")!;
    expect(catalog.textContent).toContain("30s ago");
    expect(catalog.textContent).toContain("1.8 s · 29 requests");
    expect(catalog.textContent).toContain("nothing new");
    expect(catalog.textContent).toContain("57 requests");
    expect(catalog.textContent).toMatch(/0\/900 left until \d\d:31:00/);
    const files = container.querySelector("[data-source-row='files']")!;
    expect(files.textContent).toContain("failing ×3");
    expect(files.textContent).toContain("never");
    expect(screen.getByText("Failed 3 times in a row; the cache keeps the last good data.")).toBeTruthy();
    expect(container.querySelector(".source-error")!.textContent).toContain("<script>");
    expect(container.querySelector("script, img")).toBeNull();
    expect((window as any).__pwned).toBeUndefined();
  });

  it("says which process is syncing a source now, inert", () => {
    const taken = source({ name: "github", kind: "github",
      syncing_now: { source: "github", by: `the agent on ops-1 (pid 4242, since 02:12:40)${XSS}`, face: "agent", host: "ops-1", pid: 4242, since: ago(20) } });
    const { container } = render(<Sources {...noSetup} sources={[taken, ...sources]} progress={{}} syncing={new Set()} now={now} onSync={() => undefined} onCheck={vi.fn()} />);
    expect(container.querySelector("[data-syncing-now='github']")!.textContent).toContain(`syncing now: the agent on ops-1 (pid 4242, since 02:12:40)${XSS}`);
    expect(container.querySelector("[data-syncing-now='catalog']")).toBeNull();
    expect(container.querySelector("script, img")).toBeNull();
  });

  it("warns, inert, of a token sent over plain http", () => {
    const insecure = source({ name: "argocd", kind: "argocd", warning: `argocd sends its token to argo.internal over plain http://${XSS}` });
    const { container } = render(<Sources {...noSetup} sources={[insecure]} progress={{}} syncing={new Set()} now={now} onSync={() => undefined} onCheck={vi.fn()} />);
    const warning = container.querySelector("[data-warning='argocd']")!;
    expect(warning.textContent).toContain("over plain http://");
    expect(warning.textContent).toContain("<script>");
    expect(container.querySelector("script, img")).toBeNull();
  });

  it("syncs one source or all, and shows a running sync's progress", () => {
    const onSync = vi.fn();
    const { container, rerender } = render(<Sources {...noSetup} sources={sources} progress={{}} syncing={new Set()} now={now} onSync={onSync} onCheck={vi.fn()} />);
    fireEvent.click(container.querySelector("[data-sync='files']")!);
    expect(onSync).toHaveBeenCalledWith("files");
    fireEvent.click(screen.getByText("Sync all"));
    expect(onSync).toHaveBeenCalledWith(null);
    rerender(
      <Sources {...noSetup} sources={sources} progress={{ files: { source: "files", pages: 2, items: 40, total: 90 } }} syncing={new Set(["files"])} now={now} onSync={onSync} onCheck={vi.fn()} />,
    );
    const button = container.querySelector<HTMLButtonElement>("[data-sync='files']")!;
    expect(button.textContent).toBe("page 2, 40/90");
    expect(button.disabled).toBe(true);
    expect(container.querySelector<HTMLButtonElement>("[data-sync='catalog']")!.disabled).toBe(false);
  });
});

describe("Sources: Test connection", () => {
  const now = Date.parse("2026-11-26T02:13:00Z");
  const checked = (name: string, extra = {}) => ({ source: name, kind: "backstage" as const, address: `https://${name}.example`, ok: true, found: null, problem: null, signed_in_as: null, requests: 1, took_ms: 240, ...extra });

  it("says what each source found or exactly what is wrong, inert", async () => {
    const answers: Record<string, Promise<any>> = {
      catalog: Promise.resolve(checked("catalog", { found: "a catalog of 12,712 entities" })),
      files: Promise.resolve(checked("files", { ok: false, problem: `401 Unauthorized — the token from env X was rejected${XSS}` })),
    };
    const onCheck = vi.fn((name: string) => answers[name]);
    const sources = [source({ name: "catalog" }), source({ name: "files" })];
    const { container } = render(<Sources {...noSetup} sources={sources} progress={{}} syncing={new Set()} now={now} onSync={vi.fn()} onCheck={onCheck} />);
    fireEvent.click(container.querySelector("[data-check='catalog']")!);
    expect(container.querySelector("[data-check='catalog']")!.textContent).toBe("Testing…");
    await waitFor(() => expect(container.querySelector("[data-checked='catalog']")).toBeTruthy());
    const ok = container.querySelector("[data-checked='catalog']")!;
    expect(ok.getAttribute("data-ok")).toBe("true");
    expect(ok.textContent).toContain("✓ Connected to https://catalog.example: a catalog of 12,712 entities");
    expect(ok.textContent).toContain("1 request, 240 ms");
    fireEvent.click(screen.getByText("Test all connections"));
    await waitFor(() => expect(container.querySelector("[data-checked='files']")).toBeTruthy());
    expect(onCheck.mock.calls.map((c) => c[0])).toEqual(["catalog", "catalog", "files"]);
    const failed = container.querySelector("[data-checked='files']")!;
    expect(failed.getAttribute("data-ok")).toBe("false");
    expect(failed.textContent).toContain("✗ https://files.example: 401 Unauthorized — the token from env X was rejected" + XSS);
    expect(container.querySelector("script, img")).toBeNull();
  });

  it("says a test that could not be asked as a failure", async () => {
    const onCheck = vi.fn(() => Promise.reject(new Error("no source named gone")));
    const { container } = render(<Sources {...noSetup} sources={[source({ name: "gone" })]} progress={{}} syncing={new Set()} now={now} onSync={vi.fn()} onCheck={onCheck} />);
    fireEvent.click(container.querySelector("[data-check='gone']")!);
    await waitFor(() => expect(container.querySelector("[data-checked='gone']")).toBeTruthy());
    expect(container.querySelector("[data-checked='gone']")!.textContent).toContain("✗ no source named gone");
  });
});

describe("StaleNotice", () => {
  it("says how old the data is and why, and is absent when nothing is stale", () => {
    const now = Date.parse("2026-11-26T02:13:00Z");
    const stale = source({ name: "catalog", data_stale: true, consecutive_failures: 4, last_success: new Date(now - 7500 * 1000).toISOString(),
      last_error: "catalog: cannot connect (backstage.example.com); the cached data is kept" });
    const onOpen = vi.fn();
    const { container, rerender } = render(<StaleNotice stale={[stale]} now={now} onOpenSources={onOpen} />);
    expect(container.textContent).toContain("Data from catalog is 2h05m old (it syncs every 1m) — last sync failed: catalog: cannot connect");
    fireEvent.click(screen.getByText("Sources"));
    expect(onOpen).toHaveBeenCalled();
    rerender(<StaleNotice stale={[]} now={now} onOpenSources={onOpen} />);
    expect(container.querySelector(".stale-notice")).toBeNull();
  });
});
