import { useState } from "preact/hooks";
import { errorMessage, type SourceCheck, type SourceStatus, type SyncProgress } from "../ipc";
import { ageOf, clockTime, formatInterval, healthText } from "../lib/format";

interface Props {
  sources: SourceStatus[];
  progress: Record<string, SyncProgress>;
  /** Sources with a manual sync in flight ("*" for all). */
  syncing: Set<string>;
  now: number;
  onSync(source: string | null): void;
  /** Tests a source's connection (one cheap, read-only call). */
  onCheck(source: string): Promise<SourceCheck>;
}

/** What *Test connection* last said of a source, that it is asking, or why it could not ask. */
type Checked = "checking" | { answer: SourceCheck } | { failure: string };

/** Every source's health, cost and last error in full, with a sync button and a connection
 *  test each. */
export function Sources({ sources, progress, syncing, now, onSync, onCheck }: Props) {
  const busy = (name: string) => syncing.has(name) || syncing.has("*");
  const [checks, setChecks] = useState<Record<string, Checked>>({});
  const check = (name: string) => {
    setChecks((all) => ({ ...all, [name]: "checking" }));
    const keep = (checked: Checked) => setChecks((all) => ({ ...all, [name]: checked }));
    onCheck(name).then(
      (answer) => keep({ answer }),
      (e) => keep({ failure: errorMessage(e) }),
    );
  };
  return (
    <section class="sources-screen" aria-label="Sources">
      <div class="team-head">
        <h1>Sources</h1>
        <span class="muted">Every screen answers from the cache; this is how old it is and why.</span>
        <button class="test-all" onClick={() => sources.forEach((s) => check(s.name))} data-check-all>
          Test all connections
        </button>
        <button class="primary" onClick={() => onSync(null)} disabled={syncing.size > 0}>
          {syncing.has("*") ? "Syncing all…" : "Sync all"}
        </button>
      </div>
      <table class="sources-table">
        <thead>
          <tr>
            <th>Source</th>
            <th>Health</th>
            <th>Last success</th>
            <th>Next sync</th>
            <th class="num">Rows</th>
            <th>Last sync</th>
            <th>Requests, last hour</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {sources.map((s) => {
            const p = progress[s.name];
            return (
              <>
                <tr key={s.name} class={`source-row ${s.health}`} data-source-row={s.name}>
                  <td>
                    <strong>{s.name}</strong>
                    <div class="muted">
                      {s.kind} · every {formatInterval(s.interval_secs)}
                    </div>
                  </td>
                  <td>
                    <span class={`badge ${s.health}`}>{healthText(s)}</span>
                  </td>
                  <td>
                    {s.last_success ? (
                      <>
                        {ageOf(s.last_success, now)} ago
                        <div class="muted">{clockTime(s.last_success)}</div>
                      </>
                    ) : (
                      <span class="muted">never</span>
                    )}
                  </td>
                  <td>{clockTime(s.next_sync)}</td>
                  <td class="num">{s.item_count}</td>
                  <td>
                    {s.last_duration_ms !== null ? (
                      <>
                        {formatMs(s.last_duration_ms)} · {plural(s.last_requests ?? 0, "request")}
                        <div class="muted">
                          {s.consecutive_failures > 0
                            ? "failed; the cache was kept"
                            : s.last_rows_written === null
                              ? "nothing landed yet"
                              : s.last_rows_written === 0
                                ? "nothing new"
                                : `${plural(s.last_rows_written, "row")} written`}
                        </div>
                      </>
                    ) : (
                      "—"
                    )}
                  </td>
                  <td class="budget">
                    {plural(s.requests_last_hour, "request")}
                    {s.quota && (
                      <div class={s.quota.remaining === 0 ? "error-text" : "muted"}>
                        {s.quota.remaining}
                        {s.quota.limit !== null ? `/${s.quota.limit}` : ""} left
                        {s.quota.resets_at ? ` until ${clockTime(s.quota.resets_at)}` : ""}
                      </div>
                    )}
                  </td>
                  <td class="actions">
                    <div class="row-actions">
                      <button onClick={() => onSync(s.name)} disabled={busy(s.name)} data-sync={s.name}>
                        {busy(s.name) ? (p ? `page ${p.pages}, ${p.items}${p.total !== null ? `/${p.total}` : ""}` : "Syncing…") : "Sync now"}
                      </button>
                      <button onClick={() => check(s.name)} disabled={checks[s.name] === "checking"} data-check={s.name}>
                        {checks[s.name] === "checking" ? "Testing…" : "Test connection"}
                      </button>
                    </div>
                  </td>
                </tr>
                {checks[s.name] && checks[s.name] !== "checking" && <CheckRow source={s.name} checked={checks[s.name] as Exclude<Checked, "checking">} />}
                {s.warning && (
                  <tr key={`${s.name}-warning`} class="source-error-row">
                    <td colSpan={8}>
                      <span class="warn-text" data-warning={s.name}>
                        ⚠ {s.warning}
                      </span>
                    </td>
                  </tr>
                )}
                {s.last_error && (
                  <tr key={`${s.name}-error`} class="source-error-row">
                    <td colSpan={8}>
                      <span class={s.consecutive_failures > 0 ? "error-text" : "warn-text"}>
                        {s.consecutive_failures > 0
                          ? `Failed ${plural(s.consecutive_failures, "time")} in a row; the cache keeps the last good data.`
                          : "Landed, with problems in single documents:"}
                      </span>
                      <pre class="source-error">{s.last_error}</pre>
                    </td>
                  </tr>
                )}
              </>
            );
          })}
        </tbody>
      </table>
    </section>
  );
}

/** What a connection test found, or what is wrong, in the platform's words. */
function CheckRow({ source, checked }: { source: string; checked: Exclude<Checked, "checking"> }) {
  if ("failure" in checked) {
    return (
      <tr class="source-error-row" data-checked={source} data-ok="false">
        <td colSpan={8}>
          <span class="check-failed">✗ {checked.failure}</span>
        </td>
      </tr>
    );
  }
  const { answer } = checked;
  return (
    <tr class="source-error-row" data-checked={source} data-ok={String(answer.ok)}>
      <td colSpan={8}>
        {answer.ok ? (
          <span class="check-ok">
            ✓ Connected to {answer.address}: {answer.found}
          </span>
        ) : (
          <span class="check-failed">
            ✗ {answer.address ? `${answer.address}: ` : ""}
            {answer.problem}
          </span>
        )}
        <span class="muted">
          {" "}
          · {plural(answer.requests, "request")}, {formatMs(answer.took_ms)}
        </span>
      </td>
    </tr>
  );
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

function formatMs(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}
