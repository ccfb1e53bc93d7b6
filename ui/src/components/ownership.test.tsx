import { act, fireEvent, render, screen, waitFor, within } from "@testing-library/preact";
import { describe, expect, it, vi } from "vitest";
import { App } from "../App";
import { fakeIpc, scorecardView, serviceScorecard, tree, XSS } from "../test/fixtures";
import { Scorecard } from "./Scorecard";
import { SelectionMark, Sidebar } from "./Sidebar";

const noop = () => undefined;

describe("the org tree in the sidebar", () => {
  it("shows groups under their parents, folds deeper ones, and counts direct or all below", () => {
    const onSelect = vi.fn();
    const { container } = render(
      <Sidebar teams={tree()} orphanCount={1} sourcesHealth="fresh" triggered={0} mark={new SelectionMark(null)} onSelect={onSelect} />,
    );
    const inTree = () => [...container.querySelectorAll(".tree [data-team]")].map((b) => b.getAttribute("data-team"));
    // Sub-teams sit deeper than the default open depth: folded, with their parent's arrow.
    expect(inTree()).toEqual(["engineering", "checkout", "platform"]);
    const platform = container.querySelector<HTMLElement>(".tree [data-team='platform']")!;
    expect(platform.getAttribute("aria-expanded")).toBe("false");
    fireEvent.click(container.querySelector("[data-fold='platform']")!);
    expect(inTree()).toEqual(["engineering", "checkout", "platform", "platform-build", "platform-runtime"]);
    expect(onSelect).not.toHaveBeenCalled();
    // Indented by depth.
    const indent = (name: string) => container.querySelector<HTMLElement>(`.tree [data-team='${name}']`)!.style.paddingLeft;
    expect([indent("engineering"), indent("platform"), indent("platform-build")]).toEqual(["12px", "26px", "40px"]);

    // A department owns nothing itself; all below, it counts its teams' services and gaps.
    const count = () => container.querySelector(".tree [data-team='engineering'] .team-count")!.textContent;
    expect(count()).toBe("8");
    fireEvent.click(screen.getByRole("button", { name: "direct" }));
    expect(count()).toBe("0");
    expect(container.querySelector(".tree [data-team='engineering'] .team-gaps")).toBeNull();

    // Mine first under its own heading, then the tree holds it too.
    expect(container.querySelector("[data-team='checkout']")!.closest("ul")!.classList.contains("tree")).toBe(false);
    fireEvent.click(container.querySelector("[data-team='scorecards']")!);
    expect(onSelect).toHaveBeenCalledWith({ kind: "scorecards" });
  });
});

describe("the sidebar's mark of the open screen", () => {
  it("moves from the row left to the row picked, in My teams and in the tree alike", () => {
    const mark = new SelectionMark({ kind: "team", key: "group:default/checkout" });
    const { container } = render(<Sidebar teams={tree()} orphanCount={0} sourcesHealth="fresh" triggered={0} mark={mark} onSelect={noop} />);
    const marked = () => [...container.querySelectorAll(".team.selected")].map((b) => b.getAttribute("data-team"));
    expect(marked()).toEqual(["checkout", "checkout"]);
    act(() => mark.set({ kind: "team", key: "group:default/engineering" }));
    expect(marked()).toEqual(["engineering"]);
    act(() => mark.set({ kind: "sources" }));
    expect(marked()).toEqual(["sources"]);
    act(() => mark.set({ kind: "team", key: "group:default/checkout" }));
    expect(marked()).toEqual(["checkout", "checkout"]);
  });
});

