import { fireEvent, render, screen, waitFor } from "@testing-library/preact";
import { describe, expect, it, vi } from "vitest";
import { App } from "../App";
import { auditEntry, fakeIpc, rollbackPlan, rollbackProgress, XSS } from "../test/fixtures";
import { AuditLog } from "./Audit";
import { RollbackDialog, RollbackPanel } from "./Rollback";

const ask = { service: "component:default/checkout-api", name: "checkout-api", environment: "prod" };

function dialog(plan = rollbackPlan(), confirm = vi.fn().mockResolvedValue(rollbackProgress())) {
  const onStarted = vi.fn();
  const onClose = vi.fn();
  const load = vi.fn().mockResolvedValue(plan);
  const view = render(<RollbackDialog ask={ask} now={Date.now()} plan={load} confirm={confirm} onStarted={onStarted} onClose={onClose} />);
  return { ...view, load, confirm, onStarted, onClose };
}

const confirmButton = () => screen.getByText(/^Roll back to|^Rolling back/) as HTMLButtonElement;

describe("RollbackDialog", () => {
  it("shows from, to, what it undoes, who is on call and the exact call, and confirms with Enter", async () => {
    const { container, confirm, onStarted, onClose } = dialog();
    await waitFor(() => expect(container.querySelector("[data-plan]")).toBeTruthy());
    const text = container.textContent!;
    expect(text).toContain("v2.14.0");
    expect(text).toContain("Argo CD rollback");
    expect(text).toContain("Dana Whitfield (you), Lena Fischer");
    expect(text).toContain("2 commits");
    expect(text).toContain("/api/v1/applications/checkout-api-prod/rollback");
    // A commit title is text, never markup.
    expect(text).toContain(XSS);
    expect(container.querySelector("img")).toBeNull();
    expect((container.querySelector("select.version") as HTMLSelectElement).value).toBe("v2.13.2");
    expect(confirmButton().disabled).toBe(false);
    fireEvent.keyDown(window, { key: "Enter" });
    await waitFor(() => expect(onStarted).toHaveBeenCalled());
    expect(confirm).toHaveBeenCalledTimes(1);
    expect(confirm.mock.calls[0][0]).toEqual({ key: "rb-1", typed_service: null, disable_automated_sync: false, reason: null });
    expect(onClose).toHaveBeenCalled();
  });

  it("plans again for another target", async () => {
    const { container, load } = dialog();
    await waitFor(() => expect(container.querySelector("select.version")).toBeTruthy());
    fireEvent.input(container.querySelector("select.version")!, { target: { value: "v2.13.1" } });
    await waitFor(() => expect(load.mock.calls.map((c) => c[2])).toEqual([null, "v2.13.1"]));
  });

  it("asks for the service's name when the user neither owns it nor is on call, and records why", async () => {
    const { container, confirm } = dialog(rollbackPlan({ needs_override: true, owned_by_me: false, me_on_call: false }));
    await waitFor(() => expect(container.querySelector("[data-plan]")).toBeTruthy());
    expect(confirmButton().disabled).toBe(true);
    const name = screen.getByLabelText("Service name");
    fireEvent.input(name, { target: { value: "checkout" } });
    expect(confirmButton().disabled).toBe(true);
    fireEvent.input(name, { target: { value: "checkout-api" } });
    fireEvent.input(screen.getByLabelText("Reason"), { target: { value: "asked by payments on-call" } });
    expect(confirmButton().disabled).toBe(false);
    fireEvent.click(confirmButton());
    await waitFor(() => expect(confirm).toHaveBeenCalled());
    expect(confirm.mock.calls[0][0]).toMatchObject({ typed_service: "checkout-api", reason: "asked by payments on-call" });
  });

  it("switches automated sync off only with consent, with the warning on screen", async () => {
    const plan = rollbackPlan({
      automated_sync: true,
      warnings: ["switching it back on later syncs the newest commit in Git again"],
      blockers: [{ kind: "automated_sync", message: "Argo CD syncs cart-service automatically", resolvable: true }],
    });
    const { container, confirm } = dialog(plan);
    await waitFor(() => expect(container.querySelector("[data-plan]")).toBeTruthy());
    expect(container.textContent).toContain("switching it back on later");
    expect(confirmButton().disabled).toBe(true);
    fireEvent.click(screen.getByLabelText(/Switch automated sync off first/));
    expect(container.querySelector(".blockers")).toBeNull();
    fireEvent.click(confirmButton());
    await waitFor(() => expect(confirm).toHaveBeenCalled());
    expect(confirm.mock.calls[0][0].disable_automated_sync).toBe(true);
  });

  it("cannot confirm past a blocker, and shows why", async () => {
    const { container } = dialog(rollbackPlan({ blockers: [{ kind: "in_flight", message: "deployment 42 of v5.2.0 to prod is still queued", resolvable: false }] }));
    await waitFor(() => expect(container.querySelector(".blockers")).toBeTruthy());
    expect(container.querySelector(".blockers")!.textContent).toContain("still queued");
    expect(confirmButton().disabled).toBe(true);
  });

  it("sends once however often it is clicked, and shows a refusal", async () => {
    let refuse: (e: unknown) => void = () => undefined;
    const confirm = vi.fn().mockReturnValue(new Promise((_, reject) => (refuse = reject)));
    const { container } = dialog(rollbackPlan(), confirm);
    await waitFor(() => expect(container.querySelector("[data-plan]")).toBeTruthy());
    fireEvent.click(confirmButton());
    fireEvent.click(confirmButton());
    fireEvent.keyDown(window, { key: "Enter" });
    expect(confirm).toHaveBeenCalledTimes(1);
    refuse({ kind: "failed", message: "dana started another rollback of checkout-api in prod" });
    await waitFor(() => expect(container.textContent).toContain("another rollback"));
    expect(confirmButton().disabled).toBe(false);
  });

  it("closes on Escape without calling anything", async () => {
    const { container, confirm, onClose } = dialog();
    await waitFor(() => expect(container.querySelector("[data-plan]")).toBeTruthy());
    fireEvent.keyDown(window, { key: "Escape" });
    expect(onClose).toHaveBeenCalled();
    expect(confirm).not.toHaveBeenCalled();
  });
});

