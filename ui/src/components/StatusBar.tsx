import type { SourceStatus, SyncProgress } from "../ipc";
import { ageOf, sourceHealth } from "../lib/format";

interface Props {
  sources: SourceStatus[];
  progress: Record<string, SyncProgress>;
  syncing: boolean;
  now: number;
  onRefresh(): void;
}

const HEALTH_TEXT = {
  fresh: "fresh",
  stale: "stale",
  failing: "failing",
  never: "never synced",
  unsupported: "not synced by this version",
} as const;

/** Each source's health and age at a glance; a failing source shows its error's first line, all of it on hover. */
export function StatusBar({ sources, progress, syncing, now, onRefresh }: Props) {
  return (
    <footer class="statusbar" aria-label="Sources">
      {sources.map((s) => {
        const health = sourceHealth(s, now);
        const p = progress[s.name];
        const age = ageOf(s.last_success, now);
        return (
          <span key={s.name} class={`source ${health}`} data-source={s.name} title={s.last_error ?? undefined}>
            <span class="dot" aria-hidden="true" />
            <strong>{s.name}</strong>
            <span>{HEALTH_TEXT[health]}</span>
            {age && <span class="muted">synced {age} ago</span>}
            <span class="muted">{s.item_count} items</span>
            {syncing && p && (
              <span class="muted">
                · page {p.pages}, {p.items}
                {p.total !== null ? `/${p.total}` : ""}
              </span>
            )}
            {health === "failing" && s.last_error && <span class="error-text">{s.last_error.split("\n")[0]}</span>}
          </span>
        );
      })}
      <button class="refresh" onClick={onRefresh} disabled={syncing}>
        {syncing ? "Syncing…" : "Refresh"}
      </button>
    </footer>
  );
}
