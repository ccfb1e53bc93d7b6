import { fireEvent, render, screen, waitFor } from "@testing-library/preact";
import { describe, expect, it, vi } from "vitest";
import { App } from "../App";
import { actionPlan, actionProgress, fakeIpc, incidentView } from "../test/fixtures";
import { ActionDialog } from "./ActionDialog";
import { IncidentView } from "./IncidentView";

function view(extra = {}) {
  const props = {
    now: Date.now(),
    onBack: vi.fn(),
    backLabel: "Checkout",
    onOpenLink: vi.fn(),
    onOpenService: vi.fn(),
    onRollback: vi.fn(),
    onAction: vi.fn(),
    onRunbooks: vi.fn(),
    onRefresh: vi.fn(),
  };
  const rendered = render(<IncidentView view={incidentView(extra)} {...props} />);
  return { ...rendered, ...props };
}

describe("IncidentView", () => {
  it("puts the incident, the top suspect with its rollback focused, alerts and who is on call on one screen", () => {
    const { container, onRollback, onAction } = view();
    const text = container.textContent!;
    expect(text).toContain("#3100");
    expect(text).toContain("Checkout error rate above 5%");
    expect(text).toContain("8 min before");
    expect(text).toContain("v2.13.2 → v2.14.0");
    expect(text).toContain("Fix timeout handling on slow upstreams");
    expect(text).toContain("Ranked: changes to this service in production first");
    expect(text).toContain("HighErrorRate");
    expect(text).toContain("Dana Whitfield");
    const suspects = [...container.querySelectorAll("[data-suspect]")].map((s) => s.getAttribute("data-suspect"));
    expect(suspects).toEqual(["deploy:1", "event:1"]);
    const rollback = container.querySelector<HTMLButtonElement>("[data-rollback-suspect='deploy:1']")!;
    expect(document.activeElement).toBe(rollback);
    // A change event cannot be rolled back from here.
    expect(container.querySelector("[data-rollback-suspect='event:1']")).toBeNull();
    fireEvent.click(rollback);
    expect(onRollback.mock.calls[0][0].suspect.change.version).toBe("v2.14.0");
    fireEvent.click(container.querySelector("[data-action='acknowledge']")!);
    expect(onAction).toHaveBeenCalledWith({ kind: "acknowledge", incident: "Q1" });
    fireEvent.click(container.querySelector("[data-silence='HighErrorRate']")!);
    expect(onAction.mock.calls[1][0]).toMatchObject({ kind: "silence", fingerprint: "f1", seconds: 3600, incident: "Q1" });
  });

  it("says when the top suspect no longer runs, and offers no rollback of it", () => {
    const replaced = incidentView();
    replaced.suspects[0] = { ...replaced.suspects[0], can_roll_back: false, replaced_by: { version: "v2.13.2", at: new Date().toISOString(), rollback: true } };
    const { container } = render(<IncidentView view={replaced} now={Date.now()} onBack={vi.fn()} backLabel="x" onOpenLink={vi.fn()} onOpenService={vi.fn()} onRollback={vi.fn()} onAction={vi.fn()} onRunbooks={vi.fn()} onRefresh={vi.fn()} />);
    expect(container.querySelector("[data-replaced-by='v2.13.2']")!.textContent).toContain("Rolled back to v2.13.2");
    expect(container.querySelector("[data-rollback-suspect]")).toBeNull();
    expect(container.querySelector(".suspect.top")).toBeTruthy();
  });

  it("renders a change event's summary as text", () => {
    const { container } = view();
    expect(container.textContent).toContain("<b>CHG-2317</b>");
    expect(container.querySelector(".suspect b")).toBeNull();
  });

  it("stands a notice while automated sync is off since a rollback, with Sync and back on", () => {
    const { container, onAction, onRefresh } = view({
      automated_sync_off: [{ source: "argocd", service: { key: "component:default/checkout-api", name: "checkout-api" }, environment: "prod", app: "checkout-api-prod", since: new Date().toISOString(), by: "dana@demo.opsdeck.dev", switched_off_by_rollback: true, sync: "OutOfSync", health: "Healthy" }],
    });
    const notice = container.querySelector("[data-auto-sync-off='checkout-api-prod']")!;
    expect(notice.textContent).toContain("is off since the rollback at");
    fireEvent.click(screen.getByText("Turn automated sync back on…"));
    expect(onAction).toHaveBeenCalledWith({ kind: "argocd-auto-sync", service: "component:default/checkout-api", environment: "prod" });
    fireEvent.click(screen.getByText("Refresh"));
    expect(onRefresh).toHaveBeenCalledWith("argocd");
  });

  it("offers no acknowledge on an acknowledged incident", () => {
    const acked = incidentView();
    acked.incident = { ...acked.incident, status: "acknowledged" };
    const { container } = render(<IncidentView view={acked} now={Date.now()} onBack={vi.fn()} backLabel="x" onOpenLink={vi.fn()} onOpenService={vi.fn()} onRollback={vi.fn()} onAction={vi.fn()} onRunbooks={vi.fn()} onRefresh={vi.fn()} />);
    expect(container.querySelector("[data-action='acknowledge']")).toBeNull();
    expect(container.querySelector("[data-action='resolve']")).toBeTruthy();
  });
});

