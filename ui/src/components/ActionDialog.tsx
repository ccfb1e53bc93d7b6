import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import type { ActionPlan, ActionProgress, ActionRequest, ActionState, Reassignee } from "../ipc";
import { targetTag, useConfirmKeys } from "../lib/keys";
import { Modal } from "./Modal";
import { CardFoot } from "./Rollback";

/** Someone or a level an incident can be handed to. */
export interface ReassignChoice {
  label: string;
  to: Reassignee;
}

interface Props {
  /** What was asked for, with the defaults the page chose (an hour's silence, level 2). */
  request: ActionRequest;
  /** Who the incident can be reassigned to (reassign only). */
  choices?: ReassignChoice[];
  plan(request: ActionRequest): Promise<ActionPlan>;
  confirm(key: string): Promise<ActionProgress>;
  onStarted(progress: ActionProgress): void;
  onClose(): void;
}

const DURATIONS: [number, string][] = [
  [15 * 60, "15 minutes"],
  [30 * 60, "30 minutes"],
  [3600, "1 hour"],
  [2 * 3600, "2 hours"],
  [4 * 3600, "4 hours"],
  [8 * 3600, "8 hours"],
  [24 * 3600, "1 day"],
];

/** The request as it is written to the platform: text fields trimmed, empty ones null. */
function sendable(request: ActionRequest): ActionRequest {
  if (request.kind === "resolve") return { ...request, resolution: request.resolution?.trim() || null };
  if (request.kind === "silence") return { ...request, comment: request.comment?.trim() || null };
  return request;
}

/** Plans an on-call action (the exact call, what stands in its way) and confirms it once:
 *  Enter (Ctrl Enter in a note) to confirm, Esc to cancel. Every change to the form plans it
 *  again, so what is confirmed is what is shown. */
