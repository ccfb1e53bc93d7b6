import { Modal } from "./Modal";
import { is } from "../lib/shortcuts";
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import type { RunbookAsk, RunbookDocument, RunbookForm, RunbookRow, RunbookRunProgress, WorkflowInput } from "../ipc";
import { ageOf } from "../lib/format";
import { useEscape } from "../lib/keys";
import type { Rendered } from "../lib/markdown";
import { ExternalLink } from "./OnCallPanel";
import { CardFoot } from "./Rollback";

/** Which runbooks to show: a service's, for an incident, an alert or an environment. */
export interface RunbookContext {
  service: string;
  ask: RunbookAsk;
  /** What the list is for, for people: "checkout-api", "incident #3100", "alert HighErrorRate". */
  label: string;
}

export function originText(r: RunbookRow): string | null {
  switch (r.origin.from) {
    case "service":
      return null;
    case "system":
      return `from system ${r.origin.name}`;
    case "team":
      return `from team ${r.origin.name}`;
    case "alert":
      return `alert ${r.origin.name}`;
  }
}

function kindText(r: RunbookRow, now: number): string {
  switch (r.kind.kind) {
    case "link":
      return "page";
    case "markdown":
      return r.cached_at ? `markdown · read ${ageOf(r.cached_at, now)} ago` : "markdown · not read yet";
    case "automated":
      return "automated";
  }
}

function actionText(r: RunbookRow): string {
  return r.kind.kind === "markdown" ? "Read" : r.kind.kind === "automated" ? "Run…" : "Open";
}

interface ListProps {
  rows: RunbookRow[];
  now: number;
  onUse(row: RunbookRow): void;
}

/** A service's runbooks on its page: its own, inherited ones marked, what each does. */
export function RunbookList({ rows, now, onUse }: ListProps) {
  return (
    <section class="card runbooks" aria-label="Runbooks">
      <h3>
        Runbooks <span class="muted small">R to pick one</span>
      </h3>
      {rows.length === 0 ? (
        <p class="warn-text">No runbook: add a link of type runbook to the service, its system or its team.</p>
      ) : (
        <ul class="runbook-list">
          {rows.map((r) => (
            <RunbookItem key={r.template} row={r} now={now} onUse={onUse} />
          ))}
        </ul>
      )}
    </section>
  );
}

function RunbookItem({ row: r, now, onUse, active }: { row: RunbookRow; now: number; onUse(row: RunbookRow): void; active?: boolean }) {
  const origin = originText(r);
  return (
    <li class={`runbook${active ? " active" : ""}`} data-runbook={r.title}>
      <div>
        <strong>{r.title}</strong> <span class="chip">{kindText(r, now)}</span>
        {origin && <span class="chip accent">{origin}</span>}
      </div>
      <div class="muted small runbook-url" title={r.url}>
        {r.url}
      </div>
      {r.unfilled.length > 0 && <div class="warn-text small">Not known here: {r.unfilled.map((u) => `{${u}}`).join(", ")}</div>}
      {r.refused ? (
        <div class="error-text small">{r.refused}</div>
      ) : (
        <button class="primary" onClick={() => onUse(r)}>
          {actionText(r)}
        </button>
      )}
    </li>
  );
}

/** `R`: the context's runbooks, the first one chosen; `Enter` uses it, arrows move, `Esc` closes. */
export function RunbookPicker({ context, now, load, onUse, onClose }: { context: RunbookContext; now: number; load(service: string, ask: RunbookAsk): Promise<RunbookRow[]>; onUse(row: RunbookRow): void; onClose(): void }) {
  const [rows, setRows] = useState<RunbookRow[] | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [active, setActive] = useState(0);
  useEffect(() => {
    load(context.service, context.ask).then(setRows, (e) => setProblem(String(e?.message ?? e)));
  }, [context.service, context.ask.alert, context.ask.incident_id]);
  const latest = useRef({ rows, active, onUse, onClose });
  latest.current = { rows, active, onUse, onClose };
  useLayoutEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const { rows, active, onUse, onClose } = latest.current;
      if (is(e, "close")) onClose();
      else if (is(e, "down")) setActive((i) => Math.min(i + 1, (rows?.length ?? 1) - 1));
      else if (is(e, "up")) setActive((i) => Math.max(i - 1, 0));
      else if (is(e, "open") && rows?.[active] && !rows[active].refused) onUse(rows[active]);
      else return;
      e.preventDefault();
      e.stopPropagation();
    };
    window.addEventListener("keydown", onKey, true);
    return () => window.removeEventListener("keydown", onKey, true);
  }, []);
  return (
    <Modal class="dialog runbook-picker" label={`Runbooks for ${context.label}`} onClose={onClose}>
        <header>
          <h2>Runbooks for {context.label}</h2>
          <button class="close" aria-label="Close" onClick={onClose}>
            ×
          </button>
        </header>
        {problem && <p class="note danger">{problem}</p>}
        {!rows && !problem && <p class="muted">Reading…</p>}
        {rows && rows.length === 0 && <p class="warn-text">No runbook for {context.label}.</p>}
        {rows && rows.length > 0 && (
          <ul class="runbook-list">
            {rows.map((r, i) => (
              <RunbookItem key={r.template} row={r} now={now} onUse={onUse} active={i === active} />
            ))}
          </ul>
        )}
        <footer>
          <span class="muted">↑↓ to choose · Enter to use · Esc to close · launches are recorded in the audit log</span>
        </footer>
    </Modal>
  );
}

