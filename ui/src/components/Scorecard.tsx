import { useEffect, useState } from "preact/hooks";
import { errorMessage, type CheckInfo, type ReportKind, type ScorecardView, type ServiceScorecard, type Tally } from "../ipc";
import { ageOf } from "../lib/format";
import { useEscape } from "../lib/keys";
import { DeployChart } from "./DeployChart";
import { Modal } from "./Modal";

interface Props {
  view: ScorecardView;
  now: number;
  /** With the groups below the team (a team's scorecard only). */
  onBelow?(below: boolean): void;
  onOpenTeam(key: string): void;
  loadService(key: string): Promise<ServiceScorecard>;
  onOpenLink(url: string): void;
  onExport(kind: ReportKind, markdown: boolean): void;
}

/** A team's or the organisation's production readiness: the level most services reach, how it
 *  moved, what fails most and what got worse; then each service check by check (a team) or
 *  each team (the organisation). A failing service opens how to fix it. */
export function Scorecard({ view, now, onBelow, onOpenTeam, loadService, onOpenLink, onExport }: Props) {
  const [fixing, setFixing] = useState<string | null>(null);
  const name = (id: string) => view.checks.find((c) => c.id === id)?.name ?? id;
  const isTeam = view.team !== null;
  return (
    <div class="scorecard">
      <section class="score-summary" aria-label="Summary">
        <div class="score-level">
          <LevelChip level={view.tally.services > 0 ? view.level : null} big />
          <span class="muted">level most services reach</span>
        </div>
        <div class="score-numbers">
          <strong>{percent(view.tally)}%</strong> of checks pass across <strong>{view.tally.services}</strong> services
          <LevelBar tally={view.tally} levels={view.levels} />
        </div>
        <div class="score-actions">
          {isTeam && onBelow && view.teams.length > 0 && (
            <span class="segmented" role="group" aria-label="Services counted">
              <button class={view.below ? "" : "on"} aria-pressed={!view.below} onClick={() => onBelow(false)}>
                this team
              </button>
              <button class={view.below ? "on" : ""} aria-pressed={view.below} data-below onClick={() => onBelow(true)}>
                with groups below
              </button>
            </span>
          )}
          <button class="link" data-export="csv" onClick={() => onExport(isTeam ? "ownership" : "scorecard", false)}>
            Export CSV
          </button>
          <button class="link" data-export="markdown" onClick={() => onExport(isTeam ? "ownership" : "scorecard", true)}>
            Export markdown
          </button>
          {view.computed_at && <span class="muted small">worked out {ageOf(view.computed_at, now)} ago</span>}
        </div>
      </section>
      <div class="score-columns">
        <section class="card" aria-label="Trend">
          <h3>Checks passing, last 90 days</h3>
          {view.trend.length > 1 ? (
            <DeployChart
              days={view.trend.map((p) => p.day)}
              counts={view.trend.map((p) => p.percent)}
              label="checks passing"
              summary={`Checks passing went from ${view.trend[0].percent}% on ${view.trend[0].day} to ${view.trend[view.trend.length - 1].percent}%`}
              shape="line"
              yMax={100}
              width={420}
              height={130}
            />
          ) : (
            <p class="muted">The trend starts today: a point is kept each day.</p>
          )}
        </section>
        <section class="card" aria-label="Failing most">
          <h3>Failing most</h3>
          {view.failing_most.length === 0 ? (
            <p class="muted">Every check passes.</p>
          ) : (
            <ul class="plain failing-most">
              {view.failing_most.slice(0, 5).map(([check, count]) => (
                <li key={check} title={view.checks.find((c) => c.id === check)?.why}>
                  <span class="count">{count}</span> {name(check)}
                </li>
              ))}
            </ul>
          )}
          <h3>Worse than a week ago</h3>
          {view.worse.length === 0 ? (
            <p class="muted">Nothing got worse.</p>
          ) : (
            <ul class="plain" data-worse>
              {view.worse.map((w) => (
                <li key={w.key}>
                  <button class="link" onClick={() => setFixing(w.key)}>
                    {w.name}
                  </button>{" "}
                  <span class="muted">
                    {w.was} → {w.now}
                    {w.newly_failing.length > 0 && `, now failing ${w.newly_failing.map(name).join(", ")}`}
                  </span>
                </li>
              ))}
            </ul>
          )}
        </section>
      </div>
      {view.teams.length > 0 && (
        <section aria-label={isTeam ? "Sub-teams" : "Teams"}>
          <h3>{isTeam ? "Sub-teams, with the groups below them" : "Teams, each with the groups below it"}</h3>
          <table class="score-table">
            <thead>
              <tr>
                <th>Team</th>
                <th>Level</th>
                <th class="num">Services</th>
                <th class="num">Passing</th>
                <th>Levels</th>
                <th>Fails most</th>
              </tr>
            </thead>
            <tbody>
              {view.teams.map((t) => {
                const worst = Object.entries(t.tally.failing).sort((a, b) => b[1] - a[1])[0];
                return (
                  <tr key={t.key} data-team-row={t.key}>
                    <td style={{ paddingLeft: `${8 + (isTeam ? 0 : t.depth * 16)}px` }}>
                      <button class="link" onClick={() => onOpenTeam(t.key)}>
                        {t.title}
                      </button>
                    </td>
                    <td>
                      <LevelChip level={t.tally.services > 0 ? t.level : null} />
                    </td>
                    <td class="num">{t.tally.services}</td>
                    <td class="num">{t.tally.services > 0 ? `${percent(t.tally)}%` : "—"}</td>
                    <td>
                      <LevelBar tally={t.tally} levels={view.levels} />
                    </td>
                    <td class="muted">{worst ? `${name(worst[0])} (${worst[1]})` : ""}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </section>
      )}
      {isTeam && (
        <section aria-label="Services">
          <h3>Services, check by check</h3>
          {view.services.length === 0 ? (
            <p class="muted">No services.</p>
          ) : (
            <table class="score-table score-services">
              <thead>
                <tr>
                  <th>Service</th>
                  <th>Level</th>
                  {view.checks.map((c) => (
                    <th key={c.id} class="check-head" title={`${c.name} (${c.level}): ${c.why}`}>
                      <span>{c.id}</span>
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {view.services.map((s) => (
                  <tr key={s.key} data-service={s.name} class="clickable" onClick={() => setFixing(s.key)}>
                    <td>
                      <button class="link">{s.title}</button>
                    </td>
                    <td>
                      <LevelChip level={s.level} />
                    </td>
                    {s.outcomes.map((o) => (
                      <td key={o.check} class={`check ${o.passed ? "pass" : "fail"}`} data-check={o.check} title={`${name(o.check)}: ${o.detail}`}>
                        {o.passed ? "✓" : "✗"}
                      </td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      )}
      {fixing && <HowToFix service={fixing} load={loadService} onOpenLink={onOpenLink} onClose={() => setFixing(null)} />}
    </div>
  );
}

function percent(t: Tally): number {
  return t.total === 0 ? 100 : Math.floor((t.passed * 100) / t.total);
}

export function LevelChip({ level, big = false }: { level: string | null; big?: boolean }) {
  const shown = level ?? "—";
  return (
    <span class={`readiness readiness-${level ?? "empty"}${big ? " big" : ""}`} data-level={shown}>
      {shown}
    </span>
  );
}

/** Services per level as one stacked bar, `none` first. */
function LevelBar({ tally, levels }: { tally: Tally; levels: string[] }) {
  if (tally.services === 0) return null;
  const names = ["none", ...levels];
  const parts = tally.at_level.map((count, i) => ({ name: names[i] ?? "?", count })).filter((p) => p.count > 0);
  return (
    <span class="readiness-bar" role="img" aria-label={parts.map((p) => `${p.count} ${p.name}`).join(", ")}>
      {parts.map((p) => (
        <span key={p.name} class={`readiness-${p.name}`} style={{ flexGrow: p.count }} title={`${p.count} at ${p.name}`} />
      ))}
    </span>
  );
}

/** A service's failing checks: what was found, why it matters, what to do, the YAML to add and
 *  a way into the catalog file where it goes. */
export function HowToFix({ service, load, onOpenLink, onClose }: { service: string; load(key: string): Promise<ServiceScorecard>; onOpenLink(url: string): void; onClose(): void }) {
  useEscape(onClose);
  const [card, setCard] = useState<ServiceScorecard | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    load(service).then(setCard, (e) => setError(errorMessage(e)));
  }, [service]);
  const info = (c: CheckInfo) => `${c.name} (${c.level})`;
  return (
    <Modal label="How to fix" class="dialog fix-dialog" onClose={onClose}>
      <header class="dialog-head">
        <h2>{card ? card.row.title : "Reading…"}</h2>
        {card && <LevelChip level={card.row.level} />}
        <button class="close" aria-label="Close" onClick={onClose}>
          ×
        </button>
      </header>
      {error && <p class="banner error">{error}</p>}
      {card && (
        <div class="dialog-body">
          {card.fixes.length === 0 ? (
            <p>Every check passes.</p>
          ) : (
            <>
              <p class="muted">
                {card.fixes.length} of {card.checks.length} checks fail. The catalog's fixes go in the service's file
                {card.edit_url ? "" : " (its location does not say where it is edited: find it in the catalog's repository)"}.
              </p>
              {card.edit_url && (
                <button class="primary" data-edit onClick={() => onOpenLink(card.edit_url!)}>
                  Edit its catalog file
                </button>
              )}
              <ol class="fixes">
                {card.fixes.map((f) => (
                  <li key={f.check.id} data-fix={f.check.id}>
                    <strong>{info(f.check)}</strong>: {f.detail}
                    <div class="muted">Why: {f.check.why}.</div>
                    <div>
                      Fix: {f.check.fix}.{" "}
                      {f.check.docs && (
                        <button class="link" onClick={() => onOpenLink(f.check.docs)}>
                          Read more
                        </button>
                      )}
                    </div>
                    {f.snippet && <pre class="snippet">{f.snippet}</pre>}
                  </li>
                ))}
              </ol>
            </>
          )}
        </div>
      )}
    </Modal>
  );
}