describe("ActionDialog", () => {
  it("shows the one call and confirms once with Enter", async () => {
    const plan = vi.fn().mockImplementation(async (r) => actionPlan(r));
    const confirm = vi.fn().mockResolvedValue(actionProgress("act-1"));
    const onStarted = vi.fn();
    const { container } = render(<ActionDialog request={{ kind: "acknowledge", incident: "Q1" }} plan={plan} confirm={confirm} onStarted={onStarted} onClose={vi.fn()} />);
    await waitFor(() => expect(container.querySelector("[data-action-plan]")).toBeTruthy());
    expect(container.textContent).toContain("Acknowledge #3100");
    expect(container.textContent).toContain("https://api.pagerduty.com/incidents/Q1");
    fireEvent.keyDown(window, { key: "Enter" });
    fireEvent.keyDown(window, { key: "Enter" });
    await waitFor(() => expect(onStarted).toHaveBeenCalled());
    expect(confirm).toHaveBeenCalledTimes(1);
  });

  it("holds the keyboard while the plan is read, then gives it to the confirmation", async () => {
    let read: (plan: ReturnType<typeof actionPlan>) => void = () => undefined;
    const plan = vi.fn().mockImplementation(() => new Promise((resolve) => (read = resolve)));
    const onClose = vi.fn();
    const confirm = vi.fn().mockResolvedValue(actionProgress("act-1"));
    render(<ActionDialog request={{ kind: "acknowledge", incident: "Q1" }} plan={plan} confirm={confirm} onStarted={vi.fn()} onClose={onClose} />);
    // An Enter pressed before the plan is on screen reaches no control: not Cancel, not ×.
    expect(document.activeElement).toBe(screen.getByRole("dialog"));
    fireEvent.keyDown(document.activeElement!, { key: "Enter" });
    expect(onClose).not.toHaveBeenCalled();
    expect(confirm).not.toHaveBeenCalled();
    await waitFor(() => expect(plan).toHaveBeenCalled());
    read(actionPlan({ kind: "acknowledge", incident: "Q1" }));
    // The plan and the focused confirmation arrive in one paint.
    await waitFor(() => expect(document.querySelector("[data-action-plan]")).toBeTruthy());
    expect(document.activeElement).toBe(document.querySelector("[data-confirm-action]"));
  });

  it("cannot be confirmed while something stands in the way", async () => {
    const plan = vi.fn().mockImplementation(async (r) => actionPlan(r, { blocker: "#3100 is resolved already; nothing to acknowledge" }));
    const confirm = vi.fn();
    const { container } = render(<ActionDialog request={{ kind: "acknowledge", incident: "Q1" }} plan={plan} confirm={confirm} onStarted={vi.fn()} onClose={vi.fn()} />);
    await waitFor(() => expect(container.textContent).toContain("resolved already"));
    expect((container.querySelector("[data-confirm-action]") as HTMLButtonElement).disabled).toBe(true);
    fireEvent.keyDown(window, { key: "Enter" });
    expect(confirm).not.toHaveBeenCalled();
  });

  it("plans a silence again for another duration and sends what is shown", async () => {
    const plan = vi.fn().mockImplementation(async (r) => actionPlan(r));
    const { container } = render(
      <ActionDialog request={{ kind: "silence", source: "alertmanager", fingerprint: "f1", seconds: 3600, comment: null, incident: "Q1" }} plan={plan} confirm={vi.fn()} onStarted={vi.fn()} onClose={vi.fn()} />,
    );
    await waitFor(() => expect(plan).toHaveBeenCalledTimes(1));
    fireEvent.input(screen.getByLabelText("Silence for"), { target: { value: String(2 * 3600) } });
    await waitFor(() => expect(plan).toHaveBeenCalledTimes(2));
    expect(plan.mock.calls[1][0]).toMatchObject({ kind: "silence", seconds: 7200 });
    await waitFor(() => expect(container.querySelector("[data-action-plan]")).toBeTruthy());
  });
});

