import { useEffect, useState } from "preact/hooks";
import type { ActivityCursor, ActivityFilter, DeploymentRow, DeployStatus, TeamSummary } from "../ipc";
import { STATUS_LABELS } from "../lib/format";
import { DeployRow } from "./Delivery";

interface Props {
  teams: TeamSummary[];
  /** Every environment deployed to, in promotion order. */
  environments: string[];
  now: number;
  /** Bumped when the cache changes: the feed reads it again. */
  generation: number;
  load(filter: ActivityFilter): Promise<DeploymentRow[]>;
  onOpenService(key: string): void;
  onOpenLink(url: string): void;
  onRollback(row: DeploymentRow): void;
  onError(error: unknown): void;
}

const PAGE = 50;
const STATUSES: DeployStatus[] = ["success", "failure", "in_progress", "queued", "waiting", "inactive"];
const WINDOWS: { value: number; label: string }[] = [
  { value: 24, label: "24 hours" },
  { value: 24 * 7, label: "7 days" },
  { value: 24 * 30, label: "30 days" },
  { value: 24 * 90, label: "90 days" },
];

/** Deploys across teams, newest first, filtered by team, environment, status and time. */
export function Activity({ teams, environments, now, generation, load, onOpenService, onOpenLink, onRollback, onError }: Props) {
  const [team, setTeam] = useState<string | null>(null);
  const [environment, setEnvironment] = useState<string | null>(null);
  const [status, setStatus] = useState<DeployStatus | null>(null);
  const [sinceHours, setSinceHours] = useState<number | null>(24 * 7);
  const [rows, setRows] = useState<DeploymentRow[]>([]);
  const [more, setMore] = useState(false);
  const query = (after: ActivityCursor | null): ActivityFilter => ({
    team,
    service: null,
    environment,
    status,
    since_seconds: sinceHours === null ? null : sinceHours * 3600,
    after,
    limit: PAGE,
  });

  useEffect(() => {
    load(query(null)).then((page) => {
      setRows(page);
      setMore(page.length === PAGE);
    }, onError);
  }, [team, environment, status, sinceHours, generation]);

  const loadMore = () => {
    const last = rows[rows.length - 1];
    load(query({ started_at: last.started_at, id: last.id })).then((page) => {
      setRows((held) => [...held, ...page]);
      setMore(page.length === PAGE);
    }, onError);
  };
  const choice = <T extends string | number>(label: string, value: T | null, options: { value: T; label: string }[], set: (v: T | null) => void) => (
    <label class="filter-pick">
      {label}{" "}
      <select
        value={value === null ? "" : String(value)}
        onChange={(e) => {
          const raw = (e.target as HTMLSelectElement).value;
          const picked = options.find((o) => String(o.value) === raw);
          set(picked ? picked.value : null);
        }}
      >
        <option value="">any</option>
        {options.map((o) => (
          <option key={String(o.value)} value={String(o.value)}>
            {o.label}
          </option>
        ))}
      </select>
    </label>
  );
  return (
    <div class="activity" data-activity>
      <div class="team-head">
        <h1>Activity</h1>
        <span class="muted">Deploys across teams, newest first</span>
      </div>
      <div class="table-tools">
        {choice("Team", team, teams.map((t) => ({ value: t.key, label: t.title })), setTeam)}
        {choice("Environment", environment, environments.map((e) => ({ value: e, label: e })), setEnvironment)}
        {choice("Status", status, STATUSES.map((s) => ({ value: s, label: STATUS_LABELS[s] })), setStatus)}
        {choice("Since", sinceHours, WINDOWS, setSinceHours)}
      </div>
      <div class="scroll">
        {rows.length === 0 ? (
          <p class="muted pad">No deploys match.</p>
        ) : (
          <table class="timeline">
            <tbody>
              {rows.map((r) => (
                <DeployRow key={`${r.source}/${r.id}/${r.service.key}`} row={r} now={now} onOpenLink={onOpenLink} showService onOpenService={onOpenService} onRollback={onRollback} />
              ))}
            </tbody>
          </table>
        )}
        {more && (
          <button class="more" onClick={loadMore}>
            Older deploys
          </button>
        )}
      </div>
    </div>
  );
}