/** A markdown runbook, rendered sanitised, with its outline, copy buttons on code and its age. */
export function RunbookViewer({ document: d, now, onRefresh, onOpenLink, onClose }: { document: RunbookDocument; now: number; onRefresh(): void; onOpenLink(url: string): void; onClose(): void }) {
  const [images, setImages] = useState(false);
  // The markdown renderer and sanitiser load on first use, not with the app.
  const [render, setRender] = useState<((markdown: string, images: boolean) => Rendered) | null>(null);
  useEffect(() => {
    import("../lib/markdown").then((m) => setRender(() => m.renderRunbook));
  }, []);
  const rendered = useMemo(() => (render ? render(d.markdown, images) : { html: "", outline: [], blockedImages: 0 }), [render, d.markdown, images]);
  const body = useRef<HTMLDivElement | null>(null);
  useLayoutEffect(() => {
    const root = body.current;
    if (!root) return;
    // Commands are shown and copied, never run.
    root.querySelectorAll("pre").forEach((pre) => {
      const button = document.createElement("button");
      button.className = "copy";
      button.textContent = "Copy";
      button.addEventListener("click", () => {
        navigator.clipboard?.writeText(pre.querySelector("code")?.textContent ?? pre.textContent ?? "");
        button.textContent = "Copied";
      });
      pre.prepend(button);
    });
  }, [rendered.html]);
  useEscape(onClose);
  // Links in a runbook leave the app through the system browser, never inside the window.
  const follow = (e: MouseEvent) => {
    const link = (e.target as HTMLElement).closest("a");
    if (!link) return;
    e.preventDefault();
    const href = link.getAttribute("href");
    if (href?.startsWith("#")) window.document.getElementById(href.slice(1))?.scrollIntoView();
    else if (href) onOpenLink(href);
  };
  return (
    <Modal class="dialog runbook-viewer" label={d.title} onClose={onClose}>
        <header>
          <h2>{d.title}</h2>
          <span class="muted small" data-runbook-age>
            {d.repo}/{d.path} · confirmed by GitHub {ageOf(d.confirmed_at, now)} ago
          </span>
          <button onClick={onRefresh}>Refresh from GitHub</button>
          <ExternalLink url={d.url} label="Open on GitHub" onOpen={onOpenLink} />
          <button class="close" aria-label="Close" onClick={onClose}>
            ×
          </button>
        </header>
        <div class="runbook-columns">
          <nav class="outline" aria-label="Outline">
            {rendered.outline.map((h) => (
              <button key={h.id} class={`link level-${h.level}`} onClick={() => window.document.getElementById(h.id)?.scrollIntoView()}>
                {h.text}
              </button>
            ))}
          </nav>
          <article class="markdown" ref={body} onClick={follow} dangerouslySetInnerHTML={{ __html: rendered.html }} />
        </div>
        {rendered.blockedImages > 0 && !images && (
          <footer>
            <span class="muted">
              {rendered.blockedImages} remote image{rendered.blockedImages === 1 ? "" : "s"} not loaded
            </span>
            <button onClick={() => setImages(true)}>Load images</button>
          </footer>
        )}
    </Modal>
  );
}

