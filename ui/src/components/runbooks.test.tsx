import { fireEvent, render, screen, waitFor } from "@testing-library/preact";
import { describe, expect, it, vi } from "vitest";
import { App } from "../App";
import { renderRunbook } from "../lib/markdown";
import { fakeIpc, RUNBOOK_MARKDOWN, runbookRows, runbookRun } from "../test/fixtures";
import { RunbookList, RunbookPicker, RunbookRunForm, RunbookViewer } from "./Runbooks";

/** Markdown that tries to run code, load things or leave the app. */
const XSS_PAYLOADS = [
  `<script>window.__pwned = 1</script>`,
  `<img src=x onerror="window.__pwned = 2">`,
  `<img src="https://evil.example/track.png" alt="tracker">`,
  `[click](javascript:window.__pwned=3)`,
  `[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)`,
  `<a href="JaVaScRiPt:window.__pwned=4">x</a>`,
  `<svg onload="window.__pwned=5"><script>window.__pwned=6</script></svg>`,
  `<svg><a xlink:href="javascript:window.__pwned=7"><text>x</text></a></svg>`,
  `<math><mtext><table><mglyph><style><img src=x onerror="window.__pwned=8">`,
  `<iframe src="javascript:window.__pwned=9"></iframe>`,
  `<div style="background:url(javascript:window.__pwned=10)">styled</div>`,
  `<form action="https://evil.example"><input name=q><button>go</button></form>`,
  `<a href="https://ok.example" onclick="window.__pwned=11" target="_blank">ok</a>`,
  `![pixel](https://evil.example/pixel.gif)`,
  `<object data="javascript:window.__pwned=12"></object><embed src="x.swf">`,
  `<details open ontoggle="window.__pwned=13">x</details>`,
  // Beacons: each would fetch from evil.example before anyone consented.
  `<video poster="https://evil.example/poster.png" src="https://evil.example/v.mp4"></video>`,
  `<audio src="https://evil.example/a.mp3" autoplay></audio>`,
  `<table background="https://evil.example/bg.png"><tr><td background="https://evil.example/td.png">x</td></tr></table>`,
  `<img srcset="https://evil.example/set.png 1x, https://evil.example/set2.png 2x">`,
  `<picture><source srcset="https://evil.example/p.webp"><img src="https://evil.example/p.png"></picture>`,
  `<svg><image href="https://evil.example/svg.png" /><image xlink:href="https://evil.example/x.png" /></svg>`,
  `<div style="background-image: url(https://evil.example/css.png)">styled</div>`,
  `<style>body { background: url(https://evil.example/sheet.png) }</style>`,
  `<link rel="stylesheet" href="https://evil.example/s.css"><link rel="prefetch" href="https://evil.example/pre">`,
  `<input type="image" src="https://evil.example/input.png">`,
  `<body background="https://evil.example/body.png">`,
  `<object data="https://evil.example/o.pdf"></object><embed src="https://evil.example/e.swf">`,
  `<meta http-equiv="refresh" content="0;url=https://evil.example/">`,
  `<base href="https://evil.example/"><a href="relative">relative</a>`,
];

describe("runbook markdown", () => {
  it("renders headings as an outline and keeps code as text", () => {
    const { html, outline } = renderRunbook(RUNBOOK_MARKDOWN, false);
    expect(outline.map((h) => [h.level, h.text])).toEqual([
      [1, "High error rate on checkout-api"],
      [2, "1. Look first"],
      [2, "2. Roll back"],
    ]);
    expect(html).toContain(`id="${outline[1].id}"`);
    expect(html).toContain("<code");
    expect(html).toContain("opsdeck rollback checkout-api --env prod");
  });

  it.each(XSS_PAYLOADS)("renders %s inert", (payload) => {
    const { html } = renderRunbook(`# Runbook\n\n${payload}\n`, false);
    const holder = document.createElement("div");
    holder.innerHTML = html;
    document.body.appendChild(holder);
    expect((window as unknown as { __pwned?: number }).__pwned).toBeUndefined();
    expect(holder.querySelector("script, iframe, object, embed, form, input, svg, math, style")).toBeNull();
    holder.querySelectorAll("*").forEach((el) => {
      for (const attr of Array.from(el.attributes)) {
        expect(attr.name.startsWith("on"), `${el.tagName} ${attr.name}`).toBe(false);
        expect(attr.name).not.toBe("style");
        expect(/^\s*(javascript|data|vbscript):/i.test(attr.value), `${el.tagName} ${attr.name}=${attr.value}`).toBe(false);
      }
    });
    expect(holder.querySelector("img")).toBeNull();
    // Nothing that fetches names the remote host; only a link may, and it fetches on a click.
    holder.querySelectorAll("*").forEach((el) => {
      for (const attr of Array.from(el.attributes)) {
        if (el.tagName === "A" && attr.name === "href") continue;
        expect(attr.value, `${el.tagName} ${attr.name}`).not.toContain("evil.example");
      }
    });
    expect(holder.querySelector("video, audio, picture, source, link, meta, base, image, table[background], td[background]")).toBeNull();
    holder.remove();
  });

  it("loads remote images only when the reader allows them, and never other schemes", () => {
    const text = "![a](https://cdn.example/a.png) ![b](data:image/png;base64,AAAA) ![c](file:///etc/x.png)";
    expect(renderRunbook(text, false).blockedImages).toBe(3);
    const allowed = renderRunbook(text, true);
    expect(allowed.blockedImages).toBe(2);
    expect(allowed.html).toContain('src="https://cdn.example/a.png"');
  });
});

