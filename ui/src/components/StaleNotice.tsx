import type { SourceStatus } from "../ipc";
import { ageOf, formatInterval } from "../lib/format";

interface Props {
  /** Stale sources feeding the screen; nothing is drawn when empty. */
  stale: SourceStatus[];
  now: number;
  onOpenSources(): void;
}

/** Says that what is on screen is old, how old, and why, so nobody acts on it unawares. */
export function StaleNotice({ stale, now, onOpenSources }: Props) {
  if (stale.length === 0) return null;
  return (
    <div class="stale-notice" role="status">
      {stale.map((s) => (
        <div key={s.name}>
          <strong>
            Data from {s.name} is {ageOf(s.last_success, now)} old
          </strong>{" "}
          (it syncs every {formatInterval(s.interval_secs)})
          {s.last_error && s.consecutive_failures > 0 ? ` — last sync failed: ${s.last_error.split("\n")[0]}` : ""}.
        </div>
      ))}
      <button class="link" onClick={onOpenSources}>
        Sources
      </button>
    </div>
  );
}
