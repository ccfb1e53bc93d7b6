import { Modal } from "./Modal";
import { targetTag, useConfirmKeys } from "../lib/keys";
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import type { RollbackConfirmation, RollbackPlan, RollbackProgress, RollbackState } from "../ipc";
import { ageOf, shortSha } from "../lib/format";
import { ExternalLink } from "./OnCallPanel";

/** What the user asked to roll back. */
export interface RollbackAsk {
  /** The service's cache key. */
  service: string;
  /** Its name, for the heading. */
  name: string;
  environment: string;
}

interface DialogProps {
  ask: RollbackAsk;
  now: number;
  /** Plans it (the cache plus one fresh read of the platform; nothing changes). */
  plan(service: string, environment: string, to: string | null): Promise<RollbackPlan>;
  /** Confirms the plan; resolves once the platform answered the call. */
  confirm(confirmation: RollbackConfirmation): Promise<RollbackProgress>;
  onStarted(progress: RollbackProgress): void;
  onClose(): void;
}

/** The one confirmation a rollback takes: what runs, what it goes back to, what it undoes, who
 *  is on call, the exact call, and anything in the way. */
export function RollbackDialog({ ask, now, plan: loadPlan, confirm, onStarted, onClose }: DialogProps) {
  const [plan, setPlan] = useState<RollbackPlan | null>(null);
  const [to, setTo] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [typed, setTyped] = useState("");
  const [reason, setReason] = useState("");
  const [disableAutoSync, setDisableAutoSync] = useState(false);
  const [sending, setSending] = useState(false);
  const typedRef = useRef<HTMLInputElement | null>(null);

  useEffect(() => {
    setPlan(null);
    setProblem(null);
    loadPlan(ask.service, ask.environment, to).then(setPlan, (e) => setProblem(String(e?.message ?? e)));
  }, [ask.service, ask.environment, to]);

  const confirmRef = useRef<HTMLButtonElement | null>(null);
  // Where the keyboard goes once the plan is read: the name to type when it needs one, else
  // the confirmation, so Enter confirms whatever control the dialog opened on. Before paint, so
  // a key that sees the plan on screen also finds the keyboard where it belongs.
  useLayoutEffect(() => {
    if (plan?.needs_override) typedRef.current?.focus();
    else if (plan) confirmRef.current?.focus();
  }, [plan]);

  const blocking = (plan?.blockers ?? []).filter((b) => !(b.resolvable && disableAutoSync));
  const nameOk = !plan?.needs_override || typed.trim() === plan.service.name;
  const ready = !!plan && !!plan.target && blocking.length === 0 && nameOk && !sending;

  const send = () => {
    if (!plan || !ready) return;
    setSending(true);
    setProblem(null);
    confirm({
      key: plan.key,
      typed_service: plan.needs_override ? typed.trim() : null,
      disable_automated_sync: disableAutoSync,
      reason: reason.trim() || null,
    }).then(
      (progress) => {
        onStarted(progress);
        onClose();
      },
      (e) => {
        setSending(false);
        setProblem(String(e?.message ?? e));
      },
    );
  };

  useConfirmKeys(ready, send, onClose, (e) => !["SELECT", "BUTTON", "SUMMARY"].includes(targetTag(e)));

  const changes = plan?.changes;
  return (
    <Modal class="dialog rollback" label={`Roll back ${ask.name} in ${ask.environment}`} onClose={onClose} startFocus="dialog">
        <header>
          <h2>
            Roll back <strong>{ask.name}</strong> in <span class="chip env">{ask.environment}</span>
          </h2>
          <button class="close" aria-label="Cancel" onClick={onClose}>
            ×
          </button>
        </header>
        {!plan && !problem && <p class="muted">Planning: reading the cache and the platform…</p>}
        {plan && (
          <div class="plan" data-plan={plan.key}>
            <div class="versions">
              <div>
                <div class="label">Runs now</div>
                <div class="version from">{plan.current?.version ?? "–"}</div>
                <div class="muted">
                  {plan.current && (
                    <>
                      <code>{shortSha(plan.current.commit)}</code> · {ageOf(plan.current.started_at, now)} ago
                    </>
                  )}
                </div>
              </div>
              <div class="arrow" aria-hidden="true">
                →
              </div>
              <div>
                <div class="label">Goes back to</div>
                {plan.candidates.length > 1 ? (
                  <select
                    class="version to"
                    aria-label="Target version"
                    value={plan.target?.version ?? ""}
                    // `input`, not `change`: preact/compat (loaded for the virtual list) maps
                    // onChange to input events, which browsers fire for a select too.
                    onInput={(e) => setTo((e.target as HTMLSelectElement).value)}
                  >
                    {plan.candidates.map((c) => (
                      <option key={c.version} value={c.version}>
                        {c.version}
                      </option>
                    ))}
                  </select>
                ) : (
                  <div class="version to">{plan.target?.version ?? "–"}</div>
                )}
                <div class="muted">
                  {plan.target && (
                    <>
                      <code>{shortSha(plan.target.commit)}</code> · last healthy here {ageOf(plan.target.deployed_at, now)} ago
                    </>
                  )}
                </div>
              </div>
            </div>
            <dl class="facts">
              <dt>Through</dt>
              <dd>
                {plan.executor_label}
                {plan.source && <span class="muted"> (source {plan.source})</span>}
              </dd>
              <dt>On call</dt>
              <dd>{plan.on_call.length ? plan.on_call.join(", ") : <span class="muted">nobody known</span>}</dd>
              <dt>Undoes</dt>
              <dd>
                {changes ? (
                  <>
                    {changes.total_commits} commits
                    <ul class="commits">
                      {changes.commits.slice(0, 6).map((c) => (
                        <li key={c.sha}>
                          <code>{shortSha(c.sha)}</code> {c.title}
                        </li>
                      ))}
                      {changes.commits.length > 6 && <li class="muted">and {changes.total_commits - 6} more</li>}
                    </ul>
                  </>
                ) : (
                  <span class="muted">{plan.changes_problem ?? "commits not known"}</span>
                )}
              </dd>
            </dl>
            {plan.warnings.map((w) => (
              <p key={w} class="note warn" role="note">
                {w}
              </p>
            ))}
            {plan.automated_sync && (
              <label class="consent">
                <input type="checkbox" checked={disableAutoSync} onChange={(e) => setDisableAutoSync((e.target as HTMLInputElement).checked)} />
                Switch automated sync off first (one more call, shown below)
              </label>
            )}
            {blocking.length > 0 && (
              <ul class="blockers" role="alert">
                {blocking.map((b) => (
                  <li key={b.kind + b.message}>{b.message}</li>
                ))}
              </ul>
            )}
            {plan.needs_override && (
              <div class="override">
                <label>
                  None of your teams owns <strong>{plan.service.name}</strong> and you are not on call for it. Type its name to confirm:
                  <input ref={typedRef} value={typed} onInput={(e) => setTyped((e.target as HTMLInputElement).value)} placeholder={plan.service.name} aria-label="Service name" />
                </label>
                <label>
                  Why (recorded in the audit log):
                  <input value={reason} onInput={(e) => setReason((e.target as HTMLInputElement).value)} aria-label="Reason" />
                </label>
              </div>
            )}
            <details class="calls">
              <summary>
                {plan.calls.length} call{plan.calls.length === 1 ? "" : "s"} will be made
              </summary>
              {plan.calls.map((c) => (
                <div key={c.url + c.method} class="call">
                  <div>
                    <strong>{c.method}</strong> <code>{c.url}</code>
                  </div>
                  <div class="muted">{c.purpose}</div>
                  <pre>{c.body}</pre>
                </div>
              ))}
            </details>
          </div>
        )}
        {problem && (
          <p class="note danger" role="alert">
            {problem}
          </p>
        )}
        <footer>
          <span class="muted">Enter to confirm · Esc to cancel · recorded in the audit log</span>
          <button onClick={onClose}>Cancel</button>
          <button ref={confirmRef} class="danger-button" disabled={!ready} onClick={send} data-confirm>
            {sending ? "Rolling back…" : `Roll back to ${plan?.target?.version ?? "…"}`}
          </button>
        </footer>
    </Modal>
  );
}