describe("RunbookList and RunbookPicker", () => {
  it("shows each runbook's kind, where it comes from, what it lacks, and refuses what cannot open", () => {
    const onUse = vi.fn();
    const { container } = render(<RunbookList rows={runbookRows()} now={Date.now()} onUse={onUse} />);
    const text = container.textContent!;
    expect(text).toContain("markdown · read 2h00m ago");
    expect(text).toContain("from team checkout");
    expect(text).toContain("Not known here: {incident_id}");
    const mail = container.querySelector("[data-runbook='Mail']")!;
    expect(mail.textContent).toContain("only over http or https");
    expect(mail.querySelector("button")).toBeNull();
    fireEvent.click(screen.getByText("Run…"));
    expect(onUse.mock.calls[0][0].title).toBe("Drain a region (automated)");
  });

  it("Enter uses the first runbook, arrows choose another, Escape closes", async () => {
    const onUse = vi.fn();
    const onClose = vi.fn();
    const load = vi.fn().mockResolvedValue(runbookRows());
    render(<RunbookPicker context={{ service: "component:default/checkout-api", ask: { incident_id: "Q1", alert: null, environment: null }, label: "incident #3100" }} now={Date.now()} load={load} onUse={onUse} onClose={onClose} />);
    await waitFor(() => expect(screen.getByText("Runbooks for incident #3100")).toBeTruthy());
    await waitFor(() => expect(screen.getByText("High error rate runbook")).toBeTruthy());
    expect(load.mock.calls[0][1].incident_id).toBe("Q1");
    fireEvent.keyDown(window, { key: "Enter" });
    expect(onUse.mock.calls[0][0].title).toBe("Runbook");
    fireEvent.keyDown(window, { key: "ArrowDown" });
    fireEvent.keyDown(window, { key: "Enter" });
    expect(onUse.mock.calls[1][0].title).toBe("High error rate runbook");
    fireEvent.keyDown(window, { key: "Escape" });
    expect(onClose).toHaveBeenCalled();
  });
});

describe("RunbookViewer", () => {
  it("shows the age, an outline, copy buttons on code, and sends links to the browser", async () => {
    const onOpenLink = vi.fn();
    const onRefresh = vi.fn();
    const writeText = vi.fn().mockResolvedValue(undefined);
    Object.assign(navigator, { clipboard: { writeText } });
    const document = {
      title: "High error rate runbook",
      url: "https://github.com/demo-org/checkout-api/blob/main/docs/runbooks/high-error-rate.md",
      repo: "demo-org/checkout-api",
      path: "docs/runbooks/high-error-rate.md",
      markdown: RUNBOOK_MARKDOWN,
      confirmed_at: new Date(Date.now() - 7_200_000).toISOString(),
    };
    const { container } = render(<RunbookViewer document={document} now={Date.now()} onRefresh={onRefresh} onOpenLink={onOpenLink} onClose={vi.fn()} />);
    expect(container.querySelector("[data-runbook-age]")!.textContent).toContain("confirmed by GitHub 2h00m ago");
    await waitFor(() => expect(container.querySelector("pre .copy")).toBeTruthy());
    expect([...container.querySelectorAll(".outline button")].map((b) => b.textContent)).toEqual(["High error rate on checkout-api", "1. Look first", "2. Roll back"]);
    fireEvent.click(container.querySelector("pre .copy")!);
    expect(writeText).toHaveBeenCalledWith("opsdeck rollback checkout-api --env prod\n");
    fireEvent.click(screen.getByText("dashboard"));
    expect(onOpenLink).toHaveBeenCalledWith("https://grafana.demo.opsdeck.dev/d/checkout-api");
    fireEvent.click(screen.getByText("Refresh from GitHub"));
    expect(onRefresh).toHaveBeenCalled();
  });
});

