import type { ComponentChildren } from "preact";
import { memo, useSyncExternalStore } from "preact/compat";
import { useCallback, useLayoutEffect, useState } from "preact/hooks";
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

/** The open screen as the sidebar marks it: "team:KEY", or the screen's kind. */
const markOf = (selection: Selection | null) => (selection === null ? "" : selection.kind === "team" ? `team:${selection.key}` : selection.kind);

/** Which screen the sidebar marks as open, for each row to watch its own: a switch re-renders
 *  the rows that change, not the sidebar, whose tree holds every team of the organisation. */
export class SelectionMark {
  private marked: string;
  private watchers = new Map<string, Set<() => void>>();
  constructor(selection: Selection | null) {
    this.marked = markOf(selection);
  }
  isMarked(row: string): boolean {
    return this.marked === row;
  }
  set(selection: Selection | null) {
    const [before, after] = [this.marked, markOf(selection)];
    this.marked = after;
    if (before !== after) for (const row of [before, after]) this.watchers.get(row)?.forEach((changed) => changed());
  }
  watch(row: string, changed: () => void): () => void {
    const watching = this.watchers.get(row) ?? new Set();
    this.watchers.set(row, watching.add(changed));
    return () => watching.delete(changed);
  }
}

/** `selection`, marked in the sidebar once the page it opens is rendered. */
export function useSelectionMark(selection: Selection | null): SelectionMark {
  const [mark] = useState(() => new SelectionMark(selection));
  useLayoutEffect(() => mark.set(selection), [selection]);
  return mark;
}

function useMarked(mark: SelectionMark, row: string): boolean {
  const watch = useCallback((changed: () => void) => mark.watch(row, changed), [mark, row]);
  return useSyncExternalStore(watch, () => mark.isMarked(row));
}

interface Props {
  /** Teams in tree order: each group followed by the groups below it. */
  teams: TeamSummary[];
  orphanCount: number;
  /** The worst badge among the sources, shown beside "Sources". */
  sourcesHealth: Health;
  /** Triggered incidents across all teams, shown beside "On call". */
  triggered: number;
  mark: SelectionMark;
  onSelect(selection: Selection): void;
}

/** Groups deeper than this start folded (their parent shows how many are under it). */
const OPEN_DEPTH = 1;

/** My teams, then the organisation's tree (foldable; counts of a group's own or of everything
 *  below it), then services nobody owns, scorecards and the data's sources. Memoised: the app
 *  re-renders on every state change, and the tree holds every team. */
export const Sidebar = memo(function Sidebar({ teams, orphanCount, sourcesHealth, triggered, mark, onSelect }: Props) {
  const [below, setBelow] = useState(true);
  // Groups the user folded or unfolded, against the default (open down to OPEN_DEPTH).
  const [toggled, setToggled] = useState<Set<string>>(new Set());
  const mine = teams.filter((t) => t.is_mine);
  const byKey = new Map(teams.map((t) => [t.key, t]));
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
    <TeamItem key={t.key} team={t} indent={indent} inTree={inTree} below={below} mark={mark} open={isOpen(t)} onSelect={onSelect} onToggle={toggle} />
  );
  const link = (kind: ScreenKind, title: string, extra?: ComponentChildren) => <ScreenLink kind={kind} title={title} extra={extra} mark={mark} onSelect={onSelect} />;
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

type ScreenKind = Exclude<Selection["kind"], "team">;

function ScreenLink({ kind, title, extra, mark, onSelect }: { kind: ScreenKind; title: string; extra?: ComponentChildren; mark: SelectionMark; onSelect(selection: Selection): void }) {
  const selected = useMarked(mark, kind);
  return (
    <li>
      <button class={`team${selected ? " selected" : ""}`} data-team={kind} onClick={() => onSelect({ kind })}>
        <span class="team-title">{title}</span>
        {extra}
      </button>
    </li>
  );
}

interface ItemProps {
  team: TeamSummary;
  indent: number;
  /** In the organisation's tree (foldable), not among my teams. */
  inTree: boolean;
  /** Counts with the groups below. */
  below: boolean;
  mark: SelectionMark;
  open: boolean;
  onSelect(selection: Selection): void;
  onToggle(key: string): void;
}

/** One group of the tree. Memoised, and watching the mark for its own key: picking a team
 *  re-renders the rows that change, not every team of the organisation. */
const TeamItem = memo(function TeamItem({ team: t, indent, inTree, below, mark, open, onSelect, onToggle }: ItemProps) {
  const selected = useMarked(mark, `team:${t.key}`);
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