describe("App and the incident view", () => {
  it("opens the incident view from a notification and rolls the top suspect back with B", async () => {
    const { ipc, handlers, calls } = fakeIpc();
    const { container } = render(<App ipc={ipc} />);
    await waitFor(() => expect(container.querySelector("[data-service='checkout-api']")).toBeTruthy());
    handlers.openScreen.forEach((open) => open({ screen: "incident", id: "Q1" }));
    await waitFor(() => expect(container.querySelector("[data-incident-view='3100']")).toBeTruthy());
    expect(calls).toContain("incident Q1");
    fireEvent.keyDown(document.body, { key: "b" });
    await waitFor(() => expect(calls.some((c) => c.startsWith("planRollback component:default/checkout-api prod"))).toBe(true));
    await screen.findByRole("dialog", { name: "Roll back checkout-api in prod" });
  });

  it("acknowledges with A after the plan is confirmed, and shows the action's progress", async () => {
    const { ipc, handlers, calls } = fakeIpc();
    const { container } = render(<App ipc={ipc} />);
    await waitFor(() => expect(container.querySelector("[data-service='checkout-api']")).toBeTruthy());
    handlers.openScreen.forEach((open) => open({ screen: "incident", id: "Q1" }));
    await waitFor(() => expect(container.querySelector("[data-incident-view='3100']")).toBeTruthy());
    fireEvent.keyDown(document.body, { key: "a" });
    await waitFor(() => expect(container.querySelector("[data-action-plan]")).toBeTruthy());
    expect(calls.filter((c) => c.startsWith("startAction"))).toEqual([]);
    fireEvent.click(container.querySelector("[data-confirm-action]")!);
    await waitFor(() => expect(calls).toContain("startAction act-1"));
    handlers.action.forEach((h) => h(actionProgress("act-1", { state: "done", message: "PagerDuty: #3100 is acknowledged" })));
    await waitFor(() => expect(container.querySelector("[data-action-card='incident-acknowledge'][data-state='done']")).toBeTruthy());
    fireEvent.keyDown(window, { key: "Escape" });
    await waitFor(() => expect(container.querySelector("[data-incident-view]")).toBeNull());
  });

  it("opens an incident from its row and lists every incident on its own screen", async () => {
    const { ipc } = fakeIpc();
    const { container } = render(<App ipc={ipc} />);
    await waitFor(() => expect(container.querySelector("[data-open-incident='3100']")).toBeTruthy());
    fireEvent.click(container.querySelector("[data-open-incident='3100']")!);
    await waitFor(() => expect(container.querySelector("[data-incident-view='3100']")).toBeTruthy());
    fireEvent.click(container.querySelector("[data-team='incidents']")!);
    await waitFor(() => expect(container.querySelector(".incident-list [data-open-incident='3100']")).toBeTruthy());
    expect(container.querySelector("[data-incident-view]")).toBeNull();
  });
});
