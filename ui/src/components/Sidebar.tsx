import type { ComponentChildren } from "preact";
import { memo } from "preact/compat";
import { useCallback, useState } from "preact/hooks";
import type { Health, TeamSummary } from "../ipc";

export type Selection =
  | { kind: "team"; key: string }
  | { kind: "orphans" }
  | { kind: "sources" }
  | { kind: "on-call" }
  | { kind: "incidents" }
  | { kind: "activity" }
  | { kind: "audit" }
  | { kind: "scorecards" };

interface Props {
  /** Teams in tree order: each group followed by the groups below it. */
  teams: TeamSummary[];
  orphanCount: number;
  /** The worst badge among the sources, shown beside "Sources". */
  sourcesHealth: Health;
  /** Triggered incidents across all teams, shown beside "On call". */
  triggered: number;
  selection: Selection | null;
  onSelect(selection: Selection): void;
}

/** Groups deeper than this start folded (their parent shows how many are under it). */
const OPEN_DEPTH = 1;

/** My teams, then the organisation's tree (foldable; counts of a group's own or of everything
 *  below it), then services nobody owns, scorecards and the data's sources. Memoised: the app
 *  re-renders on every state change, and the tree holds every team. */
export const Sidebar = memo(function Sidebar({ teams, orphanCount, sourcesHealth, triggered, selection, onSelect }: Props) {
  const [below, setBelow] = useState(true);
  // Groups the user folded or unfolded, against the default (open down to OPEN_DEPTH).
  const [toggled, setToggled] = useState<Set<string>>(new Set());
  const mine = teams.filter((t) => t.is_mine);
  const byKey = new Map(teams.map((t) => [t.key, t]));
  const isSelected = (key: string) => selection?.kind === "team" && selection.key === key;
  const isOpen = (t: TeamSummary) => (t.depth < OPEN_DEPTH) !== toggled.has(t.key);
  const toggle = useCallback(
    (key: string) =>
      setToggled((all) => {
        const next = new Set(all);
        if (!next.delete(key)) next.add(key);
        return next;
      }),
    [],
  );
  // Shown when every group above it is open.
  const visible = (t: TeamSummary) => {
    for (let up = t.parent && byKey.get(t.parent); up; up = up.parent ? byKey.get(up.parent) : undefined) {
      if (!isOpen(up)) return false;
    }
    return true;
  };
  const item = (t: TeamSummary, indent: number, inTree: boolean) => (
    <TeamItem key={t.key} team={t} indent={indent} inTree={inTree} below={below} selected={isSelected(t.key)} open={isOpen(t)} onSelect={onSelect} onToggle={toggle} />
  );
  const link = (kind: "on-call" | "incidents" | "activity" | "audit" | "orphans" | "scorecards" | "sources", title: string, extra?: ComponentChildren) => (
    <li>
      <button class={`team${selection?.kind === kind ? " selected" : ""}`} data-team={kind} onClick={() => onSelect({ kind } as Selection)}>
        <span class="team-title">{title}</span>
        {extra}
      </button>
    </li>
  );
  return (
    <nav class="sidebar" aria-label="Teams">
      <h2>Now</h2>
      <ul>
        {link("on-call", "On call")}
        {link(
          "incidents",
          "Incidents",
          triggered > 0 && (
            <span class="team-gaps danger" title={`${triggered} triggered incidents`}>
              {triggered}
            </span>
          ),
        )}
        {link("activity", "Activity")}
        {link("audit", "Audit log")}
      </ul>
      {mine.length > 0 && (
        <>
          <h2>My teams</h2>
          <ul>{mine.map((t) => item(t, 0, false))}</ul>
        </>
      )}
      <h2 class="with-control">
        Organisation
        <span class="segmented small" role="group" aria-label="Count">
          <button class={below ? "" : "on"} aria-pressed={!below} title="Count what each group owns itself" onClick={() => setBelow(false)}>
            direct
          </button>
          <button class={below ? "on" : ""} aria-pressed={below} title="Count what each group and every group below it own" onClick={() => setBelow(true)}>
            all below
          </button>
        </span>
      </h2>
      {teams.length === 0 ? (
        <p class="muted pad">No teams in the cache yet.</p>
      ) : (
        <ul class="tree">{teams.filter(visible).map((t) => item(t, t.depth, true))}</ul>
      )}
      <h2>Ownership</h2>
      <ul>
        {link("orphans", "Orphaned services", <span class={orphanCount > 0 ? "team-gaps danger" : "team-count"}>{orphanCount}</span>)}
        {link("scorecards", "Scorecards")}
      </ul>
      <h2>Data</h2>
      <ul>{link("sources", "Sources", <span class={`dot ${sourcesHealth}`} title={sourcesHealth} />)}</ul>
    </nav>
  );
});

interface ItemProps {
  team: TeamSummary;
  indent: number;
  /** In the organisation's tree (foldable), not among my teams. */
  inTree: boolean;
  /** Counts with the groups below. */
  below: boolean;
  selected: boolean;
  open: boolean;
  onSelect(selection: Selection): void;
  onToggle(key: string): void;
}

/** One group of the tree. Memoised: picking a team re-renders the two rows that change, not
 *  every team of the organisation. */
const TeamItem = memo(function TeamItem({ team: t, indent, inTree, below, selected, open, onSelect, onToggle }: ItemProps) {
  const services = below ? t.service_count_below : t.service_count;
  const gaps = below ? t.gap_count_below : t.gap_count;
  return (
    <li>
      <button
        class={`team${selected ? " selected" : ""}`}
        data-team={t.name}
        aria-current={selected ? "true" : undefined}
        aria-expanded={inTree && t.child_count > 0 ? open : undefined}
        style={{ paddingLeft: `${12 + indent * 14}px` }}
        onClick={() => onSelect({ kind: "team", key: t.key })}
      >
        {inTree &&
          (t.child_count > 0 ? (
            <span
              class="fold"
              role="button"
              data-fold={t.name}
              aria-label={`${open ? "Fold" : "Unfold"} ${t.title}`}
              title={open ? "Fold" : `Unfold ${t.child_count} groups below`}
              onClick={(e) => {
                e.stopPropagation();
                onToggle(t.key);
              }}
            >
              {open ? "▾" : "▸"}
            </span>
          ) : (
            <span class="fold" />
          ))}
        <span class="team-title">{t.title}</span>
        <span class="team-count" title={`${services} services${below ? " with the groups below" : ""}`}>
          {services}
        </span>
        {gaps > 0 && (
          <span class="team-gaps" title={`${gaps} ownership gaps${below ? " with the groups below" : ""}`}>
            {gaps}
          </span>
        )}
      </button>
    </li>
  );
});