describe("RollbackPanel", () => {
  it("shows each rollback's step live and lets only finished ones be dismissed", () => {
    const onDismiss = vi.fn();
    const { container } = render(
      <RollbackPanel
        rollbacks={[rollbackProgress({ key: "a", state: "in_progress", message: "checkout-api-prod: Running / Progressing" }), rollbackProgress({ key: "b", state: "failed", message: "Argo CD refused (403)" })]}
        now={Date.now()}
        onOpenLink={vi.fn()}
        onDismiss={onDismiss}
      />,
    );
    const running = container.querySelector("[data-rollback='a']")!;
    expect(running.querySelector(".steps .now")!.textContent).toBe("Rolling out");
    expect(running.querySelector("[aria-label='Dismiss']")).toBeNull();
    const failed = container.querySelector("[data-rollback='b']")!;
    expect(failed.textContent).toContain("failed");
    expect(failed.textContent).toContain("403");
    fireEvent.click(failed.querySelector("[aria-label='Dismiss']")!);
    expect(onDismiss).toHaveBeenCalledWith("b");
  });
});

describe("AuditLog", () => {
  it("lists who did what and how it ended, flags overrides and missing outcomes, and exports", () => {
    const onExport = vi.fn();
    const { container } = render(
      <AuditLog
        title={null}
        entries={[auditEntry(), auditEntry({ key: "rb-2", state: "accepted", finished: false, override_reason: "dana typed 'payments-gateway'" })]}
        now={Date.now()}
        showService
        onExport={onExport}
      />,
    );
    expect(container.querySelectorAll("[data-audit]").length).toBe(2);
    const open = container.querySelector("[data-audit='rb-2']")!;
    expect(open.textContent).toContain("no outcome recorded");
    expect(open.textContent).toContain("override");
    fireEvent.click(screen.getByText("Export JSON lines"));
    expect(onExport).toHaveBeenCalled();
  });
});

describe("App and rollbacks", () => {
  it("opens the dialog from an environment row and follows the rollback in the panel", async () => {
    const { ipc, handlers, calls } = fakeIpc();
    const { container } = render(<App ipc={ipc} />);
    await waitFor(() => expect(container.querySelector("[data-service='checkout-api']")).toBeTruthy());
    fireEvent.click(container.querySelector("[data-service='checkout-api']")!);
    await waitFor(() => expect(container.querySelector("[data-rollback-env='prod']")).toBeTruthy());
    fireEvent.click(container.querySelector("[data-rollback-env='prod']")!);
    await waitFor(() => expect(container.querySelector("[data-plan]")).toBeTruthy());
    expect(calls).toContain("planRollback component:default/checkout-api prod null");
    fireEvent.click(confirmButton());
    await waitFor(() => expect(container.querySelector("[data-rollback='rb-1']")).toBeTruthy());
    expect(container.querySelector("[role='dialog']")).toBeNull();
    handlers.rollback.forEach((h) => h(rollbackProgress({ state: "succeeded", message: "checkout-api-prod: Succeeded / Healthy" })));
    await waitFor(() => expect(container.querySelector("[data-rollback='rb-1']")!.getAttribute("data-state")).toBe("succeeded"));
    // The service page shows its audit entries.
    await waitFor(() => expect(container.querySelector("[data-audit='rb-1']")).toBeTruthy());
    // From which machine, as a log shared by the team records it.
    expect(container.querySelector("[data-audit='rb-1'] [data-audit-machine]")!.textContent).toBe("from dana-laptop");
  });
});
