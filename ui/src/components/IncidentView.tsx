import { useEffect, useRef } from "preact/hooks";
import type { ActionRequest, AlertRow, IncidentView as View, SuspectRow } from "../ipc";
import { ageOf, clockTime, shortSha } from "../lib/format";
import { AlertItem, ExternalLink, Policy } from "./OnCallPanel";
import type { RunbookContext } from "./Runbooks";

interface Props {
  view: View;
  now: number;
  onBack(): void;
  backLabel: string;
  onOpenLink(url: string): void;
  onOpenService(key: string): void;
  /** Opens the rollback dialog for a suspect's service and environment. */
  onRollback(row: SuspectRow): void;
  /** Opens the dialog that plans and confirms an action. */
  onAction(request: ActionRequest): void;
  onRunbooks(context: RunbookContext): void;
  /** Reads a source again now (Argo CD's state after a sync). */
  onRefresh(source: string): void;
}

const KIND_LABELS = {
  deploy: "deploy",
  rollback: "rollback",
  "deploy-run": "deploy run",
  "change-event": "change",
} as const;

function Suspect({ row, top, onOpenLink, onOpenService, onRollback }: { row: SuspectRow; top: boolean; onOpenLink(url: string): void; onOpenService(key: string): void; onRollback(row: SuspectRow): void }) {
  const c = row.suspect.change;
  const after = row.suspect.tier === "after-start";
  const rollbackRef = useRef<HTMLButtonElement | null>(null);
  // The top suspect's rollback is where the keyboard starts: Enter opens its plan.
  useEffect(() => {
    if (top && row.can_roll_back) rollbackRef.current?.focus();
  }, [top, c.id, row.can_roll_back]);
  return (
    <li class={`suspect${top ? " top" : ""}${after ? " after" : ""}`} data-suspect={c.id} data-tier={row.suspect.tier}>
      <div class="suspect-when">
        <span class={`chip ${top ? "danger" : after ? "" : "warn"}`}>{row.when}</span>
        <span class="muted small">{clockTime(c.at)}</span>
      </div>
      <div class="suspect-what">
        <div>
          <button class="link strong" onClick={() => onOpenService(c.service_key)}>
            {c.service}
          </button>{" "}
          {c.environment && <span class="chip env">{c.environment}</span>} <span class="chip">{KIND_LABELS[c.kind]}</span>{" "}
          {c.kind === "change-event" ? (
            <span>{c.version}</span>
          ) : (
            <>
              {c.previous_version && <code>{c.previous_version}</code>}
              {c.previous_version && " → "}
              <code class="strong">{c.version}</code>
            </>
          )}
        </div>
        <div class="muted small">
          {c.actor ? `by ${c.actor} · ` : ""}
          {row.reason}
          {c.status && c.status !== "success" && ` · ${c.status.replace("_", " ")}`}
          {c.link && (
            <>
              {" · "}
              <ExternalLink url={c.link} label="open" onOpen={onOpenLink} />
            </>
          )}
        </div>
        {row.replaced_by && (
          <div class="replaced" data-replaced-by={row.replaced_by.version}>
            {row.replaced_by.rollback ? "Rolled back" : "Replaced"} to <code>{row.replaced_by.version}</code> at {clockTime(row.replaced_by.at)}: it no longer runs there.
          </div>
        )}
        {row.commits.length > 0 && (
          <ul class="commits">
            {row.commits.slice(0, top ? 4 : 2).map((commit) => (
              <li key={commit.sha}>
                <code>{shortSha(commit.sha)}</code> {commit.title}
                {commit.author && <span class="muted"> · {commit.author}</span>}
              </li>
            ))}
            {(row.total_commits ?? row.commits.length) > (top ? 4 : 2) && <li class="muted">and {(row.total_commits ?? row.commits.length) - (top ? 4 : 2)} more</li>}
          </ul>
        )}
      </div>
      {row.can_roll_back && !after && (
        <button ref={rollbackRef} class={top ? "danger-button" : ""} data-rollback-suspect={c.id} onClick={() => onRollback(row)} title={top ? "Roll back (B)" : undefined}>
          Roll back…
        </button>
      )}
    </li>
  );
}

/** Everything about one incident on one screen, for 2 a.m.: what it is and who has it, the
 *  change that probably caused it with its rollback one key away, the alerts with their
 *  runbooks, who is on call, and what is around it. Every text from the platforms is rendered
 *  as text only. */