const STEPS: { state: RollbackState; label: string }[] = [
  { state: "requested", label: "Requested" },
  { state: "accepted", label: "Accepted" },
  { state: "in_progress", label: "Rolling out" },
  { state: "succeeded", label: "Healthy" },
];

const FINAL: RollbackState[] = ["succeeded", "failed", "timed_out"];

const STATE_LABELS: Record<RollbackState, string> = {
  requested: "requested",
  accepted: "accepted",
  in_progress: "rolling out",
  succeeded: "healthy",
  failed: "failed",
  unknown: "unknown — re-reading",
  timed_out: "timed out",
};

/** Rollbacks in flight and just finished, live, until dismissed. */
export function RollbackPanel({ rollbacks, now, onOpenLink, onDismiss }: { rollbacks: RollbackProgress[]; now: number; onOpenLink(url: string): void; onDismiss(key: string): void }) {
  return (
    <>
      {rollbacks.map((r) => {
        const done = FINAL.includes(r.state);
        const reached = STEPS.findIndex((s) => s.state === r.state);
        const tone = r.state === "succeeded" ? "ok" : r.state === "failed" || r.state === "timed_out" ? "danger" : r.state === "unknown" ? "warn" : "accent";
        return (
          <section key={r.key} class={`rollback-card tone-${tone}`} data-rollback={r.key} data-state={r.state}>
            <header>
              <strong>
                {r.service.name} · {r.environment}
              </strong>
              <span class={`chip ${tone}`}>{STATE_LABELS[r.state]}</span>
              {done && (
                <button class="close" aria-label="Dismiss" onClick={() => onDismiss(r.key)}>
                  ×
                </button>
              )}
            </header>
            <div class="route">
              <code>{r.from_version ?? "?"}</code> → <code>{r.to_version}</code> <span class="muted">via {r.executor_label}</span>
            </div>
            <ol class="steps">
              {STEPS.map((s, i) => (
                <li key={s.state} class={i < reached || r.state === "succeeded" ? "done" : i === reached ? "now" : ""}>
                  {s.label}
                </li>
              ))}
            </ol>
            <CardFoot message={r.message} startedAt={r.started_at} link={r.link} linkLabel="open" now={now} onOpenLink={onOpenLink} />
          </section>
        );
      })}
    </>
  );
}

/** The foot of an action's card in the panel: what happened last, since when, and its page. */
export function CardFoot({ message, startedAt, link, linkLabel, now, onOpenLink }: { message: string; startedAt: string; link: string | null; linkLabel: string; now: number; onOpenLink(url: string): void }) {
  return (
    <>
      <div class="message">{message}</div>
      <div class="muted small">
        started {ageOf(startedAt, now)} ago
        {link && (
          <>
            {" · "}
            <ExternalLink url={link} label={linkLabel} onOpen={onOpenLink} />
          </>
        )}
      </div>
    </>
  );
}
