import type { ComponentChildren } from "preact";
import type { AlertRow, IncidentRow, OnCallNow, OnCallPanel as Panel, Person, PolicyOnCall } from "../ipc";
import { ageOf, dayTime, severityClass } from "../lib/format";
import type { RunbookContext } from "./Runbooks";

interface Props {
  panel: Panel;
  now: number;
  /** Opens a web, mail or phone link outside the app. */
  onOpenLink(url: string): void;
  /** Opens a service's page (incidents and alerts name their services). */
  onOpenService?(key: string): void;
  /** Lists the runbooks for an incident or an alert (on its first service). */
  onRunbooks?(context: RunbookContext): void;
  /** Opens an incident's view. */
  onOpenIncident?(id: string): void;
}

/** A link that leaves the app: handed to the system, never followed inside the window. */
export function ExternalLink({ url, label, onOpen }: { url: string; label: string; onOpen(url: string): void }) {
  return (
    <button class="link external" title={url} data-href={url} onClick={() => onOpen(url)}>
      {label}
    </button>
  );
}

function Contact({ person, onOpen }: { person: Person; onOpen(url: string): void }) {
  return (
    <span class="contact">
      {person.email && <ExternalLink url={`mailto:${person.email}`} label="Email" onOpen={onOpen} />}
      {person.phone && <ExternalLink url={`tel:${person.phone.replace(/\s+/g, "")}`} label={person.phone} onOpen={onOpen} />}
      {person.profile_url && <ExternalLink url={person.profile_url} label="PagerDuty" onOpen={onOpen} />}
    </span>
  );
}

function Someone({ who, onOpen }: { who: OnCallNow; onOpen(url: string): void }) {
  return (
    <div class={`on-call-person${who.is_me ? " me" : ""}`} data-on-call={who.person.name}>
      <strong>{who.person.name}</strong>
      {who.is_me && <span class="chip accent">you</span>}
      {!who.catalog_user && <span class="chip" title="No catalog user has this email">not in catalog</span>}
      <span class="muted">{who.until ? `until ${dayTime(who.until)}` : "always"}</span>
      <Contact person={who.person} onOpen={onOpen} />
    </div>
  );
}

export function Policy({ policy, onOpen }: { policy: PolicyOnCall; onOpen(url: string): void }) {
  return (
    <div class="policy" data-policy={policy.policy_name}>
      <div class="policy-name">
        {policy.policy_url ? <ExternalLink url={policy.policy_url} label={policy.policy_name} onOpen={onOpen} /> : policy.policy_name}
      </div>
      {policy.levels.map((level) => (
        <div class="level" key={level.level}>
          <span class="level-badge" title={`Escalation level ${level.level}`}>
            L{level.level}
          </span>
          <div class="level-people">
            {level.now.length === 0 ? (
              <span class="danger-text">Nobody on call</span>
            ) : (
              level.now.map((who) => <Someone key={who.person.id} who={who} onOpen={onOpen} />)
            )}
            {level.next && (
              <div class="muted next-shift">
                next: {level.next.person.name}
                {level.next.is_me && " (you)"} from {dayTime(level.next.starts)}
              </div>
            )}
          </div>
        </div>
      ))}
    </div>
  );
}

/** `R` on a focused incident or alert row, like its Runbooks button, lists its runbooks. */
function runbookKeys(open: (() => void) | null) {
  return {
    tabIndex: open ? 0 : undefined,
    onKeyDown: (e: KeyboardEvent) => {
      if (open && e.key.toLowerCase() === "r" && !e.ctrlKey && !e.metaKey && !e.altKey) {
        e.preventDefault();
        e.stopPropagation();
        open();
      }
    },
  };
}

export function IncidentItem({ row, now, onOpen, onOpenService, onRunbooks, onOpenIncident }: { row: IncidentRow; now: number; onOpen(url: string): void; onOpenService?(key: string): void; onRunbooks?(context: RunbookContext): void; onOpenIncident?(id: string): void }) {
  const i = row.incident;
  const service = row.services[0];
  const runbooks = onRunbooks && service ? () => onRunbooks({ service: service.key, ask: { incident_id: i.id, alert: null, environment: null }, label: `incident #${i.number}` }) : null;
  return (
    <li class={`incident ${i.status}`} data-incident={i.number} {...runbookKeys(runbooks)}>
      <div class="incident-head">
        <span class={`chip ${i.status === "triggered" ? "danger" : "warn"}`}>{i.status}</span>
        <span class={`chip ${i.urgency === "high" ? "danger" : ""}`}>{i.urgency}</span>
        {i.priority && <span class="chip">{i.priority}</span>}
        {onOpenIncident ? (
          <button class="link incident-title" data-open-incident={i.number} onClick={() => onOpenIncident(i.id)} title="Open the incident view">
            {i.title}
          </button>
        ) : (
          <span class="incident-title">{i.title}</span>
        )}
      </div>
      <div class="muted incident-meta">
        #{i.number} ·{" "}
        {row.services.map((s) =>
          onOpenService ? (
            <button key={s.key} class="link" onClick={() => onOpenService(s.key)}>
              {s.name}
            </button>
          ) : (
            <span key={s.key}>{s.name}</span>
          ),
        )}{" "}
        · {ageOf(i.created_at, now)} ago · {i.assignees.length ? i.assignees.join(", ") : "unassigned"}
        {i.acknowledged_by.length > 0 && ` · acked by ${i.acknowledged_by.join(", ")}`}
        {i.html_url && (
          <>
            {" "}
            · <ExternalLink url={i.html_url} label="Open in PagerDuty" onOpen={onOpen} />
          </>
        )}
        {runbooks && (
          <>
            {" "}
            ·{" "}
            <button class="link" onClick={runbooks} title="Runbooks for this incident (R)">
              Runbooks
            </button>
          </>
        )}
      </div>
    </li>
  );
}

