import { fireEvent, render, screen, waitFor } from "@testing-library/preact";
import { describe, expect, it, vi } from "vitest";
import { changes, delivery, deploy, fakeIpc, firstFrameDrawn, matrix, team, XSS } from "../test/fixtures";
import { Activity } from "./Activity";
import { Delivery } from "./Delivery";
import { Releases } from "./Releases";

describe("Delivery", () => {
  it("shows the pipeline, what runs where and what the last prod deploy changed", async () => {
    const onOpenLink = vi.fn();
    const loadChanges = vi.fn();
    const { container } = render(<Delivery delivery={delivery()} now={Date.now()} onOpenLink={onOpenLink} loadChanges={loadChanges} />);
    await firstFrameDrawn();
    const stages = [...container.querySelectorAll("[data-stage]")].map((s) => s.getAttribute("data-stage"));
    expect(stages).toEqual(["build", "test", "beta", "prod"]);
    expect(container.querySelector("[data-stage='test']")!.textContent).toContain("11m00s");
    const prod = container.querySelector("[data-environment='prod']")!;
    expect(prod.textContent).toContain("v2.14.0");
    expect(prod.textContent).toContain("12m ago");
    expect(prod.textContent).toContain("Healthy");
    // The cached comparison shows at once, without asking GitHub.
    expect(loadChanges).not.toHaveBeenCalled();
    expect(container.querySelector("[data-changes]")!.textContent).toContain("2 commits");
    // Commit titles are untrusted text.
    expect(container.querySelector("img")).toBeNull();
    expect(container.textContent).toContain(XSS);
    expect(container.querySelector("[data-timeline]")!.textContent).toContain("Deploys 3");
    fireEvent.click(container.querySelector("[data-stage='build'] .external")!);
    expect(onOpenLink).toHaveBeenCalledWith("https://github.com/demo-org/checkout-api/actions/runs/1");
  });

  it("shows the newest deploys first and all of them when asked", async () => {
    const timeline = Array.from({ length: 30 }, (_, i) => deploy("checkout-api", "prod", `v2.${30 - i}.0`, 600 * (i + 1)));
    const { container } = render(<Delivery delivery={delivery({ timeline })} now={Date.now()} onOpenLink={vi.fn()} loadChanges={vi.fn()} />);
    await firstFrameDrawn();
    const versions = () => [...container.querySelectorAll("[data-timeline] [data-deploy] strong")].map((v) => v.textContent);
    expect(container.querySelector("[data-timeline] h3")!.textContent).toBe("Deploys 30");
    expect(versions()).toEqual(timeline.slice(0, 20).map((d) => d.version));
    fireEvent.click(screen.getByText("Show all 30 deploys"));
    expect(versions()).toEqual(timeline.map((d) => d.version));
    expect(container.querySelector("[data-timeline-all]")).toBeNull();
  });

  it("says why a stage waits and what is pending promotion", () => {
    const d = delivery({
      stages: [{ name: "prod", is_environment: true, status: "queued", version: "v5.2.0", started_at: new Date().toISOString(), duration_seconds: 3000, waiting: { reason: "approval" }, link: null }],
      pending: { from_environment: "gamma", version: "v5.2.0", to_environment: "prod", production_version: "v5.1.3", commit_count: 2 },
    });
    const { container } = render(<Delivery delivery={d} now={Date.now()} onOpenLink={vi.fn()} loadChanges={vi.fn()} />);
    expect(container.querySelector("[data-stage='prod']")!.textContent).toContain("waiting for approval");
    expect(container.querySelector("[data-pending]")!.textContent).toBe("v5.2.0 waits in gamma for prod (runs v5.1.3) · 2 commits");
  });

  it("reads other versions' changes from the cache, asks GitHub only when told, and says when it cannot", async () => {
    const loadChanges = vi
      .fn()
      .mockResolvedValueOnce(null)
      .mockRejectedValueOnce({ kind: "failed", message: "github: cannot connect" })
      .mockResolvedValue(changes("v2.14.0", "v2.13.2"));
    const { container } = render(<Delivery delivery={delivery()} now={Date.now()} onOpenLink={vi.fn()} loadChanges={loadChanges} />);
    await firstFrameDrawn();
    fireEvent.change(screen.getByLabelText("from version"), { target: { value: "v2.14.0" } });
    fireEvent.change(screen.getByLabelText("to version"), { target: { value: "v2.13.2" } });
    await waitFor(() => expect(container.textContent).toContain("Not compared yet."));
    expect(loadChanges).toHaveBeenLastCalledWith("v2.14.0", "v2.13.2", false);
    fireEvent.click(screen.getByText("Read the commits from GitHub"));
    await waitFor(() => expect(container.textContent).toContain("github: cannot connect"));
    expect(loadChanges).toHaveBeenLastCalledWith("v2.14.0", "v2.13.2", true);
    fireEvent.click(screen.getByText("Read the commits from GitHub"));
    await waitFor(() => expect(container.querySelectorAll("[data-changes] li").length).toBe(2));
  });

  it("says plainly when a service is not wired", () => {
    const { container } = render(<Delivery delivery={delivery({ wired: false, stages: [], environments: [], timeline: [] })} now={Date.now()} onOpenLink={vi.fn()} loadChanges={vi.fn()} />);
    expect(container.textContent).toContain("Not wired to GitHub or Argo CD");
  });
});

