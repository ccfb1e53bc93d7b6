import { fireEvent, render, screen, waitFor } from "@testing-library/preact";
import { describe, expect, it, vi } from "vitest";
import { App } from "./App";
import { fakeIpc, row } from "./test/fixtures";

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
      syncNow: async () => [{ source: "catalog", landed: false, items: 0, problems: ["catalog: 500 Internal Server Error"] }],
    });
    const { container } = render(<App ipc={ipc} />);
    await waitFor(() => expect(container.querySelectorAll(".body .row")).toHaveLength(1));
    services = [row("checkout-api"), row("new-service")];
    handlers.changed.forEach((h) => h());
    await waitFor(() => expect(container.querySelector("[data-service='new-service']")).toBeTruthy());

    fireEvent.click(screen.getByText("Refresh"));
    expect((await screen.findByRole("alert")).textContent).toContain("catalog: 500 Internal Server Error");
  });
});
