import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { Activity } from "./components/Activity";
import { AuditLog } from "./components/Audit";
import { RollbackDialog, RollbackPanel, type RollbackAsk } from "./components/Rollback";
import { RunbookList, RunbookPicker, RunbookRunForm, RunbookRuns, RunbookViewer, type RunbookContext } from "./components/Runbooks";
import { Delivery } from "./components/Delivery";
import { OnCall } from "./components/OnCall";
import { OnCallPanel } from "./components/OnCallPanel";
import { Palette } from "./components/Palette";
import { Releases } from "./components/Releases";
import { ServicePage } from "./components/ServicePage";
import { ServiceTable } from "./components/ServiceTable";
import { Sidebar, type Selection } from "./components/Sidebar";
import { Sources } from "./components/Sources";
import { StaleNotice } from "./components/StaleNotice";
import { StatusBar } from "./components/StatusBar";
import { staleSources, worstHealth } from "./lib/format";
import {
  errorMessage,
  type AuditEntry,
  type EntitySummary,
  type Ipc,
  type OnCallPanel as Panel,
  type ReleaseMatrix,
  type RollbackProgress,
  type RunbookAsk,
  type RunbookDocument,
  type RunbookForm,
  type RunbookRow,
  type RunbookRunProgress,
  type ServiceDelivery,
  type SearchHit,
  type ServiceDetail,
  type ServiceRow,
  type SourceStatus,
  type SyncProgress,
  type TeamOnCall,
  type TeamSummary,
} from "./ipc";

