import { fireEvent, render, screen } from "@testing-library/preact";
import { describe, expect, it, vi } from "vitest";
import { panel, teamOnCall, XSS } from "../test/fixtures";
import { OnCall } from "./OnCall";
import { OnCallPanel } from "./OnCallPanel";

describe("OnCallPanel", () => {
  it("answers who is on call, what is open and what fires, at a glance", () => {
    const onOpenLink = vi.fn();
    const onOpenService = vi.fn();
    const { container } = render(<OnCallPanel panel={panel()} now={Date.now()} onOpenLink={onOpenLink} onOpenService={onOpenService} />);
    expect(screen.getByText("You are on call")).toBeTruthy();
    const dana = container.querySelector("[data-on-call='Dana Whitfield']")!;
    expect(dana.classList.contains("me")).toBe(true);
    expect(dana.textContent).toContain("you");
    expect(container.querySelector("[data-on-call='Marco Rossi']")!.textContent).toContain("not in catalog");
    expect(container.textContent).toContain("next: Lena Fischer from");
    expect(container.querySelector(".level-badge")!.textContent).toBe("L1");

    const incident = container.querySelector("[data-incident='3100']")!;
    expect(incident.classList.contains("triggered")).toBe(true);
    expect(incident.textContent).toContain("Checkout error rate above 5%");
    expect(incident.textContent).toContain("Dana Whitfield");
    expect(screen.getByText("· 2 resolved this week", { exact: false })).toBeTruthy();
    fireEvent.click(screen.getByText("checkout-api", { selector: "button" }));
    expect(onOpenService).toHaveBeenCalledWith("component:default/checkout-api");

    expect(screen.getByText("1 firing")).toBeTruthy();
    const silenced = container.querySelector("[data-alert='DiskSpaceLow']")!;
    expect(silenced.textContent).toContain("Silenced by eva until");
    expect(silenced.textContent).toContain("resize in progress");

    // Links leave the app through the shell, never as anchors the window would follow.
    expect(container.querySelector("a")).toBeNull();
    fireEvent.click(container.querySelector("[data-alert='HighErrorRate'] .external")!);
    expect(onOpenLink).toHaveBeenCalledWith("https://github.com/demo-org/checkout-api/blob/main/docs/runbooks/high-error-rate.md");
    fireEvent.click(screen.getByText("+1 5550100", { selector: "[data-on-call='Dana Whitfield'] button" }));
    expect(onOpenLink).toHaveBeenCalledWith("tel:+15550100");
    fireEvent.click(screen.getByText("Open in PagerDuty"));
    expect(onOpenLink).toHaveBeenCalledWith("https://x.pagerduty.com/incidents/Q1");
  });

  it("renders incident titles, alert texts and silence comments inert", () => {
    const p = panel();
    p.incidents[0].incident.title = XSS;
    p.alerts[0].alert.summary = XSS;
    p.alerts[1].silences[0].comment = XSS;
    p.policies[0].levels[0].now[0].person.name = XSS;
    const { container } = render(<OnCallPanel panel={p} now={Date.now()} onOpenLink={() => undefined} />);
    expect(container.querySelector("img")).toBeNull();
    expect(container.querySelector("script")).toBeNull();
    expect((window as any).__pwned).toBeUndefined();
    expect(container.textContent).toContain(XSS);
  });

  it("says when nobody is on call or paged", () => {
    const p = panel({ policies: [], incidents: [], alerts: [], me_on_call: false, unpaged: ["legacy-reports"] });
    render(<OnCallPanel panel={p} now={Date.now()} onOpenLink={() => undefined} />);
    expect(screen.getByText("No PagerDuty escalation policy covers these services.")).toBeTruthy();
    expect(screen.getByText("Nobody is paged for: legacy-reports")).toBeTruthy();
    expect(screen.getByText("No open incidents.")).toBeTruthy();
    expect(screen.queryByText("You are on call")).toBeNull();
  });
});

describe("OnCall", () => {
  const teams = [
    teamOnCall("payments", { acknowledged: 1 }),
    teamOnCall("checkout", { is_mine: true, triggered: 1, firing_alerts: 2 }),
    teamOnCall("data", { policies: [] }),
  ];

  it("lists every team, the hottest first, and filters to mine", () => {
    const onOpenTeam = vi.fn();
    const { container } = render(<OnCall teams={teams} onOpenTeam={onOpenTeam} />);
    const order = () => [...container.querySelectorAll("[data-on-call-team]")].map((r) => r.getAttribute("data-on-call-team"));
    expect(order()).toEqual(["checkout", "payments", "data"]);
    expect(container.querySelector("[data-on-call-team='data']")!.textContent).toContain("no policy");
    expect(container.querySelector("[data-on-call-team='checkout']")!.textContent).toContain("Dana Whitfield (you)");

    fireEvent.click(screen.getByText("Team"));
    expect(order()).toEqual(["checkout", "data", "payments"]);
    fireEvent.click(screen.getByText("Firing alerts"));
    expect(order()[0]).toBe("checkout");

    fireEvent.click(screen.getByLabelText("My teams"));
    expect(order()).toEqual(["checkout"]);
    fireEvent.click(container.querySelector("[data-on-call-team='checkout'] td:nth-child(2)")!);
    expect(onOpenTeam).toHaveBeenCalledWith("group:default/checkout");
  });
});
