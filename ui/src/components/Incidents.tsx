import type { IncidentRow } from "../ipc";
import { IncidentItem } from "./OnCallPanel";

interface Props {
  rows: IncidentRow[];
  now: number;
  onOpenIncident(id: string): void;
  onOpenService(key: string): void;
  onOpenLink(url: string): void;
}

/** Every open incident across the organisation, triggered first, then those resolved this
 *  week; each opens its incident view. */
export function Incidents({ rows, now, onOpenIncident, onOpenService, onOpenLink }: Props) {
  const open = rows.filter((r) => r.incident.status !== "resolved");
  const resolved = rows.filter((r) => r.incident.status === "resolved");
  const list = (items: IncidentRow[]) => (
    <ul class="incident-list">
      {items.map((r) => (
        <IncidentItem key={r.incident.id} row={r} now={now} onOpen={onOpenLink} onOpenService={onOpenService} onOpenIncident={onOpenIncident} />
      ))}
    </ul>
  );
  return (
    <div class="scroll">
      <section class="card incidents">
        <h3>
          Open <span class={open.length ? "count danger" : "muted"}>{open.length}</span>
        </h3>
        {open.length === 0 ? <p class="ok">No open incidents.</p> : list(open)}
      </section>
      {resolved.length > 0 && (
        <section class="card incidents">
          <h3>
            Resolved this week <span class="muted">{resolved.length}</span>
          </h3>
          {list(resolved)}
        </section>
      )}
    </div>
  );
}