describe("a scorecard", () => {
  it("shows a team's level, each service check by check, and how to fix a failing one", async () => {
    const onOpenLink = vi.fn();
    const onExport = vi.fn();
    const load = vi.fn(async (key: string) => serviceScorecard(key));
    const view = scorecardView("group:default/platform-build");
    const { container } = render(
      <Scorecard view={view} now={Date.now()} onOpenTeam={noop} loadService={load} onOpenLink={onOpenLink} onExport={onExport} />,
    );
    expect(container.querySelector(".score-summary [data-level]")!.getAttribute("data-level")).toBe("silver");
    expect(container.querySelector(".score-summary")!.textContent).toContain("83% of checks pass across 2 services");
    const registry = container.querySelector("[data-service='artifact-registry']")!;
    const failing = registry.querySelector("[data-check='rotation']")!;
    expect(failing.classList.contains("fail")).toBe(true);
    expect(failing.getAttribute("title")).toBe("On-call rotation of more than one: 1 person at level 1; wants 2");
    expect(container.querySelector("[data-worse]")!.textContent).toContain("gold → silver, now failing On-call rotation of more than one");

    fireEvent.click(registry);
    const dialog = await screen.findByRole("dialog", { name: "How to fix" });
    await waitFor(() => expect(dialog.querySelector("[data-fix='rotation']")).toBeTruthy());
    expect(load).toHaveBeenCalledWith("component:default/artifact-registry");
    expect(dialog.textContent).toContain("1 of 3 checks fail");
    fireEvent.click(within(dialog).getByText("Edit its catalog file"));
    expect(onOpenLink).toHaveBeenCalledWith("https://github.com/demo-org/platform/edit/main/catalog-info.yaml");

    fireEvent.click(container.querySelector("[data-export='csv']")!);
    fireEvent.click(container.querySelector("[data-export='markdown']")!);
    expect(onExport.mock.calls).toEqual([
      ["ownership", false],
      ["ownership", true],
    ]);
  });

  it("keeps untrusted detail text inert and a team without services reads as a dash", () => {
    const view = scorecardView("group:default/platform-build");
    view.services[0].outcomes[2].detail = XSS;
    view.services[0].title = XSS;
    view.teams = [{ key: "group:default/empty", title: "Empty", depth: 1, level: "none", tally: { services: 0, at_level: [], passed: 0, total: 0, failing: {} } }];
    const { container } = render(
      <Scorecard view={view} now={Date.now()} onOpenTeam={noop} loadService={async (k) => serviceScorecard(k)} onOpenLink={noop} onExport={noop} />,
    );
    expect(container.querySelector("img, script")).toBeNull();
    expect((window as any).__pwned).toBeUndefined();
    const empty = container.querySelector("[data-team-row='group:default/empty']")!;
    expect(empty.querySelector("[data-level]")!.getAttribute("data-level")).toBe("—");
    expect(empty.textContent).toContain("—");
  });
});

describe("the team lead's screens in the app", () => {
  it("goes from Scorecards to a team's scorecard, its Team tab and an export", async () => {
    const { ipc, calls } = fakeIpc({ teams: async () => tree() });
    const { container } = render(<App ipc={ipc} />);
    await waitFor(() => expect(container.querySelector(".team.selected")).toBeTruthy());
    expect(container.querySelector(".team.selected")!.getAttribute("data-team")).toBe("checkout");

    fireEvent.click(container.querySelector("[data-team='scorecards']")!);
    await waitFor(() => expect(container.querySelector("[data-team-row='group:default/checkout']")).toBeTruthy());
    expect(calls).toContain("scorecard null true");
    fireEvent.click(within(container.querySelector<HTMLElement>("[data-team-row='group:default/checkout']")!).getByText("Checkout"));
    await waitFor(() => expect(container.querySelector("[data-tab='scorecard'][aria-selected='true']")).toBeTruthy());
    await waitFor(() => expect(calls).toContain("scorecard group:default/checkout true"));

    fireEvent.click(container.querySelector("[data-export='csv']")!);
    await screen.findByText("Report exported to /home/dana/Downloads/opsdeck-ownership.csv");
    expect(calls).toContain("exportReport ownership group:default/checkout false");

    fireEvent.click(container.querySelector("[data-tab='team']")!);
    await waitFor(() => expect(container.querySelector("[data-member='sam-oconnor']")).toBeTruthy());
    // The breadcrumb leads up the tree.
    fireEvent.click(within(container.querySelector<HTMLElement>(".breadcrumb")!).getByText("Engineering"));
    await waitFor(() => expect(container.querySelector(".tree .team.selected")!.getAttribute("data-team")).toBe("engineering"));
  });

  it("shows a service's level on its page; how to fix opens over it and Esc closes only that", async () => {
    const { ipc, calls } = fakeIpc();
    const { container } = render(<App ipc={ipc} />);
    await waitFor(() => expect(container.querySelector("[data-service='checkout-api']")).toBeTruthy());
    fireEvent.click(container.querySelector("[data-service='checkout-api']")!);
    const readiness = await waitFor(() => {
      const found = container.querySelector<HTMLElement>("[data-readiness]");
      expect(found).toBeTruthy();
      return found!;
    });
    expect(readiness.textContent).toBe("silver 1 check fails");
    fireEvent.click(readiness);
    const dialog = await screen.findByRole("dialog", { name: "How to fix" });
    await waitFor(() => expect(dialog.querySelector("[data-fix='rotation']")).toBeTruthy());
    expect(calls).toContain("serviceScorecard component:default/checkout-api");
    fireEvent.keyDown(window, { key: "Escape" });
    await waitFor(() => expect(screen.queryByRole("dialog", { name: "How to fix" })).toBeNull());
    expect(container.querySelector("[data-service-page='checkout-api']")).toBeTruthy();
  });
});