export function IncidentView({ view, now, onBack, backLabel, onOpenLink, onOpenService, onRollback, onAction, onRunbooks, onRefresh }: Props) {
  const i = view.incident;
  const open = i.status !== "resolved";
  const firing = view.alerts.filter((a) => a.alert.state === "firing").length;
  const service = view.service;
  const runbooksFor = (row: AlertRow) => {
    const first = row.services[0] ?? service;
    return first ? () => onRunbooks({ service: first.key, ask: { incident_id: i.id, alert: row.alert.fingerprint, environment: null }, label: `alert ${row.alert.name}` }) : null;
  };
  const level = view.policy?.levels.find((l) => l.now.some((n) => i.assignees.includes(n.person.name)))?.level;
  return (
    <div class="page incident-page" data-incident-view={i.number}>
      <div class="team-head incident-head-bar">
        <nav class="breadcrumb">
          <button class="link" onClick={onBack}>
            ← {backLabel}
          </button>
        </nav>
        <h1>
          <span class={`chip ${i.status === "triggered" ? "danger" : i.status === "acknowledged" ? "warn" : "ok"}`}>{i.status}</span>{" "}
          <span class="muted">#{i.number}</span> {i.title}
        </h1>
        <div class="muted incident-facts">
          <span class={`chip ${i.urgency === "high" ? "danger" : ""}`}>{i.urgency} urgency</span>
          {i.priority && <span class="chip">{i.priority}</span>} started {clockTime(i.created_at)} ({ageOf(i.created_at, now)} ago) ·{" "}
          {service ? (
            <button class="link" onClick={() => onOpenService(service.key)}>
              {service.name}
            </button>
          ) : (
            (view.pagerduty_service ?? "no catalog service")
          )}
          {view.owner && ` · ${view.owner.title}`}
          {view.system && ` · ${view.system.title}`}
          {view.tier && ` · tier ${view.tier}`} · {i.assignees.length ? `assigned to ${i.assignees.join(", ")}` : "unassigned"}
          {level && ` (L${level})`}
          {i.acknowledged_by.length > 0 && ` · acked by ${i.acknowledged_by.join(", ")}`}
          {i.html_url && (
            <>
              {" · "}
              <ExternalLink url={i.html_url} label="PagerDuty" onOpen={onOpenLink} />
            </>
          )}
        </div>
        <div class="incident-actions" role="toolbar" aria-label="Incident actions">
          {i.status === "triggered" && (
            <button class="primary" data-action="acknowledge" title="Acknowledge (A)" onClick={() => onAction({ kind: "acknowledge", incident: i.id })}>
              Acknowledge
            </button>
          )}
          {open && (
            <>
              <button data-action="resolve" onClick={() => onAction({ kind: "resolve", incident: i.id, resolution: null })}>
                Resolve…
              </button>
              <button data-action="reassign" onClick={() => onAction({ kind: "reassign", incident: i.id, to: { kind: "level", level: 2 } })}>
                Reassign…
              </button>
              <button data-action="urgency" onClick={() => onAction({ kind: "urgency", incident: i.id, urgency: i.urgency === "high" ? "low" : "high" })}>
                Make {i.urgency === "high" ? "low" : "high"} urgency…
              </button>
            </>
          )}
          <button data-action="note" onClick={() => onAction({ kind: "note", incident: i.id, text: "" })}>
            Add note…
          </button>
        </div>
      </div>
      <div class="scroll">
        {view.automated_sync_off.map((off) => (
          <div key={off.app} class="banner warn standing" role="status" data-auto-sync-off={off.app}>
            {off.switched_off_by_rollback ? (
              <span class="banner-text">
                Automated sync of <strong>{off.app}</strong> ({off.environment}) is off since the rollback at {off.since ? clockTime(off.since) : "?"}
                {off.by && ` by ${off.by}`}: Git's changes are not deployed ({off.sync ?? "sync unknown"}, {off.health ?? "health unknown"}).
              </span>
            ) : (
              <span class="banner-text">
                <strong>{off.app}</strong> ({off.environment}) runs what the rollback at {off.since ? clockTime(off.since) : "?"}
                {off.by && ` by ${off.by}`} put back, not what Git says ({off.sync ?? "sync unknown"}); its automated sync is off.
              </span>
            )}
            <span class="banner-actions">
              <button onClick={() => onAction({ kind: "argocd-sync", service: off.service.key, environment: off.environment })}>Sync…</button>
              <button onClick={() => onAction({ kind: "argocd-auto-sync", service: off.service.key, environment: off.environment })}>Turn automated sync back on…</button>
              <button onClick={() => onRefresh(off.source)} title={`Read ${off.source} again now`}>
                Refresh
              </button>
            </span>
          </div>
        ))}
        <div class="incident-grid">
          <section class="card suspects" aria-label="Suspect changes">
            <h3>
              Suspect changes <span class="muted small">since {clockTime(view.window_since)}</span>
            </h3>
            <p class="muted small rule">{view.ranking_rule}</p>
            {view.suspects.length === 0 ? (
              <p class="muted">No deploys, rollbacks or change events of this service or what it depends on in the cache for this window.</p>
            ) : (
              <ol class="suspect-list">
                {view.suspects.map((row, n) => (
                  <Suspect key={row.suspect.change.id} row={row} top={n === 0 && row.suspect.tier !== "after-start"} onOpenLink={onOpenLink} onOpenService={onOpenService} onRollback={onRollback} />
                ))}
              </ol>
            )}
          </section>
          <div class="incident-side">
            <section class="card alerts" aria-label="Alerts">
              <h3>
                Alerts <span class={firing ? "count danger" : "muted"}>{firing} firing</span>
              </h3>
              {view.alerts.length === 0 ? (
                <p class="ok">No alerts on it or what it depends on.</p>
              ) : (
                <ul class="alert-list">
                  {view.alerts.map((r) => (
                    <AlertItem key={`${r.source} ${r.alert.fingerprint}`} row={r} now={now} onOpen={onOpenLink} runbooks={runbooksFor(r)}>
                      {r.alert.state === "firing" && (
                        <button class="link" data-silence={r.alert.name} onClick={() => onAction({ kind: "silence", source: r.source, fingerprint: r.alert.fingerprint, seconds: 3600, comment: null, incident: i.id })}>
                          Silence…
                        </button>
                      )}
                      {r.silences.map((s) => (
                        <button key={s.id} class="link" data-expire={s.id} onClick={() => onAction({ kind: "expire-silence", source: r.source, id: s.id })}>
                          Expire silence…
                        </button>
                      ))}
                    </AlertItem>
                  ))}
                </ul>
              )}
            </section>
            <section class="card on-call" aria-label="On call">
              <h3>On call {view.me_on_call && <span class="chip accent strong">You are on call</span>}</h3>
              {view.policy ? <Policy policy={view.policy} onOpen={onOpenLink} /> : <p class="muted">No escalation policy in the cache.</p>}
            </section>
          </div>
        </div>
        <section class="card neighbours" aria-label="Around it">
          <h3>Around {service?.name ?? "it"}</h3>
          {view.neighbours.length === 0 ? (
            <p class="muted">The catalog names nothing it depends on or that depends on it.</p>
          ) : (
            <ul class="neighbour-list">
              {view.neighbours.map((n) => (
                <li key={`${n.upstream} ${n.entity.key}`} class={n.open_incidents || n.firing_alerts ? "hot" : ""}>
                  <span class="muted small">{n.upstream ? "depends on" : "used by"}</span>{" "}
                  {n.entity.exists && n.entity.kind === "component" ? (
                    <button class="link" onClick={() => onOpenService(n.entity.key)}>
                      {n.entity.name}
                    </button>
                  ) : (
                    <span>{n.entity.name}</span>
                  )}
                  {n.open_incidents > 0 && <span class="chip danger">{n.open_incidents} incident{n.open_incidents === 1 ? "" : "s"}</span>}
                  {n.firing_alerts > 0 && <span class="chip warn">{n.firing_alerts} firing</span>}
                </li>
              ))}
            </ul>
          )}
        </section>
        {view.actions.length > 0 && (
          <section class="card" aria-label="Done through Opsdeck">
            <h3>Done here through Opsdeck</h3>
            <ul class="plain">
              {view.actions.map((a) => (
                <li key={a.key}>
                  <span class="muted">{clockTime(a.requested_at)}</span> {a.actor}: {a.message} <span class="chip">{a.state}</span>
                </li>
              ))}
            </ul>
          </section>
        )}
      </div>
    </div>
  );
}
