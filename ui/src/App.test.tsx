import { fireEvent, render, screen, waitFor } from "@testing-library/preact";
import { options } from "preact";
import { describe, expect, it, vi } from "vitest";
import { App } from "./App";
import type { SearchHit } from "./ipc";
import { detail, editable, fakeIpc, row, source } from "./test/fixtures";

/** The app over a cache where Checkout's services answer at once and Payments' when the test says. */
function withPaymentsHeld() {
  let answer: (rows: ReturnType<typeof row>[]) => void = () => {};
  const { ipc } = fakeIpc({
    teamServices: (key) => (key.endsWith("payments") ? new Promise((resolve) => (answer = resolve)) : Promise.resolve([row("checkout-api")])),
  });
  const { container } = render(<App ipc={ipc} />);
  return { container, answerPayments: (rows: ReturnType<typeof row>[]) => answer(rows) };
}

/** How many times `component` renders from now until `stop`, which says. */
function renderCount(component: unknown) {
  let renders = 0;
  const chained = options.diffed;
  options.diffed = (vnode) => {
    if (vnode.type === component) renders += 1;
    chained?.(vnode);
  };
  return {
    stop() {
      options.diffed = chained;
      return renders;
    },
  };
}

describe("App", () => {
  it("opens on my team, switches teams, opens a service and goes back with Escape", async () => {
    const { ipc } = fakeIpc();
    const uiReady = vi.spyOn(ipc, "uiReady");
    const { container } = render(<App ipc={ipc} />);
    await waitFor(() => expect(container.querySelector("[data-service='checkout-api']")).toBeTruthy());
    expect(container.querySelector(".team.selected")!.getAttribute("data-team")).toBe("checkout");
    expect(screen.getByText("My teams")).toBeTruthy();
    await waitFor(() => expect(uiReady).toHaveBeenCalledTimes(1));

    // A team picked is read from the click, once: the page takes the reads the click started.
    // Who the team is (members, what it owns) is read for its Team tab only.
    const teamServices = vi.spyOn(ipc, "teamServices");
    const teamDetail = vi.spyOn(ipc, "team");
    fireEvent.click(container.querySelector("[data-team='payments']")!);
    expect(teamServices).toHaveBeenCalledWith("group:default/payments");
    await waitFor(() => expect(container.querySelector("[data-service='payments-gateway']")).toBeTruthy());
    expect(teamServices).toHaveBeenCalledTimes(1);
    expect(teamDetail).not.toHaveBeenCalled();

    fireEvent.click(container.querySelector("[data-service='payments-gateway']")!);
    await waitFor(() => expect(container.querySelector("[data-service-page='payments-gateway']")).toBeTruthy());
    fireEvent.keyDown(window, { key: "Escape" });
    await waitFor(() => expect(container.querySelector("[data-service='payments-gateway']")).toBeTruthy());

    fireEvent.click(container.querySelector("[data-team='orphans']")!);
    await waitFor(() => expect(container.querySelector("[data-service='legacy-reports']")).toBeTruthy());
  });

  it("keeps each team's filter, order and cursor for Back from a service page and a return to the team", async () => {
    const { ipc } = fakeIpc();
    const { container } = render(<App ipc={ipc} />);
    await waitFor(() => expect(container.querySelector("[data-service='checkout-api']")).toBeTruthy());
    const names = () => [...container.querySelectorAll(".body .row")].map((r) => r.getAttribute("data-service"));
    const active = () => container.querySelector(".body .row.active")?.getAttribute("data-service");
    const filter = () => screen.getByLabelText("Filter services") as HTMLInputElement;
    fireEvent.click(screen.getByRole("columnheader", { name: /Service/ }));
    fireEvent.keyDown(document.body, { key: "ArrowDown" });
    expect(names()).toEqual(["checkout-api", "cart-service"]);
    expect(active()).toBe("cart-service");
    fireEvent.input(filter(), { target: { value: "ca" } });

    fireEvent.click(container.querySelector("[data-service='cart-service']")!);
    await waitFor(() => expect(container.querySelector("[data-service-page='cart-service']")).toBeTruthy());
    fireEvent.keyDown(window, { key: "Escape" });
    await waitFor(() => expect(container.querySelector("[data-service='cart-service']")).toBeTruthy());
    expect(filter().value).toBe("ca");
    expect(names()).toEqual(["cart-service"]);

    // A row opened by a click is where the cursor is on the way back.
    fireEvent.input(filter(), { target: { value: "" } });
    expect(active()).toBe("checkout-api");
    fireEvent.click(container.querySelector("[data-service='cart-service']")!);
    await waitFor(() => expect(container.querySelector("[data-service-page='cart-service']")).toBeTruthy());
    fireEvent.keyDown(window, { key: "Escape" });
    await waitFor(() => expect(active()).toBe("cart-service"));

    // Another team's table is its own; back on Checkout, it is as it was left.
    fireEvent.click(container.querySelector("[data-team='payments']")!);
    await waitFor(() => expect(container.querySelector("[data-service='payments-gateway']")).toBeTruthy());
    expect(filter().value).toBe("");
    fireEvent.click(container.querySelector("[data-team='checkout']")!);
    await waitFor(() => expect(container.querySelector("[data-service='checkout-api']")).toBeTruthy());
    expect(names()).toEqual(["checkout-api", "cart-service"]);
    expect(active()).toBe("cart-service");
  });

  it("shows the team picked last when an earlier team's services answer after it", async () => {
    const { container, answerPayments } = withPaymentsHeld();
    await waitFor(() => expect(container.querySelector("[data-service='checkout-api']")).toBeTruthy());
    fireEvent.click(container.querySelector("[data-team='payments']")!);
    fireEvent.click(container.querySelector("[data-team='orphans']")!);
    await waitFor(() => expect(container.querySelector("[data-service='legacy-reports']")).toBeTruthy());
    answerPayments([row("payments-gateway")]);
    await new Promise((settled) => setTimeout(settled, 20));
    expect(container.querySelector("[data-service='payments-gateway']")).toBeNull();
    expect(container.querySelector("[data-service='legacy-reports']")).toBeTruthy();
  });

  it("does not show the team left under the one picked while the new one's reads are under way", async () => {
    const { container, answerPayments } = withPaymentsHeld();
    await waitFor(() => expect(container.querySelector("[data-service='checkout-api']")).toBeTruthy());
    await waitFor(() => expect(container.querySelector(".on-call-panel")).toBeTruthy());
    fireEvent.click(container.querySelector("[data-team='payments']")!);
    await new Promise((settled) => setTimeout(settled, 20));
    expect(container.querySelector("[data-service='checkout-api']")).toBeNull();
    expect(container.querySelector(".on-call-panel")).toBeNull();
    expect(container.textContent).toContain("Reading the services");
    answerPayments([row("payments-gateway")]);
    await waitFor(() => expect(container.querySelector("[data-service='payments-gateway']")).toBeTruthy());
    expect(container.querySelector(".on-call-panel")).toBeTruthy();
  });

  it("says a team's services could not be read instead of reading them for ever", async () => {
    const { ipc } = fakeIpc({
      teamServices: (key) => (key.endsWith("payments") ? Promise.reject(new Error("database is locked")) : Promise.resolve([row("checkout-api")])),
    });
    const { container } = render(<App ipc={ipc} />);
    await waitFor(() => expect(container.querySelector("[data-service='checkout-api']")).toBeTruthy());
    fireEvent.click(container.querySelector("[data-team='payments']")!);
    await waitFor(() => expect(container.querySelector("[role='alert']")?.textContent).toContain("database is locked"));
    expect(container.textContent).toContain("No services.");
    expect(container.textContent).not.toContain("Reading the services");
  });

  it("shows the service opened last when an earlier service's page answers after it", async () => {
    let answerCheckout: (view: ReturnType<typeof detail>) => void = () => {};
    const { ipc } = fakeIpc({
      service: (key) => (key.endsWith("checkout-api") ? new Promise((resolve) => (answerCheckout = resolve)) : Promise.resolve(detail(key.split("/")[1]))),
    });
    const { container } = render(<App ipc={ipc} />);
    await waitFor(() => expect(container.querySelector("[data-service='cart-service']")).toBeTruthy());
    fireEvent.click(container.querySelector("[data-service='checkout-api']")!);
    fireEvent.keyDown(window, { key: "Escape" });
    await waitFor(() => expect(container.querySelector("[data-service='cart-service']")).toBeTruthy());
    fireEvent.click(container.querySelector("[data-service='cart-service']")!);
    await waitFor(() => expect(container.querySelector("[data-service-page='cart-service']")).toBeTruthy());
    answerCheckout(detail("checkout-api"));
    await new Promise((settled) => setTimeout(settled, 20));
    expect(container.querySelector("[data-service-page='checkout-api']")).toBeNull();
    expect(container.querySelector("[data-service-page='cart-service']")).toBeTruthy();
  });

  it("does not show the service left under the one opened from its page while the new one's reads are under way", async () => {
    let answerCheckout: (view: ReturnType<typeof detail>) => void = () => {};
    const checkout = { key: "component:default/checkout-api", kind: "component", name: "checkout-api", title: "checkout-api", exists: true };
    const { ipc } = fakeIpc({
      service: (key) =>
        key.endsWith("checkout-api") ? new Promise((resolve) => (answerCheckout = resolve)) : Promise.resolve(detail(key.split("/")[1], { depends_on: [checkout] })),
    });
    const { container } = render(<App ipc={ipc} />);
    await waitFor(() => expect(container.querySelector("[data-service='cart-service']")).toBeTruthy());
    fireEvent.click(container.querySelector("[data-service='cart-service']")!);
    // What it depends on is drawn after the page's first frame.
    await waitFor(() => expect(container.querySelector(`[data-entity='${checkout.key}']`)).toBeTruthy());
    fireEvent.click(container.querySelector(`[data-entity='${checkout.key}']`)!);
    await new Promise((settled) => setTimeout(settled, 20));
    expect(container.querySelector("[data-service-page='cart-service']")).toBeNull();
    answerCheckout(detail("checkout-api"));
    await waitFor(() => expect(container.querySelector("[data-service-page='checkout-api']")).toBeTruthy());
  });

  it("opens a service again on what it reads then, not on what its last visit showed", async () => {
    let title = "Checkout before the sync";
    let answer: ((view: ReturnType<typeof detail>) => void) | null = null;
    const { ipc, handlers } = fakeIpc({
      service: (key) => (answer === null ? Promise.resolve(detail(key.split("/")[1], { title })) : new Promise((resolve) => (answer = resolve))),
    });
    const { container } = render(<App ipc={ipc} />);
    await waitFor(() => expect(container.querySelector("[data-service='checkout-api']")).toBeTruthy());
    fireEvent.click(container.querySelector("[data-service='checkout-api']")!);
    await waitFor(() => expect(container.querySelector(".service-page h1")?.textContent).toBe(title));
    fireEvent.keyDown(window, { key: "Escape" });
    await waitFor(() => expect(container.querySelector("[data-service='checkout-api']")).toBeTruthy());
    handlers.changed.forEach((h) => h());
    await new Promise((settled) => setTimeout(settled, 20));
    title = "Checkout after the sync";
    answer = () => {};
    fireEvent.click(container.querySelector("[data-service='checkout-api']")!);
    await new Promise((settled) => setTimeout(settled, 20));
    expect(container.querySelector("[data-service-page]")).toBeNull();
    answer!(detail("checkout-api", { title }));
    await waitFor(() => expect(container.querySelector(".service-page h1")?.textContent).toBe(title));
  });

  it("welcomes a first run with the demo or the user's platforms, and labels the demo on every screen", async () => {
    localStorage.clear();
    const launch = { demo: true, first_run: true, config_path: "/home/dana/.config/opsdeck/opsdeck.toml" };
    const { ipc } = fakeIpc({ launchInfo: async () => launch });
    const first = render(<App ipc={ipc} />);
    await waitFor(() => expect(first.container.querySelector("[data-welcome='choose']")).toBeTruthy());
    expect(first.container.querySelector(".sidebar")).toBeNull();
    fireEvent.click(first.container.querySelector("[data-choice='connect']")!);
    const steps = first.container.querySelector("[data-connect-steps]")!;
    expect(steps.textContent).toContain("keychain");
    expect(steps.textContent).toContain("/home/dana/.config/opsdeck/opsdeck.toml");
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

  it("connects from the welcome through the sources editor: a wrong token's 401 in words, fixed, saved, the token not kept", async () => {
    localStorage.clear();
    const launch = { demo: true, first_run: true, config_path: "/home/dana/.config/opsdeck/opsdeck.toml" };
    const { ipc, calls, handlers } = fakeIpc({ launchInfo: async () => launch });
    const { container } = render(<App ipc={ipc} />);
    await waitFor(() => expect(container.querySelector("[data-welcome='choose']")).toBeTruthy());
    fireEvent.click(container.querySelector("[data-choice='connect']")!);
    fireEvent.click(container.querySelector("[data-connect]")!);
    const editor = await screen.findByRole("dialog", { name: "Add a source" });
    const field = (name: string) => editor.querySelector<HTMLInputElement>(`[data-field='${name}']`)!;
    expect(field("kind").value).toBe("pagerduty");
    expect(field("name").value).toBe("pagerduty");
    expect(field("token").type).toBe("password");
    fireEvent.input(field("url"), { target: { value: "https://api.pagerduty.com" } });
    fireEvent.input(field("token"), { target: { value: "wrong" } });
    fireEvent.click(editor.querySelector("[data-test-draft]")!);
    await waitFor(() => expect(editor.querySelector("[data-draft-checked='false']")).toBeTruthy());
    expect(editor.textContent).toContain("401 Unauthorized: the token was refused");
    fireEvent.input(field("token"), { target: { value: "right" } });
    fireEvent.click(editor.querySelector("[data-test-draft]")!);
    await waitFor(() => expect(editor.querySelector("[data-draft-checked='true']")).toBeTruthy());
    expect(editor.textContent).toContain("signed in as Dana Whitfield");
    // A name another source has is refused before anything is sent.
    fireEvent.input(field("name"), { target: { value: "catalog" } });
    expect(editor.textContent).toContain("Another source is named catalog");
    expect(editor.querySelector<HTMLButtonElement>("[data-save]")!.disabled).toBe(true);
    fireEvent.input(field("name"), { target: { value: "paging" } });
    fireEvent.click(editor.querySelector("[data-save]")!);
    await waitFor(() => expect(screen.queryByRole("dialog", { name: "Add a source" })).toBeNull());
    expect(calls).toContain("checkDraft pagerduty wrong");
    expect(calls).toContain("saveSource - paging https://api.pagerduty.com right");
    // The engine left the demo: the label goes, and the screens read the new cache.
    handlers.launch.forEach((h) => h({ ...launch, demo: false, first_run: false }));
    handlers.changed.forEach((h) => h());
    await waitFor(() => expect(container.querySelector("[data-demo]")).toBeNull());
    // Editing again shows where the token is kept, never the token.
    await waitFor(() => expect(container.querySelector("[data-edit='paging']")).toBeTruthy());
    fireEvent.click(container.querySelector("[data-edit='paging']")!);
    const again = await screen.findByRole("dialog", { name: "Edit paging" });
    expect(again.querySelector<HTMLInputElement>("[data-field='token']")!.value).toBe("");
    expect(again.textContent).toContain("keep the token from keychain");
    fireEvent.click(again.querySelector("[aria-label='Close']")!);
  });

  it("reorders and removes sources and confirms the identity a platform knows", async () => {
    const { ipc, calls } = fakeIpc();
    await ipc.saveSource({ previous_name: null, form: editable("pagerduty", "pagerduty", null).form, token: null });
    const { container } = render(<App ipc={ipc} />);
    await waitFor(() => expect(container.querySelector("[data-team='sources']")).toBeTruthy());
    fireEvent.click(container.querySelector("[data-team='sources']")!);
    await waitFor(() => expect(container.querySelector("[data-move-up='pagerduty']")).toBeTruthy());
    expect(container.querySelector<HTMLButtonElement>("[data-move-up='catalog']")!.disabled).toBe(true);
    fireEvent.click(container.querySelector("[data-move-up='pagerduty']")!);
    await waitFor(() => expect(calls).toContain("moveSource pagerduty 0"));
    fireEvent.click(container.querySelector("[data-remove='catalog']")!);
    expect(calls).not.toContain("removeSource catalog");
    fireEvent.click(container.querySelector("[data-confirm-remove='catalog']")!);
    await waitFor(() => expect(calls).toContain("removeSource catalog"));
    expect(container.querySelector("[data-identity-line]")!.textContent).toContain("not set");
    fireEvent.click(container.querySelector("[data-detect-identity]")!);
    await waitFor(() => expect(container.querySelector("[data-use-identity]")).toBeTruthy());
    expect(container.querySelector("[data-identity-line]")!.textContent).toContain("pagerduty knows you as dana@example.com");
    fireEvent.click(container.querySelector("[data-use-identity]")!);
    await waitFor(() => expect(calls).toContain("setIdentity dana@example.com"));
  });

  it("opens the screen an opsdeck:// link names, says why one cannot open, and remembers the last screen", async () => {
    const { ipc, calls, handlers } = fakeIpc();
    const first = render(<App ipc={ipc} />);
    await waitFor(() => expect(first.container.querySelector("[data-service='checkout-api']")).toBeTruthy());
    expect(calls).toContain("openPendingLink");
    handlers.linkFailed.forEach((failed) => failed("opsdeck://service/nowhere: no service 'nowhere' in the cache"));
    await waitFor(() => expect(screen.getByRole("alert").textContent).toContain("That link cannot be opened: opsdeck://service/nowhere"));
    handlers.openScreen.forEach((open) => open({ screen: "team", key: "group:default/payments" }));
    await waitFor(() => expect(first.container.querySelector(".team.selected")!.getAttribute("data-team")).toBe("payments"));
    fireEvent.click(first.container.querySelector("[data-team='sources']")!);
    await waitFor(() => expect(first.container.querySelector("[data-desktop-settings]")).toBeTruthy());
    fireEvent.click(first.container.querySelector("[data-start-at-login]")!);
    await waitFor(() => expect(calls).toContain("setStartAtLogin true"));
    fireEvent.click(first.container.querySelector("[data-keep-running]")!);
    await waitFor(() => expect(calls).toContain("setKeepRunningInTray false"));
    first.unmount();
    // The next launch opens where the last one was.
    const again = render(<App ipc={ipc} />);
    await waitFor(() => expect(again.container.querySelector("[data-desktop-settings]")).toBeTruthy());
    expect(again.container.querySelector(".team.selected")!.getAttribute("data-team")).toBe("sources");
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

  it("reads ahead the page the keyboard rests on, and the page takes those reads unless the cache changed", async () => {
    const { ipc, handlers } = fakeIpc();
    const service = vi.spyOn(ipc, "service");
    const { container } = render(<App ipc={ipc} />);
    await waitFor(() => expect(container.querySelector("[data-service='checkout-api']")).toBeTruthy());

    // The palette's active hit: its team and service are read before Enter, and Enter reads
    // nothing more.
    fireEvent.keyDown(window, { key: "k", ctrlKey: true });
    const input = await screen.findByLabelText("Search");
    fireEvent.input(input, { target: { value: "checkout" } });
    await screen.findByText("owned by checkout (checkout)");
    await waitFor(() => expect(service).toHaveBeenCalledWith("component:default/checkout-api"));
    const teamServices = vi.spyOn(ipc, "teamServices");
    const readsBeforeEnter = service.mock.calls.length;
    fireEvent.keyDown(input, { key: "Enter" });
    await waitFor(() => expect(container.querySelector("[data-service-page='checkout-api']")).toBeTruthy());
    expect(service).toHaveBeenCalledTimes(readsBeforeEnter);
    expect(teamServices).not.toHaveBeenCalled();

    // The table's cursor rests on its first row; once the cache changed, opening it reads again.
    fireEvent.keyDown(window, { key: "Escape" });
    await waitFor(() => expect(container.querySelector("[data-service='cart-service']")).toBeTruthy());
    const first = container.querySelector(".row[data-service]")!.getAttribute("data-service")!;
    await waitFor(() => expect(service).toHaveBeenCalledWith(`component:default/${first}`));
    const readsBeforeChange = service.mock.calls.length;
    handlers.changed.forEach((h) => h());
    await waitFor(() => expect(teamServices).toHaveBeenCalled());
    fireEvent.click(container.querySelector(`[data-service='${first}']`)!);
    await waitFor(() => expect(container.querySelector(`[data-service-page='${first}']`)).toBeTruthy());
    expect(service.mock.calls.length).toBeGreaterThan(readsBeforeChange);
  });

  it("opens a page whose reads answered ahead in the render of the key that opens it", async () => {
    const team: SearchHit = { key: "group:default/payments", kind: "group", name: "payments", title: "Payments", context: "team", team: "group:default/payments" };
    const service: SearchHit = { key: "component:default/cart-service", kind: "component", name: "cart-service", title: "cart-service", context: "owned by checkout", team: "group:default/checkout" };
    const { ipc } = fakeIpc({ search: async (text) => [text === "payments" ? team : service] });
    const teamServices = vi.spyOn(ipc, "teamServices");
    const serviceRead = vi.spyOn(ipc, "service");
    const { container } = render(<App ipc={ipc} />);
    await waitFor(() => expect(container.querySelector("[data-service='checkout-api']")).toBeTruthy());
    // The first change the DOM sees after Enter already holds the page's answer: the page did
    // not render once without it and again when a read answered.
    const firstRender = (seen: () => string[]) =>
      new Promise<string[]>((resolve) => {
        const observer = new MutationObserver(() => {
          observer.disconnect();
          resolve(seen());
        });
        observer.observe(container, { childList: true, subtree: true, attributes: true, characterData: true });
      });
    const pickAfterReadAhead = async (text: string, read: typeof teamServices | typeof serviceRead, key: string) => {
      fireEvent.keyDown(window, { key: "k", ctrlKey: true });
      const input = await screen.findByLabelText("Search");
      fireEvent.input(input, { target: { value: text } });
      await waitFor(() => expect(read).toHaveBeenCalledWith(key));
      await read.mock.results[read.mock.results.length - 1].value;
      return input;
    };

    let input = await pickAfterReadAhead("payments", teamServices, "group:default/payments");
    const rows = firstRender(() => [...container.querySelectorAll(".row[data-service]")].map((r) => r.getAttribute("data-service")!));
    const appRenders = renderCount(App);
    fireEvent.keyDown(input, { key: "Enter" });
    expect(await rows).toEqual(["payments-gateway"]);
    // Nor did the window render again when the page's effect set the same reads.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(appRenders.stop()).toBe(1);

    input = await pickAfterReadAhead("cart", serviceRead, "component:default/cart-service");
    const page = firstRender(() => [...container.querySelectorAll("[data-service-page]")].map((p) => p.getAttribute("data-service-page")!));
    fireEvent.keyDown(input, { key: "Enter" });
    expect(await page).toEqual(["cart-service"]);
  });

  it("builds the team page the palette rests on under the page shown, and Enter brings it up as built", async () => {
    const hit = (name: string, title: string): SearchHit => ({ key: `group:default/${name}`, kind: "group", name, title, context: "team", team: `group:default/${name}` });
    const { ipc } = fakeIpc({ search: async (text) => [text === "payments" ? hit("payments", "Payments") : hit("checkout", "Checkout")] });
    const { container } = render(<App ipc={ipc} />);
    await waitFor(() => expect(container.querySelector("[data-service='checkout-api']")).toBeTruthy());
    fireEvent.click(container.querySelector("[data-service='checkout-api']")!);
    await waitFor(() => expect(container.querySelector("[data-service-page='checkout-api']")).toBeTruthy());

    fireEvent.keyDown(window, { key: "k", ctrlKey: true });
    let input = await screen.findByLabelText("Search");
    fireEvent.input(input, { target: { value: "payments" } });
    await waitFor(() => expect(container.querySelector("[data-built-ahead] [data-service='payments-gateway']")).toBeTruthy());
    const built = container.querySelector<HTMLElement>("[data-built-ahead]")!;
    const shown = container.querySelector("[data-service-page='checkout-api']")!.closest(".page-slot")!;
    // After the page shown in the document (what a query finds first is what is shown).
    expect(shown.nextElementSibling).toBe(built);
    expect(built.getAttribute("aria-hidden")).toBe("true");
    // Its table's cursor rests on a row, whose page is read but not built under the palette.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(container.querySelectorAll(".service-page")).toHaveLength(1);
    const row = built.querySelector(".row[data-service]")!;
    const removed: Node[] = [];
    const observer = new MutationObserver((changes) => changes.forEach((c) => removed.push(...c.removedNodes)));
    observer.observe(container, { childList: true, subtree: true });

    fireEvent.keyDown(input, { key: "Enter" });
    await waitFor(() => expect(container.querySelector("[data-service-page]")).toBeNull());
    expect(container.querySelector("[data-built-ahead] .team-head")).toBeNull();
    expect(container.querySelector(".row[data-service]")).toBe(row);
    expect(built.isConnected && !built.hasAttribute("aria-hidden")).toBe(true);
    expect(built.querySelector("h1")!.textContent).toBe("Payments");
    expect(removed).not.toContain(built);
    expect(removed).toContain(shown);
    expect(container.querySelector(".team.selected")!.getAttribute("data-team")).toBe("payments");

    // Closed without a pick, the page built ahead goes and the page shown stays as it was.
    fireEvent.keyDown(window, { key: "k", ctrlKey: true });
    input = await screen.findByLabelText("Search");
    fireEvent.input(input, { target: { value: "checkout" } });
    await waitFor(() => expect(container.querySelector("[data-built-ahead] [data-service='checkout-api']")).toBeTruthy());
    fireEvent.keyDown(input, { key: "Escape" });
    await waitFor(() => expect(container.querySelector("[data-built-ahead] .team-head")).toBeNull());
    expect(container.querySelector(".row[data-service]")).toBe(row);
    observer.disconnect();
  });

  it("builds the service page the table's cursor rests on under the team page shown, and opening it brings it up as built", async () => {
    const { ipc, handlers } = fakeIpc();
    const { container } = render(<App ipc={ipc} />);
    // The cursor rests on the first row: once it has, that service's page is built.
    await waitFor(() => expect(container.querySelector("[data-built-ahead] .service-page")).toBeTruthy());
    const resting = container.querySelector(".row[data-service]")!;
    const team = resting.closest(".page-slot")!;
    const built = container.querySelector<HTMLElement>("[data-built-ahead]")!;
    // After the page shown in the document (what a query finds first is what is shown), hidden
    // from screen readers, and not the service's page until it is opened.
    expect(team.nextElementSibling).toBe(built);
    expect(built.getAttribute("aria-hidden")).toBe("true");
    expect(built.querySelector("h1")!.textContent).toBe(resting.getAttribute("data-service"));
    expect(container.querySelector("[data-service-page]")).toBeNull();
    const article = built.querySelector(".service-page");
    const removed: Node[] = [];
    const observer = new MutationObserver((changes) => changes.forEach((c) => removed.push(...c.removedNodes)));
    observer.observe(container, { childList: true, subtree: true });

    // A landing reads it again, and it is built again where it is.
    const serviceRead = vi.spyOn(ipc, "service");
    handlers.changed.forEach((changed) => changed());
    await waitFor(() => expect(serviceRead).toHaveBeenCalled());
    await serviceRead.mock.results[0].value;
    expect(container.querySelector("[data-built-ahead] .service-page")).toBe(article);

    fireEvent.click(resting);
    expect(container.querySelector(`[data-service-page='${resting.getAttribute("data-service")}']`)).toBe(article);
    expect(container.querySelector("[data-built-ahead]")).toBeNull();
    expect(built.isConnected && !built.hasAttribute("aria-hidden")).toBe(true);
    await waitFor(() => expect(removed).toContain(team));
    expect(removed).not.toContain(built);
    observer.disconnect();

    // Back on the team page, the page just left is built again under it; the palette, which
    // holds the keyboard, takes it away.
    fireEvent.keyDown(window, { key: "Escape" });
    await waitFor(() => expect(container.querySelector("[data-built-ahead] .service-page")).toBeTruthy());
    fireEvent.keyDown(window, { key: "k", ctrlKey: true });
    await screen.findByLabelText("Search");
    expect(container.querySelector("[data-built-ahead] .service-page")).toBeNull();
  });

  it("re-reads the cache when a sync lands and shows sync failures", async () => {
    let services = [row("checkout-api")];
    const { ipc, handlers } = fakeIpc({
      teamServices: async () => services,
      syncNow: async () => [{ source: "catalog", landed: false, items: 0, rows_written: 0, requests: 4, problems: ["catalog: 500 Internal Server Error"], duration_ms: 120, left_to: null }],
    });
    const { container } = render(<App ipc={ipc} />);
    await waitFor(() => expect(container.querySelectorAll(".body .row")).toHaveLength(1));
    services = [row("checkout-api"), row("new-service")];
    handlers.changed.forEach((h) => h());
    await waitFor(() => expect(container.querySelector("[data-service='new-service']")).toBeTruthy());

    fireEvent.click(screen.getByText("Refresh"));
    expect((await screen.findByRole("alert")).textContent).toContain("catalog: 500 Internal Server Error");
  });

  it("does not call a source another process is syncing a failure", async () => {
    let asked = 0;
    const { ipc } = fakeIpc({
      syncNow: async () => (
        asked++,
        [{ source: "catalog", landed: false, items: 0, rows_written: 0, requests: 0, problems: ["catalog: not synced here: the agent on ops-1 (pid 7) is syncing it, and what it lands shows here"], duration_ms: 1, left_to: "the agent on ops-1 (pid 7)" }]
      ),
    });
    const { container } = render(<App ipc={ipc} />);
    await waitFor(() => expect(container.querySelectorAll(".body .row").length).toBeGreaterThan(0));
    fireEvent.click(screen.getByText("Refresh"));
    await waitFor(() => expect(asked).toBe(1));
    await new Promise((settled) => setTimeout(settled, 50));
    expect(screen.queryByRole("alert")).toBeNull();
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

    handlers.openScreen.forEach((open) => open({ screen: "service", key: "component:default/checkout-api" }));
    await waitFor(() => expect(container.querySelector("[data-service-page='checkout-api']")).toBeTruthy());
    expect(container.querySelector("[data-service-page='checkout-api'] [data-incident='3100']")).toBeTruthy();
  });
});
