import type { Health, TeamSummary } from "../ipc";

export type Selection = { kind: "team"; key: string } | { kind: "orphans" } | { kind: "sources" } | { kind: "on-call" } | { kind: "activity" } | { kind: "audit" };

interface Props {
  teams: TeamSummary[];
  orphanCount: number;
  /** The worst badge among the sources, shown beside "Sources". */
  sourcesHealth: Health;
  /** Triggered incidents across all teams, shown beside "On call". */
  triggered: number;
  selection: Selection | null;
  onSelect(selection: Selection): void;
}

/** Teams, mine first under their own heading, then the rest, then services nobody owns. */
export function Sidebar({ teams, orphanCount, sourcesHealth, triggered, selection, onSelect }: Props) {
  const mine = teams.filter((t) => t.is_mine);
  const others = teams.filter((t) => !t.is_mine);
  const isSelected = (key: string) => selection?.kind === "team" && selection.key === key;
  const item = (t: TeamSummary) => (
    <li key={t.key}>
      <button
        class={`team${isSelected(t.key) ? " selected" : ""}`}
        data-team={t.name}
        aria-current={isSelected(t.key) ? "true" : undefined}
        onClick={() => onSelect({ kind: "team", key: t.key })}
      >
        <span class="team-title">{t.title}</span>
        <span class="team-count" title={`${t.service_count} services`}>
          {t.service_count}
        </span>
        {t.gap_count > 0 && (
          <span class="team-gaps" title={`${t.gap_count} ownership gaps`}>
            {t.gap_count}
          </span>
        )}
      </button>
    </li>
  );
  return (
    <nav class="sidebar" aria-label="Teams">
      <h2>Now</h2>
      <ul>
        <li>
          <button
            class={`team${selection?.kind === "on-call" ? " selected" : ""}`}
            data-team="on-call"
            onClick={() => onSelect({ kind: "on-call" })}
          >
            <span class="team-title">On call</span>
            {triggered > 0 && (
              <span class="team-gaps danger" title={`${triggered} triggered incidents`}>
                {triggered}
              </span>
            )}
          </button>
        </li>
        <li>
          <button
            class={`team${selection?.kind === "activity" ? " selected" : ""}`}
            data-team="activity"
            onClick={() => onSelect({ kind: "activity" })}
          >
            <span class="team-title">Activity</span>
          </button>
        </li>
        <li>
          <button
            class={`team${selection?.kind === "audit" ? " selected" : ""}`}
            data-team="audit"
            onClick={() => onSelect({ kind: "audit" })}
          >
            <span class="team-title">Audit log</span>
          </button>
        </li>
      </ul>
      {mine.length > 0 && (
        <>
          <h2>My teams</h2>
          <ul>{mine.map(item)}</ul>
        </>
      )}
      <h2>{mine.length > 0 ? "Other teams" : "Teams"}</h2>
      {teams.length === 0 ? <p class="muted pad">No teams in the cache yet.</p> : <ul>{others.map(item)}</ul>}
      <h2>Gaps</h2>
      <ul>
        <li>
          <button
            class={`team${selection?.kind === "orphans" ? " selected" : ""}`}
            data-team="orphans"
            onClick={() => onSelect({ kind: "orphans" })}
          >
            <span class="team-title">Orphaned services</span>
            <span class={orphanCount > 0 ? "team-gaps danger" : "team-count"}>{orphanCount}</span>
          </button>
        </li>
      </ul>
      <h2>Data</h2>
      <ul>
        <li>
          <button
            class={`team${selection?.kind === "sources" ? " selected" : ""}`}
            data-team="sources"
            onClick={() => onSelect({ kind: "sources" })}
          >
            <span class="team-title">Sources</span>
            <span class={`dot ${sourcesHealth}`} title={sourcesHealth} />
          </button>
        </li>
      </ul>
    </nav>
  );
}