describe("Releases", () => {
  it("lays out versions per environment with drift, incoming and pending promotions", () => {
    const onOpenService = vi.fn();
    const { container } = render(<Releases matrix={matrix()} now={Date.now()} onOpenService={onOpenService} />);
    const row = container.querySelector("[data-release-row='payments-gateway']")!;
    const cells = row.querySelectorAll("td");
    expect(cells[0].classList.contains("drift")).toBe(true);
    expect(cells[2].classList.contains("drift")).toBe(false);
    expect(cells[2].textContent).toContain("→ v5.2.0 queuedwaiting for approval");
    expect(cells[3].textContent).toContain("v5.2.0 in gamma · 2 commits");
    expect(container.textContent).toContain("1 pending promotion");
    expect(container.querySelector("[data-release-row='card-vault']")!.textContent).toContain("Degraded");
    expect(container.textContent).toContain("Not wired to GitHub or Argo CD: payout-scheduler");
    fireEvent.click(screen.getByText("payments-gateway"));
    expect(onOpenService).toHaveBeenCalledWith("component:default/payments-gateway");
  });

  it("charts the team or one service over 30 or 90 days", () => {
    const { container } = render(<Releases matrix={matrix()} now={Date.now()} onOpenService={vi.fn()} />);
    const chart = () => container.querySelector("[data-chart] [role='img']")!.getAttribute("aria-label");
    expect(chart()).toBe("team: 8 production deploys in 30 days");
    fireEvent.click(screen.getByText("90 days"));
    expect(chart()).toBe("team: 26 production deploys in 90 days");
    fireEvent.click(container.querySelector("[data-release-row='card-vault'] td:last-child button")!);
    expect(chart()).toBe("card-vault: 13 production deploys in 90 days");
  });
});

describe("Activity", () => {
  it("lists deploys newest first and filters by team, environment, status and time", async () => {
    const { ipc, calls } = fakeIpc();
    const onOpenService = vi.fn();
    const onRollback = vi.fn();
    const { container } = render(
      <Activity teams={[team("checkout"), team("payments")]} environments={["beta", "gamma", "prod"]} now={Date.now()} generation={0} load={ipc.activity} onOpenService={onOpenService} onOpenLink={vi.fn()} onRollback={onRollback} onError={vi.fn()} />,
    );
    await waitFor(() => expect(container.querySelectorAll("[data-deploy]").length).toBe(2));
    expect(calls[0]).toBe('activity {"team":null,"service":null,"environment":null,"status":null,"since_seconds":604800,"after":null,"limit":50}');
    const [team_, env, status] = [...container.querySelectorAll("select")];
    fireEvent.change(team_, { target: { value: "group:default/payments" } });
    fireEvent.change(env, { target: { value: "prod" } });
    fireEvent.change(status, { target: { value: "queued" } });
    await waitFor(() => expect(calls.at(-1)).toContain(`"team":"group:default/payments","service":null,"environment":"prod","status":"queued"`));
    fireEvent.click(screen.getByText("payments-gateway"));
    expect(onOpenService).toHaveBeenCalledWith("component:default/payments-gateway");
    // Only a deploy that reached its environment offers a rollback (the queued one does not).
    const offers = screen.getAllByText("Roll back…");
    expect(offers.length).toBe(1);
    fireEvent.click(offers[0]);
    expect(onRollback.mock.calls[0][0].service.name).toBe("checkout-api");
  });

  it("pages on with the last row's time", async () => {
    const full = Array.from({ length: 50 }, (_, i) => deploy("checkout-api", "prod", `v1.${i}.0`, 10 + i));
    const load = vi.fn().mockResolvedValueOnce(full).mockResolvedValue([deploy("checkout-api", "prod", "v0.9.0", 500)]);
    const { container } = render(<Activity teams={[]} environments={[]} now={Date.now()} generation={0} load={load} onOpenService={vi.fn()} onOpenLink={vi.fn()} onRollback={vi.fn()} onError={vi.fn()} />);
    await waitFor(() => expect(screen.getByText("Older deploys")).toBeTruthy());
    fireEvent.click(screen.getByText("Older deploys"));
    await waitFor(() => expect(container.querySelectorAll("[data-deploy]").length).toBe(51));
    expect(load.mock.calls[1][0].after).toEqual({ started_at: full[49].started_at, id: full[49].id });
    expect(screen.queryByText("Older deploys")).toBeNull();
  });
});
