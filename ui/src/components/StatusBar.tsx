import type { SourceStatus, SyncProgress } from "../ipc";
import { ageOf, healthText } from "../lib/format";

interface Props {
  sources: SourceStatus[];
  progress: Record<string, SyncProgress>;
  syncing: boolean;
  now: number;
  onRefresh(): void;
  onOpenSources(): void;
}

/**
 * Each source's badge and age at a glance. A lone failing source shows its error's first line;
 * with several failing, the bar keeps to badges (every error is on hover and on Sources).
 */
export function StatusBar({ sources, progress, syncing, now, onRefresh, onOpenSources }: Props) {
  const failing = sources.filter((s) => s.health === "failing").length;
  return (
    <footer class="statusbar" aria-label="Sources">
      {sources.map((s) => {
        const p = progress[s.name];
        const age = ageOf(s.last_success, now);
        return (
          <button
            key={s.name}
            class={`source ${s.health}`}
            data-source={s.name}
            title={s.last_error ?? "Open the Sources screen"}
            onClick={onOpenSources}
          >
            <span class="dot" aria-hidden="true" />
            <strong>{s.name}</strong>
            <span>{healthText(s)}</span>
            {age && <span class="muted">synced {age} ago</span>}
            <span class="muted">{s.item_count} items</span>
            {p && (
              <span class="muted">
                · page {p.pages}, {p.items}
                {p.total !== null ? `/${p.total}` : ""}
              </span>
            )}
            {s.health === "failing" && failing === 1 && s.last_error && <span class="error-text">{s.last_error.split("\n")[0]}</span>}
          </button>
        );
      })}
      <button class="refresh" onClick={onRefresh} disabled={syncing}>
        {syncing ? "Syncing…" : "Refresh"}
      </button>
    </footer>
  );
}
