import type { ActionTarget, AuditEntry } from "../ipc";
import { ageOf, dateAndTime } from "../lib/format";

interface Props {
  /** The card's heading; none when the page's own says it. */
  title: string | null;
  entries: AuditEntry[];
  now: number;
  /** Shown for the whole log (not on a service page). */
  showService: boolean;
  onOpenService?(key: string): void;
  onExport?(): void;
}

const TONES: Record<string, string> = { succeeded: "ok", failed: "danger", timed_out: "danger", unknown: "warn" };

/** What Opsdeck did on the platforms, who asked, and how it ended; newest first. */
export function AuditLog({ title, entries, now, showService, onOpenService, onExport }: Props) {
  return (
    <section class="card audit" aria-label="Audit log">
      <div class="card-head">
        {title && <h3>{title}</h3>}
        {onExport && (
          <button class="primary" onClick={onExport}>
            Export JSON lines
          </button>
        )}
      </div>
      {entries.length === 0 ? (
        <p class="muted">No actions yet. Rollbacks land here, with who asked, the plan and the outcome.</p>
      ) : (
        <table class="audit-table">
          <thead>
            <tr>
              <th>When</th>
              <th>Who</th>
              {showService && <th>Service</th>}
              <th>Env</th>
              <th>From → to</th>
              <th>Through</th>
              <th>Outcome</th>
            </tr>
          </thead>
          <tbody>
            {entries.map((e) => (
              <tr key={e.key} data-audit={e.key}>
                <td class="when" title={dateAndTime(e.requested_at)}>
                  {ageOf(e.requested_at, now)} ago
                </td>
                <td>
                  {e.actor}
                  {e.machine && (
                    <div class="muted" data-audit-machine>
                      from {e.machine}
                    </div>
                  )}
                </td>
                {showService && (
                  <td>
                    {onOpenService ? (
                      <button class="link" onClick={() => onOpenService(e.service.key)}>
                        {e.service.name}
                      </button>
                    ) : (
                      e.service.name
                    )}
                  </td>
                )}
                <td>
                  <span class="chip">{targetLabel(e.target)}</span>
                </td>
                <td>
                  <code>{e.from_version ?? "?"}</code> → <code>{e.to_version ?? "?"}</code>
                </td>
                <td class="muted">
                  {e.executor}
                  {e.response_id && <> · #{e.response_id}</>}
                </td>
                <td>
                  <span class={`chip ${TONES[e.state] ?? ""}`}>{e.state.replace("_", " ")}</span>
                  {!e.finished && <span class="chip warn" title="Opsdeck stopped before the outcome was known: check the platform">no outcome recorded</span>}
                  {e.override_reason && (
                    <span class="chip warn" title={e.override_reason}>
                      override
                    </span>
                  )}
                  <div class="muted small">{e.message}</div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** What an action acted on besides its service, for people. */
function targetLabel(target: ActionTarget): string {
  switch (target.kind) {
    case "deployment":
      return target.environment;
    case "workflow":
      return target.git_ref ? `${target.workflow}@${target.git_ref}` : target.workflow;
    case "service":
      return "–";
    case "environment":
      return target.name;
    case "incident":
      return target.id;
    case "silence":
      return target.id || target.matchers;
  }
}
