import { useState } from "preact/hooks";
import { errorMessage, type DesktopSettings, type EditableSource, type SourceCheck, type SourcesFile, type SourceStatus, type SyncProgress } from "../ipc";
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
  /** The config file as the editor shows it (null until read). */
  file: SourcesFile | null;
  /** Whether the sources listed are the demo's. */
  demo: boolean;
  /** Opens the editor on a source, or on a new one. */
  onEdit(source: EditableSource | null): void;
  onRemove(name: string): void;
  onMove(name: string, index: number): void;
  /** Who the platforms know the user as (else Git), and who says so. */
  onDetectIdentity(): Promise<[string, string] | null>;
  onSetIdentity(email: string): void;
  /** The tray, closing the window and starting at login (null until read). */
  desktop: DesktopSettings | null;
  onStartAtLogin(on: boolean): void;
  onKeepRunning(on: boolean): void;
}

/** What *Test connection* last said of a source, that it is asking, or why it could not ask. */
type Checked = "checking" | { answer: SourceCheck } | { failure: string };

/** Every source's health, cost and last error in full, with a sync button and a connection
 *  test each. */
export function Sources({ sources, progress, syncing, now, onSync, onCheck, file, demo, onEdit, onRemove, onMove, onDetectIdentity, onSetIdentity, desktop, onStartAtLogin, onKeepRunning }: Props) {
  const busy = (name: string) => syncing.has(name) || syncing.has("*");
  const [checks, setChecks] = useState<Record<string, Checked>>({});
  // The source whose removal waits for a second click.
  const [removing, setRemoving] = useState<string | null>(null);
  const editable = (name: string) => (demo ? undefined : file?.sources.find((s) => s.form.name === name));
  const order = file?.sources.map((s) => s.form.name) ?? [];
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
        <button onClick={() => onEdit(null)} disabled={!file} data-add-source>
          Add source
        </button>
        <button class="primary" onClick={() => onSync(null)} disabled={syncing.size > 0}>
          {syncing.has("*") ? "Syncing all…" : "Sync all"}
        </button>
      </div>
      {demo ? (
        <p class="setup-note" data-demo-sources>
          These are the demo's simulated platforms. <strong>Add source</strong> connects your own: the demo gives way to them, with a cache of their own, and{" "}
          {file?.path ? <code>{file.path}</code> : "your config"} is written.
        </p>
      ) : (
        file && <IdentityLine identity={file.identity} onDetect={onDetectIdentity} onSet={onSetIdentity} />
      )}
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
                    {s.syncing_now && <div class="muted" data-syncing-now={s.name}>syncing now: {s.syncing_now.by}</div>}
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
                      {editable(s.name) && (
                        <span class="edit-actions">
                          <button onClick={() => onEdit(editable(s.name)!)} data-edit={s.name}>
                            Edit
                          </button>
                          <button aria-label={`Move ${s.name} up`} title="Earlier sources win where two describe the same entity" disabled={order.indexOf(s.name) <= 0} onClick={() => onMove(s.name, order.indexOf(s.name) - 1)} data-move-up={s.name}>
                            ↑
                          </button>
                          <button aria-label={`Move ${s.name} down`} title="Earlier sources win where two describe the same entity" disabled={order.indexOf(s.name) === order.length - 1} onClick={() => onMove(s.name, order.indexOf(s.name) + 1)} data-move-down={s.name}>
                            ↓
                          </button>
                          {removing === s.name ? (
                            <button class="danger-text" onClick={() => { setRemoving(null); onRemove(s.name); }} onBlur={() => setRemoving(null)} data-confirm-remove={s.name}>
                              Remove {s.name}?
                            </button>
                          ) : (
                            <button onClick={() => setRemoving(s.name)} data-remove={s.name}>
                              Remove
                            </button>
                          )}
                        </span>
                      )}
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
      {desktop && !demo && (
        <fieldset class="desktop-settings" data-desktop-settings>
          <legend>On this computer</legend>
          <label>
            <input type="checkbox" checked={desktop.start_at_login} onChange={(e) => onStartAtLogin(e.currentTarget.checked)} data-start-at-login />
            Start Opsdeck at login, in the tray
          </label>
          <label title={desktop.tray ? undefined : "No tray on this desktop: closing the window quits"}>
            <input type="checkbox" checked={desktop.keep_running_in_tray} disabled={!desktop.tray} onChange={(e) => onKeepRunning(e.currentTarget.checked)} data-keep-running />
            Keep syncing and notifying in the tray when the window closes
          </label>
        </fieldset>
      )}
    </section>
  );
}

/** What a connection test found, or what is wrong, in the platform's words. */
function CheckRow({ source, checked }: { source: string; checked: Exclude<Checked, "checking"> }) {
  const ok = !("failure" in checked) && checked.answer.ok;
  return (
    <tr class="source-error-row" data-checked={source} data-ok={String(ok)}>
      <td colSpan={8}>
        <CheckResult checked={checked} />
      </td>
    </tr>
  );
}

/** A connection test's answer in words: what it found, or what is wrong. */
export function CheckResult({ checked }: { checked: Exclude<Checked, "checking"> }) {
  if ("failure" in checked) return <span class="check-failed">✗ {checked.failure}</span>;
  const { answer } = checked;
  return (
    <>
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
    </>
  );
}

/** Who actions are sent as, and the email a platform knows the user by, to confirm. */
function IdentityLine({ identity, onDetect, onSet }: { identity: string | null; onDetect(): Promise<[string, string] | null>; onSet(email: string): void }) {
  const [found, setFound] = useState<"asking" | [string, string] | "nothing" | null>(null);
  const detect = () => {
    setFound("asking");
    onDetect().then(
      (answer) => setFound(answer ?? "nothing"),
      () => setFound("nothing"),
    );
  };
  return (
    <p class="setup-note" data-identity-line>
      You are {identity ? <strong>{identity}</strong> : <span class="warn-text">not set: actions and “my teams” need the email your platforms know you by</span>}.{" "}
      {found === null && (
        <button class="link" onClick={detect} data-detect-identity>
          Detect from my tokens
        </button>
      )}
      {found === "asking" && <span class="muted">Asking your platforms…</span>}
      {found === "nothing" && <span class="muted">Neither a platform nor git said who you are.</span>}
      {Array.isArray(found) &&
        (found[0] === identity ? (
          <span class="muted">{found[1]} agrees.</span>
        ) : (
          <>
            {found[1]} knows you as <strong>{found[0]}</strong>.{" "}
            <button class="link" onClick={() => { onSet(found[0]); setFound(null); }} data-use-identity>
              Use {found[0]}
            </button>
          </>
        ))}
    </p>
  );
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

function formatMs(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}