describe("RunbookRunForm", () => {
  it("asks for required inputs by their types and runs once", async () => {
    const { ipc } = fakeIpc();
    const form = await ipc.runbookForm("component:default/checkout-api", "https://github.com/demo-org/checkout-api/actions/workflows/drain-region.yml", { incident_id: null, alert: null, environment: null });
    const onRun = vi.fn().mockResolvedValue(runbookRun());
    const onClose = vi.fn();
    const { container } = render(<RunbookRunForm form={form} onRun={onRun} onClose={onClose} />);
    const run = container.querySelector("[data-run]") as HTMLButtonElement;
    expect(container.textContent).toContain("Required: environment");
    expect(run.disabled).toBe(true);
    expect((screen.getByLabelText("region") as HTMLSelectElement).value).toBe("eu-west-1");
    expect((screen.getByLabelText("dry_run") as HTMLInputElement).checked).toBe(true);
    fireEvent.input(screen.getByLabelText("environment"), { target: { value: "prod" } });
    fireEvent.input(screen.getByLabelText("region"), { target: { value: "us-east-1" } });
    expect(run.disabled).toBe(false);
    fireEvent.click(run);
    fireEvent.click(run);
    await waitFor(() => expect(onClose).toHaveBeenCalled());
    expect(onRun).toHaveBeenCalledTimes(1);
    expect(onRun.mock.calls[0][0]).toEqual({ region: "us-east-1", dry_run: "true", environment: "prod" });
  });
});

describe("App and runbooks", () => {
  it("R on a service page lists its runbooks; markdown opens in the viewer; a run shows in the panel", async () => {
    const { ipc, handlers, calls } = fakeIpc();
    const { container } = render(<App ipc={ipc} />);
    await waitFor(() => expect(container.querySelector("[data-service='checkout-api']")).toBeTruthy());
    fireEvent.click(container.querySelector("[data-service='checkout-api']")!);
    await waitFor(() => expect(container.querySelector(".card.runbooks [data-runbook='Runbook']")).toBeTruthy());
    fireEvent.keyDown(window, { key: "r" });
    await waitFor(() => expect(screen.getByRole("dialog", { name: "Runbooks for checkout-api" })).toBeTruthy());
    fireEvent.keyDown(window, { key: "ArrowDown" });
    await waitFor(() => expect(container.querySelector(".runbook-picker .runbook.active")!.getAttribute("data-runbook")).toBe("High error rate runbook"));
    fireEvent.keyDown(window, { key: "Enter" });
    await waitFor(() => expect(container.querySelector(".runbook-viewer")).toBeTruthy());
    expect(calls).toContain("runbookDocument https://github.com/demo-org/checkout-api/blob/main/docs/runbooks/high-error-rate.md false");
    fireEvent.keyDown(window, { key: "Escape" });
    await waitFor(() => expect(container.querySelector(".runbook-viewer")).toBeNull());
    expect(container.querySelector("[data-service-page='checkout-api']")).toBeTruthy();

    fireEvent.click(container.querySelector(".card.runbooks [data-runbook='Drain a region (automated)'] button")!);
    await waitFor(() => expect(container.querySelector(".runbook-form")).toBeTruthy());
    fireEvent.input(screen.getByLabelText("environment"), { target: { value: "prod" } });
    fireEvent.click(container.querySelector("[data-run]")!);
    await waitFor(() => expect(container.querySelector("[data-runbook-run='run-1']")).toBeTruthy());
    handlers.runbook.forEach((h) => h(runbookRun({ status: "success", finished: true, message: "run 7: success", link: "https://github.com/demo-org/checkout-api/actions/runs/7" })));
    await waitFor(() => expect(container.querySelector("[data-runbook-run='run-1']")!.getAttribute("data-status")).toBe("success"));
  });
});
