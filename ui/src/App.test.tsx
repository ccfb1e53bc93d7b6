import { fireEvent, render, screen, waitFor } from "@testing-library/preact";
import { describe, expect, it, vi } from "vitest";
import { App } from "./App";
import { fakeIpc, row, source } from "./test/fixtures";

describe("App", () => {
  it("opens on my team, switches teams, opens a service and goes back with Escape", async () => {
    const { ipc } = fakeIpc();
    const uiReady = vi.spyOn(ipc, "uiReady");
    const { container } = render(<App ipc={ipc} />);
    await waitFor(() => expect(container.querySelector("[data-service='checkout-api']")).toBeTruthy());
    expect(container.querySelector(".team.selected")!.getAttribute("data-team")).toBe("checkout");
    expect(screen.getByText("My teams")).toBeTruthy();
    await waitFor(() => expect(uiReady).toHaveBeenCalledTimes(1));

    fireEvent.click(container.querySelector("[data-team='payments']")!);
    await waitFor(() => expect(container.querySelector("[data-service='payments-gateway']")).toBeTruthy());

    fireEvent.click(container.querySelector("[data-service='payments-gateway']")!);
    await waitFor(() => expect(container.querySelector("[data-service-page='payments-gateway']")).toBeTruthy());
    fireEvent.keyDown(window, { key: "Escape" });
    await waitFor(() => expect(container.querySelector("[data-service='payments-gateway']")).toBeTruthy());

    fireEvent.click(container.querySelector("[data-team='orphans']")!);
    await waitFor(() => expect(container.querySelector("[data-service='legacy-reports']")).toBeTruthy());
  });

  it("welcomes a first run with the demo or the user's platforms, and labels the demo on every screen", async () => {
    localStorage.clear();
    const restart = vi.fn(async () => undefined);
    const launch = { demo: true, first_run: true, config_path: "/home/dana/.config/opsdeck/opsdeck.toml" };
    const { ipc } = fakeIpc({ launchInfo: async () => launch, restart });
    const first = render(<App ipc={ipc} />);
    await waitFor(() => expect(first.container.querySelector("[data-welcome='choose']")).toBeTruthy());
    expect(first.container.querySelector(".sidebar")).toBeNull();
    fireEvent.click(first.container.querySelector("[data-choice='connect']")!);
    const steps = first.container.querySelector("[data-connect-steps]")!;
    expect(steps.textContent).toContain("opsdeck init");
    expect(steps.textContent).toContain("/home/dana/.config/opsdeck/opsdeck.toml");
    fireEvent.click(first.container.querySelector("[data-restart]")!);
    expect(restart).toHaveBeenCalledTimes(1);
    fireEvent.click(screen.getByText("Back"));
    fireEvent.click(first.container.querySelector("[data-choice='demo']")!);
    await waitFor(() => expect(first.container.querySelector("[data-service='checkout-api']")).toBeTruthy());
    expect(first.container.querySelector("[data-demo]")!.textContent).toContain("Demo organisation");
    // The label opens the connect step, and back to the demo.
    fireEvent.click(screen.getByText("Connect your platforms…"));
    expect(first.container.querySelector("[data-welcome='connect']")).toBeTruthy();
    fireEvent.click(screen.getByText("Back to the demo"));
    await waitFor(() => expect(first.container.querySelector("[data-service='checkout-api']")).toBeTruthy());
    first.unmount();
    // Once answered, the welcome is not asked again.
    const again = render(<App ipc={ipc} />);
    await waitFor(() => expect(again.container.querySelector("[data-service='checkout-api']")).toBeTruthy());
    expect(again.container.querySelector("[data-welcome]")).toBeNull();
    again.unmount();
    // A configured app has no welcome and no demo label.
    const { ipc: configured } = fakeIpc();
    const own = render(<App ipc={configured} />);
    await waitFor(() => expect(own.container.querySelector("[data-service='checkout-api']")).toBeTruthy());
    expect(own.container.querySelector("[data-demo], [data-welcome]")).toBeNull();
  });

  it("shows every shortcut on ?, not while typing, and gives focus back when it closes", async () => {
    const { ipc } = fakeIpc();
    const { container } = render(<App ipc={ipc} />);
    await waitFor(() => expect(container.querySelector("[data-service='checkout-api']")).toBeTruthy());
    const filter = container.querySelector<HTMLInputElement>("input[type='search'], .table-tools input")!;
    filter.focus();
    fireEvent.keyDown(filter, { key: "?" });
    expect(screen.queryByRole("dialog", { name: "Keyboard shortcuts" })).toBeNull();
    fireEvent.keyDown(document.body, { key: "?" });
    await screen.findByRole("dialog", { name: "Keyboard shortcuts" });
    expect(container.querySelector("[data-shortcut='palette']")!.textContent).toContain("Ctrl K");
    fireEvent.keyDown(window, { key: "Escape" });
    await waitFor(() => expect(screen.queryByRole("dialog", { name: "Keyboard shortcuts" })).toBeNull());
  });

  it("opens the palette with Ctrl+K and jumps to the picked service in its team", async () => {
    const { ipc } = fakeIpc();
    const { container } = render(<App ipc={ipc} />);
    await waitFor(() => expect(container.querySelector("[data-service='checkout-api']")).toBeTruthy());
    fireEvent.click(container.querySelector("[data-team='payments']")!);
    await waitFor(() => expect(container.querySelector("[data-service='payments-gateway']")).toBeTruthy());
    fireEvent.keyDown(window, { key: "k", ctrlKey: true });
    const input = await screen.findByLabelText("Search");
    fireEvent.input(input, { target: { value: "checkout" } });
    await screen.findByText("owned by checkout (checkout)");
    fireEvent.keyDown(input, { key: "Enter" });
    await waitFor(() => expect(container.querySelector("[data-service-page='checkout-api']")).toBeTruthy());
    expect(screen.queryByLabelText("Search")).toBeNull();
    expect(container.querySelector(".team.selected")!.getAttribute("data-team")).toBe("checkout");
    expect(screen.getByText("← Checkout")).toBeTruthy();
  });

  it("re-reads the cache when a sync lands and shows sync failures", async () => {
    let services = [row("checkout-api")];
    const { ipc, handlers } = fakeIpc({
      teamServices: async () => services,
      syncNow: async () => [{ source: "catalog", landed: false, items: 0, rows_written: 0, requests: 4, problems: ["catalog: 500 Internal Server Error"] }],
    });
    const { container } = render(<App ipc={ipc} />);
    await waitFor(() => expect(container.querySelectorAll(".body .row")).toHaveLength(1));
    services = [row("checkout-api"), row("new-service")];
    handlers.changed.forEach((h) => h());
    await waitFor(() => expect(container.querySelector("[data-service='new-service']")).toBeTruthy());

    fireEvent.click(screen.getByText("Refresh"));
    expect((await screen.findByRole("alert")).textContent).toContain("catalog: 500 Internal Server Error");
  });

  it("opens the Sources screen from the sidebar and the status bar, and syncs one source from it", async () => {
    const synced: (string | null)[] = [];
    const { ipc } = fakeIpc({
      sources: async () => [source({ name: "catalog" }), source({ name: "files", kind: "catalog-files", health: "failing", consecutive_failures: 1, last_error: "files: x" })],
      syncNow: async (s) => (synced.push(s), []),
    });
    const { container } = render(<App ipc={ipc} />);
    await waitFor(() => expect(container.querySelectorAll(".body .row").length).toBeGreaterThan(0));
    expect(container.querySelector("[data-team='sources'] .dot.failing")).toBeTruthy();
    fireEvent.click(container.querySelector("[data-source='files']")!);
    await screen.findByRole("heading", { name: "Sources" });
    fireEvent.click(container.querySelector("[data-sync='files']")!);
    await waitFor(() => expect(synced).toEqual(["files"]));
    fireEvent.click(container.querySelector("[data-team='checkout']")!);
    await waitFor(() => expect(container.querySelectorAll(".body .row").length).toBeGreaterThan(0));
    fireEvent.click(container.querySelector("[data-team='sources']")!);
    await screen.findByRole("heading", { name: "Sources" });
  });

  it("warns on the team and service screens when their data is stale", async () => {
    const old = new Date(Date.now() - 4 * 3600 * 1000).toISOString();
    const { ipc } = fakeIpc({
      sources: async () => [source({ name: "catalog", health: "failing", data_stale: true, consecutive_failures: 9, last_success: old, last_error: "catalog: cannot connect" })],
    });
    const { container } = render(<App ipc={ipc} />);
    expect((await screen.findByRole("status")).textContent).toContain("Data from catalog is 4h00m old");
    await waitFor(() => expect(container.querySelector("[data-service='checkout-api']")).toBeTruthy());
    fireEvent.click(container.querySelector("[data-service='checkout-api']")!);
    await waitFor(() => expect(container.querySelector("[data-service-page='checkout-api']")).toBeTruthy());
    expect(screen.getByRole("status").textContent).toContain("last sync failed: catalog: cannot connect");
  });

  it("shows the team's on-call, opens the On call screen, and follows a notification to its service", async () => {
    const { ipc, handlers, calls } = fakeIpc();
    const { container } = render(<App ipc={ipc} />);
    await waitFor(() => expect(container.querySelector("[data-on-call='Dana Whitfield']")).toBeTruthy());
    expect(screen.getByText("You are on call")).toBeTruthy();
    // The alert's runbook goes through the engine (filled in for the alert, audited).
    fireEvent.click(container.querySelector("[data-alert='HighErrorRate'] [title='Runbooks for this alert (R)']")!);
    await waitFor(() => expect(screen.getByRole("dialog", { name: "Runbooks for alert HighErrorRate" })).toBeTruthy());
    expect(calls.some((c) => c.startsWith('runbooks component:default/checkout-api {"incident_id":null,"alert":'))).toBe(true);
    await waitFor(() => expect(container.querySelector(".runbook.active")).toBeTruthy());
    fireEvent.keyDown(window, { key: "Enter" });
    await waitFor(() => expect(calls.some((c) => c.startsWith("openRunbook component:default/checkout-api https://wiki/{service}?i={incident_id}"))).toBe(true));
    expect(screen.queryByRole("dialog")).toBeNull();

    expect(container.querySelector("[data-team='incidents'] .team-gaps")!.textContent).toBe("1");
    fireEvent.click(container.querySelector("[data-team='on-call']")!);
    await waitFor(() => expect(container.querySelector("[data-screen='on-call']")).toBeTruthy());
    fireEvent.click(container.querySelector("[data-on-call-team='payments'] td:nth-child(3)")!);
    await waitFor(() => expect(container.querySelector("[data-service='payments-gateway']")).toBeTruthy());

    handlers.openService.forEach((open) => open("component:default/checkout-api"));
    await waitFor(() => expect(container.querySelector("[data-service-page='checkout-api']")).toBeTruthy());
    expect(container.querySelector("[data-service-page='checkout-api'] [data-incident='3100']")).toBeTruthy();
  });
});