export function ActionDialog({ request: asked, choices = [], plan: loadPlan, confirm, onStarted, onClose }: Props) {
  const [request, setRequest] = useState<ActionRequest>(asked);
  const [plan, setPlan] = useState<ActionPlan | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [sending, setSending] = useState(false);
  const first = useRef<HTMLTextAreaElement | HTMLSelectElement | HTMLInputElement | null>(null);

  useEffect(() => {
    setPlan(null);
    setProblem(null);
    if (request.kind === "note" && !request.text.trim()) return;
    // Typing plans again once the keys pause, not at every key.
    const timer = setTimeout(() => loadPlan(sendable(request)).then(setPlan, (e) => setProblem(String(e?.message ?? e))), request.kind === "note" || request.kind === "silence" || request.kind === "resolve" ? 250 : 0);
    return () => clearTimeout(timer);
  }, [JSON.stringify(request)]);

  const confirmRef = useRef<HTMLButtonElement | null>(null);
  // Text to write has the keyboard first; otherwise the confirmation does once the plan is
  // read, so Enter confirms whatever control the dialog opened on.
  const writes = asked.kind === "note" || asked.kind === "resolve";
  useEffect(() => {
    if (writes) first.current?.focus();
  }, []);
  const ready = !!plan && !plan.blocker && !sending;
  // Only for the first plan: a plan read again while a field is edited leaves the keyboard be.
  const focusedOnce = useRef(false);
  // Before paint, so a key that sees the plan on screen also finds the confirmation focused.
  useLayoutEffect(() => {
    if (!writes && ready && !focusedOnce.current) {
      focusedOnce.current = true;
      confirmRef.current?.focus();
    }
  }, [plan]);
  const send = () => {
    if (!plan || !ready) return;
    setSending(true);
    setProblem(null);
    confirm(plan.key).then(
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

  // In a note, Enter is a new line: Ctrl Enter confirms.
  useConfirmKeys(ready, send, onClose, (e) => !["SELECT", "BUTTON"].includes(targetTag(e)) && (targetTag(e) !== "TEXTAREA" || e.ctrlKey || e.metaKey));

  const title = plan?.title ?? "Planning…";
  return (
    <Modal class="dialog action" label={title} onClose={onClose} startFocus="dialog">
      <header>
        <h2>{title}</h2>
        <button class="close" aria-label="Cancel" onClick={onClose}>
          ×
        </button>
      </header>
      <div class="form">
        {request.kind === "note" && (
          <label>
            Note (added to the incident in PagerDuty)
            <textarea ref={(el) => {
              first.current = el;
            }} rows={4} value={request.text} aria-label="Note" onInput={(e) => setRequest({ ...request, text: (e.target as HTMLTextAreaElement).value })} />
          </label>
        )}
        {request.kind === "resolve" && (
          <label>
            Resolution (optional, in PagerDuty's log)
            <input ref={(el) => {
              first.current = el;
            }} value={request.resolution ?? ""} aria-label="Resolution" onInput={(e) => setRequest({ ...request, resolution: (e.target as HTMLInputElement).value })} />
          </label>
        )}
        {request.kind === "reassign" && (
          <label>
            To
            <select
              ref={(el) => {
              first.current = el;
            }}
              aria-label="Reassign to"
              value={JSON.stringify(request.to)}
              onInput={(e) => setRequest({ ...request, to: JSON.parse((e.target as HTMLSelectElement).value) as Reassignee })}
            >
              {choices.map((c) => (
                <option key={c.label} value={JSON.stringify(c.to)}>
                  {c.label}
                </option>
              ))}
            </select>
          </label>
        )}
        {request.kind === "silence" && (
          <>
            <label>
              For
              <select ref={(el) => {
              first.current = el;
            }} aria-label="Silence for" value={String(request.seconds)} onInput={(e) => setRequest({ ...request, seconds: Number((e.target as HTMLSelectElement).value) })}>
                {DURATIONS.map(([seconds, label]) => (
                  <option key={seconds} value={String(seconds)}>
                    {label}
                  </option>
                ))}
              </select>
            </label>
            <label>
              Comment (default: the incident it is silenced during)
              <input value={request.comment ?? ""} aria-label="Comment" onInput={(e) => setRequest({ ...request, comment: (e.target as HTMLInputElement).value })} />
            </label>
          </>
        )}
      </div>
      {plan && (
        <div class="plan" data-action-plan={plan.key}>
          {plan.warnings.map((w) => (
            <p key={w} class="note warn" role="note">
              {w}
            </p>
          ))}
          {plan.blocker && (
            <p class="note danger" role="alert">
              {plan.blocker}
            </p>
          )}
          <details class="calls">
            <summary>
              One call to {plan.source}: <strong>{plan.call.method}</strong> <code>{plan.call.url}</code>
            </summary>
            <div class="muted">{plan.call.purpose}</div>
            {plan.call.body && <pre>{plan.call.body}</pre>}
          </details>
        </div>
      )}
      {problem && (
        <p class="note danger" role="alert">
          {problem}
        </p>
      )}
      <footer>
        <span class="muted">{request.kind === "note" ? "Ctrl Enter" : "Enter"} to confirm · Esc to cancel · recorded in the audit log</span>
        <button onClick={onClose}>Cancel</button>
        <button ref={confirmRef} class="primary" disabled={!ready} onClick={send} data-confirm-action>
          {sending ? "Sending…" : "Confirm"}
        </button>
      </footer>
    </Modal>
  );
}

const LABELS: Record<ActionState, string> = {
  requested: "requested",
  accepted: "accepted",
  unknown: "unknown — re-reading",
  done: "done",
  failed: "failed",
  "timed-out": "timed out",
};

/** On-call actions in flight and just finished, live, until dismissed. */
export function ActionPanel({ actions, now, onOpenLink, onDismiss }: { actions: ActionProgress[]; now: number; onOpenLink(url: string): void; onDismiss(key: string): void }) {
  return (
    <>
      {actions.map((a) => {
        const done = a.state === "done" || a.state === "failed" || a.state === "timed-out";
        const tone = a.state === "done" ? "ok" : a.state === "failed" || a.state === "timed-out" ? "danger" : a.state === "unknown" ? "warn" : "accent";
        return (
          <section key={a.key} class={`rollback-card tone-${tone}`} data-action-card={a.kind} data-state={a.state}>
            <header>
              <strong>{a.title}</strong>
              <span class={`chip ${tone}`}>{LABELS[a.state]}</span>
              {done && (
                <button class="close" aria-label="Dismiss" onClick={() => onDismiss(a.key)}>
                  ×
                </button>
              )}
            </header>
            <CardFoot message={a.message} startedAt={a.started_at} link={a.link} linkLabel="open" now={now} onOpenLink={onOpenLink} />
          </section>
        );
      })}
    </>
  );
}
