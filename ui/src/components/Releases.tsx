import { useMemo, useState } from "preact/hooks";
import type { MatrixCell, ReleaseMatrix } from "../ipc";
import { ageOf, STATUS_LABELS, statusClass, waitText } from "../lib/format";
import { DeployChart } from "./DeployChart";

interface Props {
  matrix: ReleaseMatrix;
  now: number;
  onOpenService(key: string): void;
}

const WINDOWS = [30, 90] as const;

function Cell({ cell, now }: { cell: MatrixCell | null; now: number }) {
  if (!cell) return <td class="muted">–</td>;
  return (
    <td class={cell.drift ? "drift" : ""} title={cell.drift ? "runs another version than production" : undefined}>
      <strong>{cell.version ?? "–"}</strong>
      {cell.deployed_at && <span class="muted"> {ageOf(cell.deployed_at, now)}</span>}
      {cell.health && <span class="chip danger">{cell.health}</span>}
      {cell.incoming && cell.incoming_status && (
        <div class="incoming">
          → <code>{cell.incoming}</code> <span class={`chip ${statusClass(cell.incoming_status)}`}>{STATUS_LABELS[cell.incoming_status]}</span>
        </div>
      )}
      {cell.waiting && <div class="stage-wait">{waitText(cell.waiting)}</div>}
    </td>
  );
}

/** A team's releases: what runs where, what waits for production, how often it ships. */
export function Releases({ matrix: m, now, onOpenService }: Props) {
  const [days, setDays] = useState<(typeof WINDOWS)[number]>(30);
  // The chart shows the team, or the service picked in the matrix.
  const [charted, setCharted] = useState<string | null>(null);
  const row = m.rows.find((r) => r.service.key === charted);
  const series = row ? row.daily_deploys : m.team_daily_deploys;
  const shown = useMemo(() => ({ days: m.days.slice(-days), counts: series.slice(-days) }), [m, series, days]);
  const pending = m.rows.filter((r) => r.pending);
  return (
    <div class="releases" data-releases={m.team}>
      <section class="card">
        <h3>
          Versions per environment <span class="muted">{m.rows.length} services</span>
          {pending.length > 0 && <span class="chip warn">{pending.length} pending promotion</span>}
        </h3>
        <table class="matrix">
          <thead>
            <tr>
              <th>Service</th>
              {m.environments.map((e) => (
                <th key={e}>{e}</th>
              ))}
              <th>Pending promotion</th>
              <th>Prod deploys {days}d</th>
            </tr>
          </thead>
          <tbody>
            {m.rows.map((r) => (
              <tr key={r.service.key} class={charted === r.service.key ? "selected" : ""} data-release-row={r.service.name}>
                <th>
                  <button class="link" onClick={() => onOpenService(r.service.key)}>
                    {r.service.name}
                  </button>
                </th>
                {r.cells.map((c, i) => (
                  <Cell key={m.environments[i]} cell={c} now={now} />
                ))}
                <td>
                  {r.pending ? (
                    <span class="pending">
                      <strong>{r.pending.version}</strong> in {r.pending.from_environment}
                      {r.pending.commit_count !== null && <span class="muted"> · {r.pending.commit_count} commits</span>}
                    </span>
                  ) : (
                    <span class="muted">–</span>
                  )}
                </td>
                <td>
                  <button class="link" title="chart this service" onClick={() => setCharted(charted === r.service.key ? null : r.service.key)}>
                    {r.daily_deploys.slice(-days).reduce((a, b) => a + b, 0)}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {m.unwired.length > 0 && <p class="muted">Not wired to GitHub or Argo CD: {m.unwired.join(", ")}</p>}
      </section>
      <section class="card">
        <h3>
          Production deploys per day · {row ? row.service.name : "whole team"}{" "}
          <span class="segmented">
            {WINDOWS.map((w) => (
              <button key={w} class={w === days ? "on" : ""} aria-pressed={w === days} onClick={() => setDays(w)}>
                {w} days
              </button>
            ))}
          </span>
          {row && (
            <button class="link" onClick={() => setCharted(null)}>
              show the team
            </button>
          )}
        </h3>
        <DeployChart days={shown.days} counts={shown.counts} label={row ? row.service.name : "team"} />
      </section>
    </div>
  );
}