/** An automated runbook's inputs as a form; Run dispatches it once. */
export function RunbookRunForm({ form, onRun, onClose }: { form: RunbookForm; onRun(inputs: Record<string, string>): Promise<unknown>; onClose(): void }) {
  const initial = Object.fromEntries(form.inputs.map((i) => [i.name, i.default ?? (i.input_type === "choice" ? i.options[0] : "")]));
  const [values, setValues] = useState<Record<string, string>>(initial);
  const [problem, setProblem] = useState<string | null>(null);
  const [sending, setSending] = useState(false);
  const missing = form.inputs.filter((i) => i.required && !values[i.name]?.trim()).map((i) => i.name);
  useEscape(onClose);
  const run = () => {
    if (sending || missing.length) return;
    setSending(true);
    setProblem(null);
    const given = Object.fromEntries(Object.entries(values).filter(([, v]) => v !== ""));
    onRun(given).then(onClose, (e) => {
      setSending(false);
      setProblem(String(e?.message ?? e));
    });
  };
  const field = (i: WorkflowInput) => {
    const set = (v: string) => setValues((all) => ({ ...all, [i.name]: v }));
    switch (i.input_type) {
      case "choice":
        return (
          <select aria-label={i.name} value={values[i.name]} onInput={(e) => set((e.target as HTMLSelectElement).value)}>
            {i.options.map((o) => (
              <option key={o} value={o}>
                {o}
              </option>
            ))}
          </select>
        );
      case "boolean":
        return <input type="checkbox" aria-label={i.name} checked={values[i.name] === "true"} onClick={(e) => set((e.target as HTMLInputElement).checked ? "true" : "false")} />;
      default:
        return <input aria-label={i.name} type={i.input_type === "number" ? "number" : "text"} value={values[i.name]} placeholder={i.input_type === "environment" ? "environment, e.g. prod" : ""} onInput={(e) => set((e.target as HTMLInputElement).value)} />;
    }
  };
  return (
    <Modal class="dialog runbook-form" label={form.title} onClose={onClose}>
        <header>
          <h2>Run {form.title}</h2>
          <button class="close" aria-label="Cancel" onClick={onClose}>
            ×
          </button>
        </header>
        <p class="muted small">
          {form.repo} · <code>{form.workflow}</code> on <code>{form.git_ref}</code> · dispatched once through GitHub Actions, recorded in the audit log
        </p>
        <div class="inputs">
          {form.inputs.map((i) => (
            <label key={i.name} data-input={i.name}>
              <span>
                <strong>{i.name}</strong>
                {i.required && <span class="warn-text"> *</span>} <span class="chip">{i.input_type}</span>
              </span>
              {field(i)}
              {i.description && <span class="muted small">{i.description}</span>}
            </label>
          ))}
          {form.inputs.length === 0 && <p class="muted">The workflow takes no inputs.</p>}
        </div>
        {problem && (
          <p class="note danger" role="alert">
            {problem}
          </p>
        )}
        <footer>
          <span class="muted">{missing.length ? `Required: ${missing.join(", ")}` : "Esc to cancel"}</span>
          <button onClick={onClose}>Cancel</button>
          <button class="danger-button" data-run disabled={sending || missing.length > 0} onClick={run}>
            {sending ? "Dispatching…" : "Run"}
          </button>
        </footer>
    </Modal>
  );
}

/** Automated runbooks' runs, live, until dismissed. */
export function RunbookRuns({ runs, now, onOpenLink, onDismiss }: { runs: RunbookRunProgress[]; now: number; onOpenLink(url: string): void; onDismiss(key: string): void }) {
  return (
    <>
      {runs.map((r) => {
        const tone = !r.finished ? "accent" : r.status === "success" ? "ok" : "danger";
        return (
          <section key={r.key} class={`rollback-card tone-${tone}`} data-runbook-run={r.key} data-status={r.status}>
            <header>
              <strong>
                {r.title} · {r.service.name}
              </strong>
              <span class={`chip ${tone}`}>{r.finished ? r.status.replace("_", " ") : r.status === "queued" ? "queued" : "running"}</span>
              {r.finished && (
                <button class="close" aria-label="Dismiss" onClick={() => onDismiss(r.key)}>
                  ×
                </button>
              )}
            </header>
            <CardFoot message={r.message} startedAt={r.started_at} link={r.link} linkLabel="logs" now={now} onOpenLink={onOpenLink} />
          </section>
        );
      })}
    </>
  );
}