export function App({ ipc }: { ipc: Ipc }) {
  const [teams, setTeams] = useState<TeamSummary[]>([]);
  const [orphans, setOrphans] = useState<ServiceRow[]>([]);
  const [selection, setSelection] = useState<Selection | null>(null);
  const [services, setServices] = useState<ServiceRow[]>([]);
  const [serviceKey, setServiceKey] = useState<string | null>(null);
  const [detail, setDetail] = useState<ServiceDetail | null>(null);
  // What is on fire for the team on screen, and for the service page.
  const [teamPanel, setTeamPanel] = useState<Panel | null>(null);
  const [servicePanel, setServicePanel] = useState<Panel | null>(null);
  const [overview, setOverview] = useState<TeamOnCall[]>([]);
  const [delivery, setDelivery] = useState<ServiceDelivery | null>(null);
  // A team's services, or its releases (the product manager's view).
  const [teamTab, setTeamTab] = useState<"services" | "releases">("services");
  const [matrix, setMatrix] = useState<ReleaseMatrix | null>(null);
  const [environments, setEnvironments] = useState<string[]>([]);
  const [sources, setSources] = useState<SourceStatus[]>([]);
  const [identity, setIdentity] = useState<string | null>(null);
  const [progress, setProgress] = useState<Record<string, SyncProgress>>({});
  // Sources with a manual sync in flight; "*" while all of them sync.
  const [syncing, setSyncing] = useState<Set<string>>(new Set());
  const [paletteOpen, setPaletteOpen] = useState(false);
  // The rollback being planned, and those started here (live until dismissed).
  const [rollbackAsk, setRollbackAsk] = useState<RollbackAsk | null>(null);
  const [rollbacks, setRollbacks] = useState<RollbackProgress[]>([]);
  const [audit, setAudit] = useState<AuditEntry[]>([]);
  const [serviceAudit, setServiceAudit] = useState<AuditEntry[]>([]);
  // Runbooks: the service's, the picker (R), the markdown open, the form open, runs going.
  const [serviceRunbooks, setServiceRunbooks] = useState<RunbookRow[]>([]);
  const [runbookContext, setRunbookContext] = useState<RunbookContext | null>(null);
  const [reading, setReading] = useState<{ service: string; template: string; document: RunbookDocument } | null>(null);
  const [runForm, setRunForm] = useState<{ service: string; ask: RunbookAsk; form: RunbookForm } | null>(null);
  const [runbookRuns, setRunbookRuns] = useState<RunbookRunProgress[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [now, setNow] = useState(Date.now());
  // Bumped whenever the cache changes, so every open screen re-reads it.
  const [generation, setGeneration] = useState(0);
  const filterRef = useRef<HTMLInputElement | null>(null);
  const reportedReady = useRef(false);

  const fail = (e: unknown) => setError(errorMessage(e));
  const overlayOpen = !!(rollbackAsk || runbookContext || reading || runForm);

  useEffect(() => {
    ipc.identity().then(setIdentity, fail);
    const unsubscribers = [
      ipc.onSyncProgress((p) => setProgress((all) => ({ ...all, [p.source]: p }))),
      ipc.onCacheChanged(() => {
        setProgress({});
        setGeneration((g) => g + 1);
      }),
      ipc.onOpenService((key) => setServiceKey(key)),
      ipc.onRollbackProgress((p) => {
        showRollback(p);
        setGeneration((g) => g + 1);
      }),
      ipc.onRunbookProgress((p) => {
        showRunbookRun(p);
        if (p.finished) setGeneration((g) => g + 1);
      }),
    ];
    // Ages move on without any sync (a platform that asked us to wait an hour sends no
    // events): re-read the sources' verdicts with the clock.
    const ticker = setInterval(() => {
      ipc.sources().then((s) => {
        setSources(s);
        setNow(Date.now());
      }, fail);
    }, 5000);
    return () => {
      clearInterval(ticker);
      unsubscribers.forEach((u) => u.then((stop) => stop()));
    };
  }, []);

  useEffect(() => {
    Promise.all([ipc.teams(), ipc.orphanedServices(), ipc.sources(), ipc.onCallOverview(), ipc.environments()]).then(([t, o, s, on, envs]) => {
      setTeams(t);
      setEnvironments(envs);
      setOrphans(o);
      setSources(s);
      setOverview(on);
      // Ages are measured against the clock the sources were read at, not the last tick.
      setNow(Date.now());
      setSelection((current) => current ?? (t.length > 0 ? { kind: "team", key: t[0].key } : null));
    }, fail);
  }, [generation]);

  // An error belongs to the page it happened on.
  useEffect(() => setError(null), [selection, serviceKey]);

  useEffect(() => {
    if (selection?.kind === "audit") ipc.audit(null).then(setAudit, fail);
  }, [selection, generation]);

  useEffect(() => {
    if (!selection || selection.kind === "sources" || selection.kind === "on-call" || selection.kind === "activity" || selection.kind === "audit") return;
    const load = selection.kind === "team" ? ipc.teamServices(selection.key) : ipc.orphanedServices();
    load.then(setServices, fail);
    if (selection.kind === "team") ipc.onCall({ team: selection.key }).then(setTeamPanel, fail);
    else setTeamPanel(null);
    if (selection.kind === "team" && teamTab === "releases") ipc.releaseMatrix(selection.key).then(setMatrix, fail);
    else setMatrix(null);
  }, [selection, generation, teamTab]);

  useEffect(() => {
    if (!serviceKey) {
      setDetail(null);
      setServicePanel(null);
      setDelivery(null);
      return;
    }
    ipc.service(serviceKey).then(setDetail, fail);
    ipc.onCall({ service: serviceKey }).then(setServicePanel, fail);
    ipc.serviceDelivery(serviceKey).then(setDelivery, fail);
    ipc.audit(serviceKey).then(setServiceAudit, fail);
    ipc.runbooks(serviceKey, NO_ASK).then(setServiceRunbooks, fail);
  }, [serviceKey, generation]);

  useEffect(() => {
    if (!reportedReady.current && teams.length > 0) {
      reportedReady.current = true;
      requestAnimationFrame(() => ipc.uiReady().catch(() => undefined));
    }
  }, [teams]);

  // Registered once; reads the newest render's state, so a key pressed right after a change
  // sees it.
  const keyState = useRef({ paletteOpen, serviceKey, detail, overlayOpen });
  keyState.current = { paletteOpen, serviceKey, detail, overlayOpen };
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const { paletteOpen, serviceKey, detail, overlayOpen } = keyState.current;
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "k") {
        e.preventDefault();
        setPaletteOpen(true);
      } else if (e.key.toLowerCase() === "r" && !e.ctrlKey && !e.metaKey && !e.altKey && !isTyping(e) && !overlayOpen && !paletteOpen && serviceKey && detail) {
        e.preventDefault();
        setRunbookContext({ service: serviceKey, ask: NO_ASK, label: detail.name });
      } else if (e.key === "Escape" && !paletteOpen && !overlayOpen && serviceKey) {
        setServiceKey(null);
      } else if (e.key === "/" && !paletteOpen && !isTyping(e)) {
        e.preventDefault();
        filterRef.current?.focus();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  const selectTeam = useCallback((s: Selection) => {
    setSelection(s);
    setServiceKey(null);
  }, []);

  const openEntity = (e: EntitySummary) => {
    if (e.kind === "group") selectTeam({ kind: "team", key: e.key });
    else setServiceKey(e.key);
  };

  // A service opens in its owner team's context, so the sidebar and "back" match what is shown.
  // A service without an owner in the catalog opens among the orphans: a normal state.
  const pick = (hit: SearchHit) => {
    setPaletteOpen(false);
    if (hit.team) setSelection({ kind: "team", key: hit.team });
    else if (hit.kind === "component") setSelection({ kind: "orphans" });
    setServiceKey(hit.kind === "component" ? hit.key : null);
  };

  const sync = (source: string | null) => {
    const key = source ?? "*";
    setSyncing((all) => new Set(all).add(key));
    setError(null);
    const done = () =>
      setSyncing((all) => {
        const rest = new Set(all);
        rest.delete(key);
        return rest;
      });
    ipc.syncNow(source).then((reports) => {
      done();
      const failed = reports.flatMap((r) => (r.landed ? [] : r.problems));
      if (failed.length) setError(failed[0]);
    }, (e) => {
      done();
      fail(e);
    });
  };
  const openSources = () => selectTeam({ kind: "sources" });
  // Newest state of each rollback, by key; the panel lists them newest first.
  function showRollback(p: RollbackProgress) {
    setRollbacks((all) => [p, ...all.filter((r) => r.key !== p.key)]);
  }
  const dismissRollback = (key: string) => setRollbacks((all) => all.filter((r) => r.key !== key));
  function showRunbookRun(p: RunbookRunProgress) {
    setRunbookRuns((all) => [p, ...all.filter((r) => r.key !== p.key)]);
  }
  // A runbook is used as its kind says: a page opens in the browser, markdown is read here,
  // a workflow asks for its inputs. Each launch goes through the engine (and the audit log).
  const launchRunbook = (service: string, ask: RunbookAsk, row: RunbookRow) => {
    setRunbookContext(null);
    if (row.kind.kind === "markdown") {
      ipc.runbookDocument(service, row.template, false).then((document) => setReading({ service, template: row.template, document }), fail);
    } else if (row.kind.kind === "automated") {
      ipc.runbookForm(service, row.template, ask).then((form) => setRunForm({ service, ask, form }), fail);
    } else {
      ipc.openRunbook(service, row.template, ask).catch(fail);
    }
  };
  const exportAudit = () =>
    ipc.exportAudit().then((path) => setError(`Audit log exported to ${path}`), fail);
  const openLink = (url: string) => ipc.openLink(url).catch(fail);
  const triggered = overview.reduce((n, t) => n + t.triggered, 0);

  const team = selection?.kind === "team" ? teams.find((t) => t.key === selection.key) : undefined;
  const heading =
    selection?.kind === "orphans"
      ? "Orphaned services"
      : selection?.kind === "on-call"
        ? "On call"
        : selection?.kind === "activity"
          ? "Activity"
          : (team?.title ?? "");
  const stale = staleSources(sources, serviceKey && detail ? detail.sources : undefined);

  return (
    <div class="app">
      <header class="topbar">
        <span class="brand">Opsdeck</span>
        <button class="search-button" onClick={() => setPaletteOpen(true)}>
          Search services, teams, people… <kbd>Ctrl K</kbd>
        </button>
        {identity && <span class="muted identity">{identity}</span>}
      </header>
      {error && (
        <div class="banner error" role="alert">
          {error}
          <button class="close" aria-label="Dismiss" onClick={() => setError(null)}>
            ×
          </button>
        </div>
      )}
      <Sidebar
        teams={teams}
        orphanCount={orphans.length}
        sourcesHealth={worstHealth(sources)}
        triggered={triggered}
        selection={selection}
        onSelect={selectTeam}
      />
      <main class="main">
        {selection?.kind !== "sources" && <StaleNotice stale={stale} now={now} onOpenSources={openSources} />}
        {selection?.kind === "sources" ? (
          <Sources sources={sources} progress={progress} syncing={syncing} now={now} onSync={sync} />
        ) : serviceKey && detail ? (
          <ServicePage
            key={serviceKey}
            detail={detail}
            onOpenEntity={openEntity}
            onBack={() => setServiceKey(null)}
            backLabel={heading || "Back"}
            onCall={servicePanel && <OnCallPanel panel={servicePanel} now={now} onOpenLink={openLink} onRunbooks={setRunbookContext} />}
            delivery={
              delivery &&
              delivery.service.key === serviceKey && (
                <Delivery
                  key={serviceKey}
                  delivery={delivery}
                  now={now}
                  onOpenLink={openLink}
                  loadChanges={(from, to, askGithub) => ipc.changes(serviceKey, from, to, askGithub)}
                  onRollback={(environment) => setRollbackAsk({ service: serviceKey, name: delivery.service.name, environment })}
                />
              )
            }
            runbooks={<RunbookList rows={serviceRunbooks} now={now} onUse={(row) => launchRunbook(serviceKey, NO_ASK, row)} />}
            audit={serviceAudit.length > 0 && <AuditLog title="Rollbacks and other actions" entries={serviceAudit} now={now} showService={false} />}
            onOpenLink={openLink}
          />
        ) : selection?.kind === "on-call" ? (
          <OnCall teams={overview} onOpenTeam={(key) => selectTeam({ kind: "team", key })} />
        ) : selection?.kind === "activity" ? (
          <Activity
            teams={teams}
            environments={environments}
            now={now}
            generation={generation}
            load={ipc.activity}
            onOpenService={setServiceKey}
            onOpenLink={openLink}
            onRollback={(row) => setRollbackAsk({ service: row.service.key, name: row.service.name, environment: row.environment })}
            onError={fail}
          />
        ) : selection?.kind === "audit" ? (
          <div class="page">
            <div class="team-head">
              <h1>Audit log</h1>
              <span class="muted">Every action Opsdeck took on a platform: who, what, the plan and the outcome</span>
            </div>
            <div class="scroll">
              <AuditLog title={null} entries={audit} now={now} showService onOpenService={setServiceKey} onExport={exportAudit} />
            </div>
          </div>
        ) : selection ? (
          <>
            <div class="team-head">
              <h1>{heading}</h1>
              {team && (
                <span class="muted">
                  {team.service_count} services · {team.member_count} members ·{" "}
                  <span class={team.gap_count ? "warn-text" : ""}>{team.gap_count} gaps</span>
                  {team.is_mine && <span class="chip accent">my team</span>}
                </span>
              )}
              {selection.kind === "orphans" && (
                <span class="muted">Services whose owner group is not in the catalog</span>
              )}
              {selection.kind === "team" && (
                <span class="segmented tabs" role="tablist">
                  {(["services", "releases"] as const).map((tab) => (
                    <button key={tab} role="tab" data-tab={tab} class={teamTab === tab ? "on" : ""} aria-selected={teamTab === tab} onClick={() => setTeamTab(tab)}>
                      {tab === "services" ? "Services" : "Releases"}
                    </button>
                  ))}
                </span>
              )}
            </div>
            {selection.kind === "team" && teamTab === "releases" ? (
              matrix && matrix.team === selection.key ? (
                <div class="scroll">
                  <Releases key={selection.key} matrix={matrix} now={now} onOpenService={setServiceKey} />
                </div>
              ) : (
                <p class="muted pad">Reading releases…</p>
              )
            ) : (
              <>
                {selection.kind === "team" && teamPanel && (
                  <OnCallPanel panel={teamPanel} now={now} onOpenLink={openLink} onOpenService={setServiceKey} onRunbooks={setRunbookContext} />
                )}
                {/* Keyed by team: another team starts with a fresh filter, order and cursor. */}
                <ServiceTable
                  key={selection.kind === "team" ? selection.key : "orphans"}
                  services={services}
                  onOpen={setServiceKey}
                  filterRef={filterRef}
                />
              </>
            )}
          </>
        ) : (
          <p class="muted pad">{syncing.size > 0 ? "Syncing the catalog…" : "The cache is empty. Press Refresh to sync."}</p>
        )}
      </main>
      <StatusBar
        sources={sources}
        progress={progress}
        syncing={syncing.size > 0}
        now={now}
        onRefresh={() => sync(null)}
        onOpenSources={openSources}
      />
      {paletteOpen && <Palette search={ipc.search} onPick={pick} onClose={() => setPaletteOpen(false)} />}
      {rollbackAsk && (
        <RollbackDialog
          ask={rollbackAsk}
          now={now}
          plan={ipc.planRollback}
          confirm={ipc.startRollback}
          onStarted={showRollback}
          onClose={() => setRollbackAsk(null)}
        />
      )}
      {runbookContext && (
        <RunbookPicker
          context={runbookContext}
          now={now}
          load={ipc.runbooks}
          onUse={(row) => launchRunbook(runbookContext.service, runbookContext.ask, row)}
          onClose={() => setRunbookContext(null)}
        />
      )}
      {reading && (
        <RunbookViewer
          document={reading.document}
          now={now}
          onRefresh={() =>
            ipc.runbookDocument(reading.service, reading.template, true).then((document) => setReading({ ...reading, document }), fail)
          }
          onOpenLink={openLink}
          onClose={() => setReading(null)}
        />
      )}
      {runForm && (
        <RunbookRunForm
          form={runForm.form}
          onRun={(inputs) => ipc.runRunbook(runForm.service, runForm.form.template, runForm.ask, inputs).then(showRunbookRun)}
          onClose={() => setRunForm(null)}
        />
      )}
      {(rollbacks.length > 0 || runbookRuns.length > 0) && (
        <aside class="rollback-panel" aria-label="Actions in progress" aria-live="polite">
          <RollbackPanel rollbacks={rollbacks} now={now} onOpenLink={openLink} onDismiss={dismissRollback} />
          <RunbookRuns runs={runbookRuns} now={now} onOpenLink={openLink} onDismiss={(key) => setRunbookRuns((all) => all.filter((r) => r.key !== key))} />
        </aside>
      )}
    </div>
  );
}

const NO_ASK: RunbookAsk = { incident_id: null, alert: null, environment: null };

function isTyping(e: KeyboardEvent): boolean {
  const target = e.target as HTMLElement | null;
  return !!target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.isContentEditable);
}