function Alert({ row, now, onOpen, onRunbooks }: { row: AlertRow; now: number; onOpen(url: string): void; onRunbooks?(context: RunbookContext): void }) {
  const a = row.alert;
  const service = row.services[0];
  const runbooks = onRunbooks && service ? () => onRunbooks({ service: service.key, ask: { incident_id: null, alert: a.fingerprint, environment: null }, label: `alert ${a.name}` }) : null;
  return <AlertItem row={row} now={now} onOpen={onOpen} runbooks={runbooks} />;
}

/** An alert: severity, name, services, age, its runbook, summary, and what quiets it;
 *  `children` are its actions. */
export function AlertItem({ row, now, onOpen, runbooks, children }: { row: AlertRow; now: number; onOpen(url: string): void; runbooks: (() => void) | null; children?: ComponentChildren }) {
  const a = row.alert;
  const quiet = a.state !== "firing";
  return (
    <li class={`alert ${a.state}`} data-alert={a.name} {...runbookKeys(runbooks)}>
      <div class="alert-head">
        <span class={`chip ${quiet ? "" : severityClass(a.severity)}`}>{a.severity ?? "alert"}</span>
        <strong class={quiet ? "muted" : ""}>{a.name}</strong>
        {quiet && <span class="chip">{a.state}</span>}
        <span class="muted">
          {row.services.map((s) => s.name).join(", ")} · for {ageOf(a.starts_at, now)}
        </span>
        {runbooks ? (
          <button class="link" onClick={runbooks} title="Runbooks for this alert (R)">
            Runbook
          </button>
        ) : (
          a.runbook_url && <ExternalLink url={a.runbook_url} label="Runbook" onOpen={onOpen} />
        )}
        {children}
      </div>
      {a.summary && <div class={quiet ? "muted" : ""}>{a.summary}</div>}
      {row.silences.map((s) => (
        <div key={s.id} class="muted silence">
          Silenced by {s.created_by} until {dayTime(s.ends_at)}: {s.comment}
        </div>
      ))}
      {a.state === "inhibited" && <div class="muted silence">Inhibited by another firing alert</div>}
    </li>
  );
}

/**
 * Who is on call and what is on fire: the answer at 2 a.m. Incident titles, alert texts and
 * silence comments come from outside and are rendered as text only.
 */
export function OnCallPanel({ panel, now, onOpenLink, onOpenService, onRunbooks, onOpenIncident }: Props) {
  const firing = panel.alerts.filter((a) => a.alert.state === "firing").length;
  return (
    <section class="on-call-panel" aria-label="On call">
      <div class="card on-call">
        <h3>
          On call now {panel.me_on_call && <span class="chip accent strong">You are on call</span>}
        </h3>
        {panel.policies.length === 0 ? (
          <p class="muted">No PagerDuty escalation policy covers these services.</p>
        ) : (
          panel.policies.map((p) => <Policy key={p.policy_id} policy={p} onOpen={onOpenLink} />)
        )}
        {panel.unpaged.length > 0 && (
          <p class="warn-text small">Nobody is paged for: {panel.unpaged.join(", ")}</p>
        )}
        {panel.unknown_to_pagerduty.length > 0 && (
          <p class="warn-text small">PagerDuty does not know the service of: {panel.unknown_to_pagerduty.join(", ")}</p>
        )}
      </div>
      <div class="card incidents">
        <h3>
          Open incidents <span class={panel.incidents.length ? "count danger" : "muted"}>{panel.incidents.length}</span>
          {panel.resolved_recently > 0 && <span class="muted small"> · {panel.resolved_recently} resolved this week</span>}
        </h3>
        {panel.incidents.length === 0 ? (
          <p class="ok">No open incidents.</p>
        ) : (
          <ul class="incident-list">
            {panel.incidents.map((r) => (
              <IncidentItem key={r.incident.id} row={r} now={now} onOpen={onOpenLink} onOpenService={onOpenService} onRunbooks={onRunbooks} onOpenIncident={onOpenIncident} />
            ))}
          </ul>
        )}
      </div>
      <div class="card alerts">
        <h3>
          Alerts <span class={firing ? "count danger" : "muted"}>{firing} firing</span>
          {panel.alerts.length > firing && <span class="muted small"> · {panel.alerts.length - firing} quiet</span>}
        </h3>
        {panel.alerts.length === 0 ? (
          <p class="ok">No alerts.</p>
        ) : (
          <ul class="alert-list">
            {panel.alerts.map((r) => (
              <Alert key={`${r.source} ${r.alert.fingerprint}`} row={r} now={now} onOpen={onOpenLink} onRunbooks={onRunbooks} />
            ))}
          </ul>
        )}
      </div>
    </section>
  );
}
