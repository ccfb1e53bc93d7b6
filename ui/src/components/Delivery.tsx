import { useEffect, useState } from "preact/hooks";
import type { ChangesView, DeploymentRow, ServiceDelivery } from "../ipc";
import { ageOf, dateAndTime, formatDuration, shortSha, STATUS_LABELS, statusClass, waitText } from "../lib/format";
import { useBelowTheFold } from "../lib/later";
import { ExternalLink } from "./OnCallPanel";

interface Props {
  delivery: ServiceDelivery;
  now: number;
  onOpenLink(url: string): void;
  /** The commits between two versions from the cache (`null` if not there), or from GitHub
   *  when `askGithub`. */
  loadChanges(from: string, to: string, askGithub: boolean): Promise<ChangesView | null>;
  /** Opens the rollback dialog for an environment. */
  onRollback?(environment: string): void;
}

/** Where a service's release stands: pipeline, environments, what changed, deploy timeline. */
export function Delivery({ delivery: d, now, onOpenLink, loadChanges, onRollback }: Props) {
  // What changed and the deploys come after the pipeline and environments are drawn.
  const below = useBelowTheFold("service");
  if (!d.wired) {
    return (
      <section class="card">
        <h3>Delivery</h3>
        <p class="muted">Not wired to GitHub or Argo CD (github.com/project-slug, argocd/app-name or argocd/app-selector).</p>
      </section>
    );
  }
  return (
    <>
      <section class="card delivery" data-pipeline={d.service.name}>
        <h3>Pipeline</h3>
        {d.stages.length === 0 ? (
          <p class="muted">No runs or deployments in the cache yet.</p>
        ) : (
          <ol class="pipeline">
            {d.stages.map((s) => (
              <li key={s.name} class={`stage tone-${statusClass(s.status) || "none"} ${s.waiting ? "waits" : ""}`} data-stage={s.name}>
                <div class="stage-name">
                  {s.is_environment ? "" : "⚙ "}
                  {s.name}
                </div>
                <div>
                  <span class={`chip ${statusClass(s.status)}`}>{STATUS_LABELS[s.status]}</span>
                </div>
                <div class="stage-meta">
                  {s.version && <code>{s.version}</code>}
                  {s.duration_seconds !== null && <span class="muted"> · {formatDuration(s.duration_seconds)}</span>}
                </div>
                {s.waiting && <div class="stage-wait">{waitText(s.waiting)}</div>}
                {s.link && <ExternalLink url={s.link} label="open" onOpen={onOpenLink} />}
              </li>
            ))}
          </ol>
        )}
        <h3>Environments</h3>
        <table class="environments">
          <thead>
            <tr>
              <th>Environment</th>
              <th>Version</th>
              <th>Commit</th>
              <th>Deployed</th>
              <th>By</th>
              <th>Health</th>
              <th>Sync</th>
              <th>Incoming</th>
              {onRollback && <th />}
            </tr>
          </thead>
          <tbody>
            {d.environments.map((e) => (
              <tr key={e.environment} data-environment={e.environment}>
                <th>{e.environment}</th>
                <td>
                  {e.current ? <strong>{e.current.version}</strong> : <span class="muted">–</span>}
                  {e.drift && (
                    <span class="chip warn" title="runs another version than production">
                      drift
                    </span>
                  )}
                </td>
                <td>
                  <code>{shortSha(e.current?.commit ?? null)}</code>
                </td>
                <td>{e.current ? `${ageOf(e.current.finished_at ?? e.current.started_at, now)} ago` : "–"}</td>
                <td>{e.current?.actor ?? "–"}</td>
                <td>
                  {e.health ? <span class={`chip ${e.health === "Healthy" ? "ok" : "danger"}`}>{e.health}</span> : <span class="muted">–</span>}
                </td>
                <td>
                  {e.sync ?? <span class="muted">–</span>}
                  {e.automated_sync && <span class="chip" title="Argo CD syncs it automatically">auto</span>}
                </td>
                <td>
                  {e.latest && (
                    <>
                      <code>{e.latest.version}</code> <span class={`chip ${statusClass(e.latest.status)}`}>{STATUS_LABELS[e.latest.status]}</span>
                    </>
                  )}
                </td>
                {onRollback && (
                  <td>
                    {e.current && (
                      <button class="rollback-button" data-rollback-env={e.environment} onClick={() => onRollback(e.environment)} title={`Plan a rollback of ${d.service.name} in ${e.environment}`}>
                        Roll back…
                      </button>
                    )}
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
        {d.pending && (
          <p class="pending" data-pending>
            <strong>{d.pending.version}</strong> waits in {d.pending.from_environment} for {d.pending.to_environment}
            {d.pending.production_version && <> (runs {d.pending.production_version})</>}
            {d.pending.commit_count !== null && <> · {d.pending.commit_count} commits</>}
          </p>
        )}
      </section>
      {below && (
        <>
          <Changes delivery={d} now={now} onOpenLink={onOpenLink} loadChanges={loadChanges} />
          <Timeline rows={d.timeline} now={now} onOpenLink={onOpenLink} />
        </>
      )}
    </>
  );
}

function Changes({ delivery: d, now, onOpenLink, loadChanges }: Props) {
  const [from, setFrom] = useState(d.notable_changes?.from_version ?? d.versions[1] ?? "");
  const [to, setTo] = useState(d.notable_changes?.to_version ?? d.versions[0] ?? "");
  const [changes, setChanges] = useState<ChangesView | null>(d.notable_changes);
  const [problem, setProblem] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  // Picking versions reads the cache only; GitHub is asked when the user says so.
  const load = (askGithub: boolean) => {
    setLoading(askGithub);
    setProblem(null);
    loadChanges(from, to, askGithub).then(
      (c) => {
        setChanges(c);
        setLoading(false);
      },
      (e) => {
        setChanges(null);
        setProblem(String(e?.message ?? e));
        setLoading(false);
      },
    );
  };
  useEffect(() => {
    if (!from || !to || from === to) return;
    if (d.notable_changes && d.notable_changes.from_version === from && d.notable_changes.to_version === to) {
      setChanges(d.notable_changes);
      return;
    }
    load(false);
  }, [from, to, d]);
  if (d.versions.length < 2) return null;
  const picker = (value: string, set: (v: string) => void, label: string) => (
    <select aria-label={label} value={value} onChange={(e) => set((e.target as HTMLSelectElement).value)}>
      {d.versions.map((v) => (
        <option key={v} value={v}>
          {v}
        </option>
      ))}
    </select>
  );
  return (
    <section class="card" data-changes>
      <h3>
        What changed {picker(from, setFrom, "from version")} → {picker(to, setTo, "to version")}
        {changes && <span class="muted"> {changes.total_commits} {changes.total_commits === 1 ? "commit" : "commits"}</span>}
        {changes?.link && (
          <>
            {" "}
            <ExternalLink url={changes.link} label="compare on GitHub" onOpen={onOpenLink} />
          </>
        )}
      </h3>
      {loading && <p class="muted">Reading the commits from GitHub…</p>}
      {problem && <p class="error-text">{problem}</p>}
      {!changes && !loading && from !== to && (
        <p class="muted">
          Not compared yet.{" "}
          <button class="link" onClick={() => load(true)}>
            Read the commits from GitHub
          </button>
        </p>
      )}
      {changes && !loading && (
        <ul class="commits">
          {changes.commits.map((c) => (
            <li key={c.sha}>
              <code>{shortSha(c.sha)}</code> <span class="commit-title">{c.title}</span>{" "}
              <span class="muted">
                {c.author ?? ""}
                {c.authored_at && ` · ${ageOf(c.authored_at, now)} ago`}
              </span>
              {c.link && (
                <>
                  {" "}
                  <ExternalLink url={c.link} label="open" onOpen={onOpenLink} />
                </>
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

/** Deploys the timeline shows until asked for all of them: a screenful, and the rows (about
 *  thirteen elements each) are most of what a service page costs to render. */
const TIMELINE_SHOWN = 20;

/** Deploys newest first: the row a tired engineer scans for "what moved just before this". */
function Timeline({ rows, now, onOpenLink }: { rows: DeploymentRow[]; now: number; onOpenLink(url: string): void }) {
  const [all, setAll] = useState(false);
  const shown = all ? rows : rows.slice(0, TIMELINE_SHOWN);
  return (
    <section class="card" data-timeline>
      <h3>
        Deploys <span class="muted">{rows.length}</span>
      </h3>
      {rows.length === 0 ? (
        <p class="muted">None in the last 90 days.</p>
      ) : (
        <table class="timeline">
          <tbody>
            {shown.map((r) => (
              <DeployRow key={`${r.source}/${r.id}`} row={r} now={now} onOpenLink={onOpenLink} />
            ))}
          </tbody>
        </table>
      )}
      {shown.length < rows.length && (
        <button class="link" data-timeline-all onClick={() => setAll(true)}>
          Show all {rows.length} deploys
        </button>
      )}
    </section>
  );
}

export function DeployRow({
  row: r,
  now,
  onOpenLink,
  showService,
  onOpenService,
  onRollback,
}: {
  row: DeploymentRow;
  now: number;
  onOpenLink(url: string): void;
  showService?: boolean;
  onOpenService?(key: string): void;
  /** Offers to roll the row's service back in its environment (for deploys that reached it). */
  onRollback?(row: DeploymentRow): void;
}) {
  return (
    <tr data-deploy={r.id}>
      <td class="when" title={dateAndTime(r.started_at)}>
        {ageOf(r.started_at, now)} ago
      </td>
      {showService && (
        <td>
          {onOpenService ? (
            <button class="link" onClick={() => onOpenService(r.service.key)}>
              {r.service.name}
            </button>
          ) : (
            r.service.name
          )}
        </td>
      )}
      <td>
        <span class="chip">{r.environment}</span>
      </td>
      <td>
        <strong>{r.version}</strong>
        {r.rolled_back_from && <span class="chip warn">rollback from {r.rolled_back_from}</span>}
      </td>
      <td>
        <span class={`chip ${statusClass(r.status)}`}>{STATUS_LABELS[r.status]}</span>
      </td>
      <td class="muted">{r.actor ?? "–"}</td>
      <td>
        <code>{shortSha(r.commit)}</code>
      </td>
      <td>{r.link && <ExternalLink url={r.link} label="open" onOpen={onOpenLink} />}</td>
      {onRollback && (
        <td>
          {r.status === "success" && (
            <button class="rollback-button" onClick={() => onRollback(r)} title={`Plan a rollback of ${r.service.name} in ${r.environment}`}>
              Roll back…
            </button>
          )}
        </td>
      )}
    </tr>
  );
}
