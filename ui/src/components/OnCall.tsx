import { useMemo, useState } from "preact/hooks";
import type { TeamOnCall } from "../ipc";
import { dayTime } from "../lib/format";

interface Props {
  teams: TeamOnCall[];
  onOpenTeam(key: string): void;
}

type SortKey = "team" | "incidents" | "alerts" | "handoff";

const COLUMNS: { key: SortKey | null; label: string }[] = [
  { key: "team", label: "Team" },
  { key: null, label: "Level 1 now" },
  { key: null, label: "Level 2 now" },
  { key: "handoff", label: "Next handoff" },
  { key: "incidents", label: "Incidents" },
  { key: "alerts", label: "Firing alerts" },
];

function atLevel(team: TeamOnCall, level: number) {
  return team.policies.flatMap((p) => p.levels.filter((l) => l.level === level).flatMap((l) => l.now));
}

function nextHandoff(team: TeamOnCall): string | null {
  const starts = team.policies.flatMap((p) => p.levels.flatMap((l) => (l.next ? [l.next.starts] : [])));
  return starts.length ? starts.reduce((a, b) => (a < b ? a : b)) : null;
}

function compare(a: TeamOnCall, b: TeamOnCall, key: SortKey): number {
  switch (key) {
    case "team":
      return a.name.localeCompare(b.name);
    case "incidents":
      return b.triggered - a.triggered || b.acknowledged - a.acknowledged;
    case "alerts":
      return b.firing_alerts - a.firing_alerts;
    case "handoff":
      return (nextHandoff(a) ?? "~").localeCompare(nextHandoff(b) ?? "~");
  }
}

/** Every team's on-call now, with what is on fire; sortable, "my teams" on a switch. */
export function OnCall({ teams, onOpenTeam }: Props) {
  const [sort, setSort] = useState<SortKey>("incidents");
  const [mineOnly, setMineOnly] = useState(false);
  const shown = useMemo(
    () =>
      teams
        .filter((t) => !mineOnly || t.is_mine)
        .slice()
        .sort((a, b) => compare(a, b, sort) || a.name.localeCompare(b.name)),
    [teams, sort, mineOnly],
  );
  const people = (team: TeamOnCall, level: number) => {
    const now = atLevel(team, level);
    if (team.policies.length === 0) return <span class="muted">no policy</span>;
    if (now.length === 0) return <span class="danger-text">nobody</span>;
    return now.map((n, i) => (
      <span key={n.person.id} class={n.is_me ? "me-text" : ""}>
        {i > 0 && ", "}
        {n.person.name}
        {n.is_me && " (you)"}
      </span>
    ));
  };
  return (
    <section class="on-call-screen" data-screen="on-call">
      <div class="team-head">
        <h1>On call</h1>
        <label class="toggle">
          <input type="checkbox" checked={mineOnly} onChange={(e) => setMineOnly((e.target as HTMLInputElement).checked)} /> My teams
        </label>
        <span class="muted">
          {shown.length} teams · {shown.reduce((n, t) => n + t.triggered, 0)} triggered ·{" "}
          {shown.reduce((n, t) => n + t.firing_alerts, 0)} alerts firing
        </span>
      </div>
      <div class="scroll">
        <table class="grid-table">
          <thead>
            <tr>
              {COLUMNS.map((c) => (
                <th key={c.label} aria-sort={c.key && c.key === sort ? "descending" : undefined}>
                  {c.key ? (
                    <button class="sort" onClick={() => setSort(c.key!)}>
                      {c.label}
                      {c.key === sort && " ▾"}
                    </button>
                  ) : (
                    c.label
                  )}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {shown.map((t) => {
              const handoff = nextHandoff(t);
              return (
                <tr key={t.key} data-on-call-team={t.name} class={t.triggered > 0 ? "hot" : ""} onClick={() => onOpenTeam(t.key)}>
                  <td>
                    <button class="link strong" onClick={() => onOpenTeam(t.key)}>
                      {t.title}
                    </button>
                    {t.is_mine && <span class="chip accent">mine</span>}
                  </td>
                  <td>{people(t, 1)}</td>
                  <td>{people(t, 2)}</td>
                  <td class="muted">{handoff ? dayTime(handoff) : "–"}</td>
                  <td>
                    {t.triggered > 0 && <span class="chip danger">{t.triggered} triggered</span>}
                    {t.acknowledged > 0 && <span class="chip warn">{t.acknowledged} acked</span>}
                    {t.triggered + t.acknowledged === 0 && <span class="muted">–</span>}
                  </td>
                  <td>{t.firing_alerts > 0 ? <span class="chip warn">{t.firing_alerts}</span> : <span class="muted">–</span>}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </section>
  );
}
