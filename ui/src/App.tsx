import type { ComponentChildren } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ShortcutHelp } from "./components/ShortcutHelp";
import { typing, useShortcuts } from "./lib/shortcuts";
import { Activity } from "./components/Activity";
import { ActionDialog, ActionPanel, type ReassignChoice } from "./components/ActionDialog";
import { IncidentView } from "./components/IncidentView";
import { Incidents } from "./components/Incidents";
import { AuditLog } from "./components/Audit";
import { RollbackDialog, RollbackPanel, type RollbackAsk } from "./components/Rollback";
import { RunbookList, RunbookPicker, RunbookRunForm, RunbookRuns, RunbookViewer, type RunbookContext } from "./components/Runbooks";
import { Delivery } from "./components/Delivery";
import { OnCall } from "./components/OnCall";
import { OnCallPanel } from "./components/OnCallPanel";
import { Palette } from "./components/Palette";
import { Releases } from "./components/Releases";
import { HowToFix, LevelChip, Scorecard } from "./components/Scorecard";
import { TeamOverview } from "./components/TeamOverview";
import { ServicePage } from "./components/ServicePage";
import { ServiceTable, type TableView } from "./components/ServiceTable";
import { Sidebar, useSelectionMark, type Selection } from "./components/Sidebar";
import { Sources } from "./components/Sources";
import { Welcome } from "./components/Welcome";
import { SourceEditor } from "./components/SourceEditor";
import { StaleNotice } from "./components/StaleNotice";
import { StatusBar } from "./components/StatusBar";
import { staleSources, worstHealth } from "./lib/format";
import { passFocusOver } from "./lib/focus";
import { asked } from "./lib/latency";
import { NO_ASK, readServicePageAhead, readTeamPageAhead, servicePageAhead, teamPageAhead, useAuditPage, useIncident, useIncidentList, useInFlight, useSourcesFile, useOrganisation, useOrgScorecard, useServicePage, useTeamPage, type ServicePageAhead, type TeamPageAhead, type TeamTab } from "./state/pages";
import {
  errorMessage,
  type ActionProgress,
  type ActionRequest,
  type IncidentView as IncidentViewData,
  type SuspectRow,
  type EntitySummary,
  type Ipc,
  type DesktopSettings,
  type EditableSource,
  type LaunchInfo,
  type ReportKind,
  type RollbackProgress,
  type RunbookAsk,
  type RunbookDocument,
  type RunbookForm,
  type RunbookRow,
  type RunbookRunProgress,
  type SearchHit,
  type ServiceDetail,
  type SyncProgress,
  type TeamSummary,
} from "./ipc";

/** Where the app remembers that the welcome was answered with the demo. */
const WELCOMED = "opsdeck.welcomed";
/** Where the app remembers the screen it showed last. */
const SCREEN = "opsdeck.screen";
const SCREENS = ["team", "on-call", "incidents", "activity", "audit", "orphans", "scorecards", "sources"];

/** The screen shown when the app last ran, if it is one this app has. */
function rememberedScreen(): Selection | null {
  try {
    const stored = JSON.parse(localStorage.getItem(SCREEN) ?? "null");
    const known = stored && SCREENS.includes(stored.kind) && (stored.kind !== "team" || typeof stored.key === "string");
    return known ? (stored as Selection) : null;
  } catch {
    return null;
  }
}

const TEAM_TABS: [TeamTab, string][] = [
  ["services", "Services"],
  ["releases", "Releases"],
  ["scorecard", "Scorecard"],
  ["team", "Team"],
];

/** What a team page shows, as `useTeamPage` reads it. */
type TeamPageReads = Pick<ReturnType<typeof useTeamPage>, "services" | "panel" | "matrix" | "detail" | "scorecard">;
/** What a service's page shows besides the service, as `useServicePage` reads it. */
type ServicePageReads = Pick<ReturnType<typeof useServicePage>, "panel" | "delivery" | "audit" | "runbooks" | "scorecard">;

function failingText(failing: number): string {
  if (failing === 0) return " every check passes";
  return failing === 1 ? " 1 check fails" : ` ${failing} checks fail`;
}

export function App({ ipc }: { ipc: Ipc }) {
  // The screen shown last time, until the cache says it is still there.
  const [selection, setSelection] = useState<Selection | null>(rememberedScreen);
  const selectionMark = useSelectionMark(selection);
  const [serviceKey, setServiceKey] = useState<string | null>(null);
  // The incident view, over whatever page it was opened from.
  const [incidentId, setIncidentId] = useState<string | null>(null);
  // The on-call action being planned (acknowledge, silence, sync…), with whom it may go to.
  const [actionAsk, setActionAsk] = useState<{ request: ActionRequest; choices: ReassignChoice[] } | null>(null);
  // A team's services, its releases (the product manager's view), its scorecard (the team
  // lead's, with or without the groups below) or who it is.
  const [teamTab, setTeamTab] = useState<TeamTab>("services");
  const [scoreBelow, setScoreBelow] = useState(true);
  const [identity, setIdentity] = useState<string | null>(null);
  const [launch, setLaunch] = useState<LaunchInfo | null>(null);
  // The welcome (or its connect step, from the demo label) over the demo, until a choice.
  const [welcome, setWelcome] = useState<"first" | "connect" | null>(null);
  // The sources editor, on a source or (null) a new one.
  const [sourceEdit, setSourceEdit] = useState<{ editing: EditableSource | null } | null>(null);
  const [progress, setProgress] = useState<Record<string, SyncProgress>>({});
  // Sources with a manual sync in flight; "*" while all of them sync.
  const [syncing, setSyncing] = useState<Set<string>>(new Set());
  const [paletteOpen, setPaletteOpen] = useState(false);
  // The team page the palette's resting hit opens, built under the page shown.
  const [ahead, setAhead] = useState<TeamPageAhead | null>(null);
  const restingHit = useRef<SearchHit | null>(null);
  // The service page a team table's resting cursor opens, built under that team's page.
  const [serviceAhead, setServiceAhead] = useState<{ under: string; built: ServicePageAhead } | null>(null);
  const restingRow = useRef<{ owner: string; key: string } | null>(null);
  const [helpOpen, setHelpOpen] = useState(false);
  // The rollback being planned; the runbook picker (R), the markdown open, the form open.
  const [rollbackAsk, setRollbackAsk] = useState<RollbackAsk | null>(null);
  const [runbookContext, setRunbookContext] = useState<RunbookContext | null>(null);
  const [reading, setReading] = useState<{ service: string; template: string; document: RunbookDocument } | null>(null);
  const [runForm, setRunForm] = useState<{ service: string; ask: RunbookAsk; form: RunbookForm } | null>(null);
  // The service whose failing scorecard checks are open, from its page.
  const [fixing, setFixing] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  // Bumped whenever the cache changes, so every open screen re-reads it.
  const [generation, setGeneration] = useState(0);
  // For reads started from handlers made once (they would see the first render's generation).
  const generationNow = useRef(generation);
  generationNow.current = generation;
  const filterRef = useRef<HTMLInputElement | null>(null);
  const tableViews = useRef(new Map<string, TableView>());
  const reportedReady = useRef(false);

  const fail = (e: unknown) => setError(errorMessage(e));
  const overlayOpen = !!(rollbackAsk || runbookContext || reading || runForm || fixing || actionAsk || sourceEdit);
  const { teams, orphans, sources, overview, environments, now } = useOrganisation(ipc, generation, fail);
  const teamPage = useTeamPage(ipc, selection, teamTab, scoreBelow, generation, fail);
  const orgScorecard = useOrgScorecard(ipc, selection?.kind === "scorecards", generation, fail);
  const servicePage = useServicePage(ipc, serviceKey, generation, fail);
  const { detail } = servicePage;
  // Each page is keyed by what it shows (a team's by the team, a service's by the service), and
  // one built ahead lies beneath the page shown: opening it keeps its elements where they are,
  // styled and laid out, and only takes away the page that covered it.
  const serviceShown = !incidentId && serviceKey && detail;
  const teamPageShown = !incidentId && (selection?.kind === "team" || selection?.kind === "orphans") && !serviceShown;
  const shownPage = serviceShown ? `service ${serviceKey}` : teamPageShown && selection ? `team ${selection.kind === "team" ? selection.key : "orphans"}` : "page";
  const audit = useAuditPage(ipc, selection?.kind === "audit", generation, fail);
  const incident = useIncident(ipc, incidentId, generation, fail);
  const incidentRows = useIncidentList(ipc, selection?.kind === "incidents", generation, fail);
  const sourcesFile = useSourcesFile(ipc, selection?.kind === "sources", fail);
  const [desktop, setDesktop] = useState<DesktopSettings | null>(null);
  useEffect(() => {
    if (selection?.kind === "sources") ipc.desktopSettings().then(setDesktop, fail);
  }, [selection?.kind]);
  // Rollbacks and runbook runs started here, live until dismissed.
  const rollbacks = useInFlight<RollbackProgress>();
  const runbookRuns = useInFlight<RunbookRunProgress>();
  const actions = useInFlight<ActionProgress>();

  useEffect(() => {
    ipc.launchInfo().then((info) => {
      setLaunch(info);
      if (info.first_run && localStorage.getItem(WELCOMED) !== "1") setWelcome("first");
    }, fail);
    const unsubscribers = [
      ipc.onLaunchChanged((info) => {
        setLaunch(info);
        setWelcome(null);
      }),
      ipc.onSyncProgress((p) => setProgress((all) => ({ ...all, [p.source]: p }))),
      ipc.onCacheChanged(() => {
        setProgress({});
        setGeneration((g) => g + 1);
      }),
      ipc.onOpenScreen((screen) => {
        if (screen.screen === "incident") return setIncidentId(screen.id);
        setIncidentId(null);
        setWelcome(null);
        if (screen.screen === "service") return setServiceKey(screen.key);
        setServiceKey(null);
        setSelection({ kind: "team", key: screen.key });
      }),
      ipc.onLinkFailed((message) => setError(`That link cannot be opened: ${message}`)),
      ipc.onActionProgress((p) => {
        actions.show(p);
        if (p.state === "done" || p.state === "failed" || p.state === "timed-out") setGeneration((g) => g + 1);
      }),
      ipc.onRollbackProgress((p) => {
        rollbacks.show(p);
        setGeneration((g) => g + 1);
      }),
      ipc.onRunbookProgress((p) => {
        runbookRuns.show(p);
        if (p.finished) setGeneration((g) => g + 1);
      }),
    ];
    // A link the app was launched with opens once the window listens for it.
    Promise.all(unsubscribers).then(() => ipc.openPendingLink(), fail);
    return () => unsubscribers.forEach((u) => u.then((stop) => stop()));
  }, []);

  // The identity changes with the config, which the sources editor saves.
  useEffect(() => {
    ipc.identity().then(setIdentity, fail);
  }, [generation]);

  // The first screen is the one shown last time, else my first team, else the top of the tree;
  // a team no longer in the cache gives way.
  useEffect(() => {
    const first = teams.find((t) => t.is_mine) ?? teams[0];
    if (!first) return;
    setSelection((current) => (!current || (current.kind === "team" && !teams.some((t) => t.key === current.key)) ? { kind: "team", key: first.key } : current));
  }, [teams]);

  useEffect(() => {
    if (selection) localStorage.setItem(SCREEN, JSON.stringify(selection));
  }, [selection]);

  // An error belongs to the page it happened on.
  useEffect(() => setError(null), [selection, serviceKey, incidentId]);

  useEffect(() => {
    if (!reportedReady.current && teams.length > 0) {
      reportedReady.current = true;
      requestAnimationFrame(() => ipc.uiReady().catch(() => undefined));
    }
  }, [teams]);

  // The page's shortcuts (see lib/shortcuts.ts); each handler returns false when the key is
  // not for it here, so it goes on to the page.
  const pageKeys = !paletteOpen && !overlayOpen && !helpOpen;
  useShortcuts({
    palette: () => setPaletteOpen(true),
    help: (e) => pageKeys && !typing(e) && setHelpOpen(true),
    runbooks: (e) => {
      if (!pageKeys || typing(e)) return false;
      if (incidentId) {
        if (!incident?.service) return false;
        setRunbookContext({ service: incident.service.key, ask: { incident_id: incident.incident.id, alert: null, environment: null }, label: `incident #${incident.incident.number}` });
        return;
      }
      if (!serviceKey || !detail) return false;
      setRunbookContext({ service: serviceKey, ask: NO_ASK, label: detail.name });
    },
    acknowledge: (e) => {
      if (!pageKeys || typing(e) || incident?.incident.status !== "triggered") return false;
      askAction({ kind: "acknowledge", incident: incident.incident.id });
    },
    "roll-back": (e) => {
      const top = incident?.suspects[0];
      if (!pageKeys || typing(e) || !top?.can_roll_back || top.suspect.tier === "after-start") return false;
      rollBack(top);
    },
    back: () => {
      if (!pageKeys) return false;
      if (incidentId) setIncidentId(null);
      else if (serviceKey) setServiceKey(null);
      else return false;
    },
    filter: (e) => {
      if (!pageKeys || typing(e)) return false;
      filterRef.current?.focus();
    },
  });

  const selectTeam = useCallback((s: Selection) => {
    asked("team");
    readTeamPageAhead(ipc, s, generationNow.current);
    teamPage.openAhead(s, generationNow.current);
    setSelection(s);
    setServiceKey(null);
    setIncidentId(null);
  }, []);
  const openService = (key: string) => {
    asked("service");
    readServicePageAhead(ipc, key, generation);
    servicePage.openAhead(key, generation, serviceAhead?.built);
    setIncidentId(null);
    setServiceKey(key);
  };
  /** Whether the team page of table `owner` is the page in use (shown, the palette closed). */
  const tablePageShown = (owner: string) => !paletteOpen && shownPage === `team ${owner}`;
  /** Builds the page of service `key` under the page of its table's `owner`, once read. */
  const buildServiceAhead = (owner: string, key: string) => {
    readServicePageAhead(ipc, key, generation);
    const under = `team ${owner}`;
    servicePageAhead(ipc, key, generation).then((built) => {
      const resting = restingRow.current;
      if (!built || resting?.owner !== owner || resting.key !== key) return;
      setServiceAhead((held) => (held?.under === under && held.built.key === key && held.built.generation === built.generation ? held : { under, built }));
    }, fail);
  };
  /** A team table's cursor rested on a service: its page is read, and built under the table's
   *  page if that is the page shown. Never under a team page built under the palette: building
   *  it there would hold up the answers to what is typed meanwhile. */
  const restOnService = (owner: string, key: string) => {
    restingRow.current = { owner, key };
    if (tablePageShown(owner)) buildServiceAhead(owner, key);
    else readServicePageAhead(ipc, key, generation);
  };
  // A team page that comes up with its cursor already resting (the palette's, or the page shown
  // again after one of its services) builds what the cursor rests on once its frame is drawn.
  // Any other page leaves the page built ahead behind: opened (its elements are the page shown
  // now), or under a page no longer shown.
  useEffect(() => {
    const resting = restingRow.current;
    if (resting && tablePageShown(resting.owner)) buildServiceAhead(resting.owner, resting.key);
    else setServiceAhead(null);
  }, [shownPage, paletteOpen, generation]);
  // Whom an incident can go to: the people on call at each level of its policy, and the
  // levels themselves.
  const reassignChoices = (view: IncidentViewData | null): ReassignChoice[] => [
    ...(view?.policy?.levels ?? []).flatMap((l) => l.now.map((n) => ({ label: `${n.person.name} (L${l.level} on call)`, to: { kind: "user" as const, id: n.person.id } }))),
    ...(view?.policy?.levels ?? []).map((l) => ({ label: `Escalation level ${l.level}`, to: { kind: "level" as const, level: l.level } })),
  ];
  const askAction = (request: ActionRequest) => {
    const choices = reassignChoices(incident);
    if (request.kind === "reassign" && choices.length) request = { ...request, to: choices.find((c) => c.to.kind === "level" && c.to.level === 2)?.to ?? choices[0].to };
    setActionAsk({ request, choices });
  };
  const rollBack = (row: SuspectRow) => {
    const c = row.suspect.change;
    if (c.environment) setRollbackAsk({ service: c.service_key, name: c.service, environment: c.environment });
  };

  const openEntity = (e: EntitySummary) => {
    if (e.kind === "group") selectTeam({ kind: "team", key: e.key });
    else setServiceKey(e.key);
  };

  // A service opens in its owner team's context, so the sidebar and "back" match what is shown.
  // A service without an owner in the catalog opens among the orphans: a normal state.
  const teamOfHit = (hit: SearchHit): Selection | null => (hit.team ? { kind: "team", key: hit.team } : hit.kind === "component" ? { kind: "orphans" } : null);
  const closePalette = () => {
    setPaletteOpen(false);
    restingHit.current = null;
    setAhead(null);
  };
  const pick = (hit: SearchHit) => {
    asked(hit.kind === "component" ? "service" : "team");
    closePalette();
    if (hit.kind === "incident") {
      setIncidentId(hit.key);
      return;
    }
    setIncidentId(null);
    readAheadFor(hit);
    const team = teamOfHit(hit);
    if (team) {
      teamPage.openAhead(team, generation, ahead ?? undefined);
      setSelection(team);
    }
    if (hit.kind === "component") servicePage.openAhead(hit.key, generation);
    setServiceKey(hit.kind === "component" ? hit.key : null);
  };
  /** Starts the reads of the pages `hit` opens. */
  const readAheadFor = (hit: SearchHit) => {
    const team = teamOfHit(hit);
    if (team) readTeamPageAhead(ipc, team, generation);
    if (hit.kind === "component") readServicePageAhead(ipc, hit.key, generation);
  };
  /** The palette's active hit, rested on: what it opens is read, and a team page it opens is
   *  built under the page shown once read, so Enter only brings it up. A team page opens on
   *  the tab open now, and only the services tab is built ahead. */
  const restOn = (hit: SearchHit) => {
    restingHit.current = hit;
    setAhead(null);
    if (hit.kind === "incident") return;
    readAheadFor(hit);
    const team = teamOfHit(hit);
    if (hit.kind === "component" || !team || teamTab !== "services") return;
    teamPageAhead(ipc, team, generation).then((built) => {
      if (restingHit.current === hit) setAhead(built);
    }, fail);
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
      // A source another process is syncing has not failed: the Sources screen says who.
      const failed = reports.flatMap((r) => (r.landed || r.left_to ? [] : r.problems));
      if (failed.length) setError(failed[0]);
    }, (e) => {
      done();
      fail(e);
    });
  };
  const openSources = () => selectTeam({ kind: "sources" });
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
  const exportReport = (kind: ReportKind, team: string | null, markdown: boolean) =>
    ipc.exportReport(kind, team, markdown).then((path) => setError(`Report exported to ${path}`), fail);
  const openTeam = (key: string) => selectTeam({ kind: "team", key });
  const openLink = (url: string) => ipc.openLink(url).catch(fail);
  const triggered = overview.reduce((n, t) => n + t.triggered, 0);

  const teamOf = (at: Selection | null) => (at?.kind === "team" ? teams.find((t) => t.key === at.key) : undefined);
  /** What a screen is called: a team by its title. */
  const headingOf = (at: Selection | null) =>
    at?.kind === "orphans"
      ? "Orphaned services"
      : at?.kind === "on-call"
        ? "On call"
        : at?.kind === "incidents"
          ? "Incidents"
          : at?.kind === "activity"
            ? "Activity"
            : at?.kind === "scorecards"
              ? "Scorecards"
              : (teamOf(at)?.title ?? "");
  /** Where a team sits in the tree: the groups above it and below it. From the teams already
   *  read, so the header never shifts under the pointer as a page loads. */
  const placeOf = (team: TeamSummary | undefined) => {
    const ancestors: TeamSummary[] = [];
    for (let up = team?.parent; up; ) {
      const above = teams.find((t) => t.key === up);
      if (!above || ancestors.includes(above)) break;
      ancestors.unshift(above);
      up = above.parent;
    }
    const subTeams = team ? teams.filter((t) => t.parent === team.key) : [];
    return { ancestors, subTeams };
  };
  /** A team's (or the orphans') page on `page`'s reads: the page shown, or one built ahead under
   *  it (`shown` false), which picking it brings up as it is. */
  const teamPageView = (at: Selection, page: TeamPageReads, shown: boolean) => {
    const team = teamOf(at);
    const { ancestors, subTeams } = placeOf(team);
    const owner = at.kind === "team" ? at.key : "orphans";
    return (
      <>
        <div class="team-head">
          {ancestors.length > 0 && (
            <nav class="breadcrumb" aria-label="Groups above">
              {ancestors.map((a) => (
                <span key={a.key}>
                  <button class="link" onClick={() => openTeam(a.key)}>
                    {a.title}
                  </button>{" "}
                  /{" "}
                </span>
              ))}
            </nav>
          )}
          <h1>{headingOf(at)}</h1>
          {team && (
            <span class="muted">
              {team.service_count} services
              {team.service_count_below !== team.service_count && ` (${team.service_count_below} with the groups below)`} · {team.member_count} {team.member_count === 1 ? "member" : "members"} ·{" "}
              <span class={team.gap_count ? "warn-text" : ""}>{team.gap_count} gaps</span>
              {team.is_mine && <span class="chip accent">my team</span>}
            </span>
          )}
          {subTeams.length > 0 && (
            <span class="chips" aria-label="Sub-teams">
              {subTeams.map((t) => (
                <button key={t.key} class="chip" data-sub-team-chip={t.name} title={`${t.service_count_below} services`} onClick={() => openTeam(t.key)}>
                  {t.title} · {t.service_count_below}
                </button>
              ))}
            </span>
          )}
          {at.kind === "orphans" && (
            <span class="muted">Services whose owner group is not in the catalog</span>
          )}
          {at.kind === "team" && (
            <span class="segmented tabs" role="tablist">
              {TEAM_TABS.map(([tab, title]) => (
                <button key={tab} role="tab" data-tab={tab} class={teamTab === tab ? "on" : ""} aria-selected={teamTab === tab} onClick={() => setTeamTab(tab)}>
                  {title}
                </button>
              ))}
            </span>
          )}
        </div>
        {at.kind === "team" && teamTab === "scorecard" ? (
          page.scorecard ? (
            <div class="scroll">
              <Scorecard
                key={at.key}
                view={page.scorecard}
                now={now}
                onBelow={setScoreBelow}
                onOpenTeam={openTeam}
                loadService={ipc.serviceScorecard}
                onOpenLink={openLink}
                onExport={(kind, markdown) => exportReport(kind, at.key, markdown)}
              />
            </div>
          ) : (
            <p class="muted pad">Working out the scorecard…</p>
          )
        ) : at.kind === "team" && teamTab === "team" ? (
          page.detail ? (
            <div class="scroll">
              <TeamOverview detail={page.detail} onOpenEntity={openEntity} onOpenTeam={openTeam} />
            </div>
          ) : (
            <p class="muted pad">Reading the team…</p>
          )
        ) : at.kind === "team" && teamTab === "releases" ? (
          page.matrix ? (
            <div class="scroll">
              <Releases key={at.key} matrix={page.matrix} now={now} onOpenService={openService} />
            </div>
          ) : (
            <p class="muted pad">Reading releases…</p>
          )
        ) : (
          <>
            {at.kind === "team" && page.panel && (
              <OnCallPanel panel={page.panel} now={now} onOpenLink={openLink} onOpenService={openService} onRunbooks={setRunbookContext} onOpenIncident={setIncidentId} />
            )}
            {page.services ? (
              // Keyed by team: each team's table is its own, kept in tableViews.
              <ServiceTable
                key={owner}
                view={tableViews.current.get(owner)}
                onViewChange={(view) => tableViews.current.set(owner, view)}
                services={page.services}
                onOpen={openService}
                onRest={(key) => restOnService(owner, key)}
                filterRef={shown ? filterRef : undefined}
              />
            ) : (
              <p class="muted pad">Reading the services…</p>
            )}
          </>
        )}
      </>
    );
  };
  /** The page of service `key`: the page shown, or one built ahead under the team page shown
   *  (`shown` false), which opening the service brings up as it is. */
  const servicePageView = (key: string, d: ServiceDetail, page: ServicePageReads, shown: boolean) => (
    <ServicePage
      key={key}
      detail={d}
      shown={shown}
      onOpenEntity={openEntity}
      onBack={() => setServiceKey(null)}
      backLabel={headingOf(selection) || "Back"}
      readiness={
        page.scorecard && (
          <button class="readiness-link" data-readiness onClick={() => setFixing(key)} title="Production readiness: how to fix what fails">
            <LevelChip level={page.scorecard.row.level} />
            {failingText(page.scorecard.fixes.length)}
          </button>
        )
      }
      onCall={page.panel && <OnCallPanel panel={page.panel} now={now} onOpenLink={openLink} onRunbooks={setRunbookContext} onOpenIncident={setIncidentId} />}
      delivery={
        page.delivery && (
          <Delivery
            key={key}
            delivery={page.delivery}
            now={now}
            onOpenLink={openLink}
            loadChanges={(from, to, askGithub) => ipc.changes(key, from, to, askGithub)}
            onRollback={(environment) => page.delivery && setRollbackAsk({ service: key, name: page.delivery.service.name, environment })}
          />
        )
      }
      runbooks={<RunbookList rows={page.runbooks} now={now} onUse={(row) => launchRunbook(key, NO_ASK, row)} />}
      audit={page.audit.length > 0 && <AuditLog title="Rollbacks and other actions" entries={page.audit} now={now} showService={false} />}
      onOpenLink={openLink}
    />
  );
  const heading = headingOf(selection);
  /** A page built ahead, in the slot `slot` names: out of screen readers' and Tab's way. */
  const builtPage = (slot: string, page: ComponentChildren) => (
    <div key={slot} class="page-slot" data-built-ahead={slot} aria-hidden="true" onFocusIn={(e) => passFocusOver(e.currentTarget, e)}>
      {page}
    </div>
  );
  const builtAhead = ahead && paletteOpen && teamTab === "services" && ahead.generation === generation && shownPage !== `team ${ahead.page}` ? ahead : null;
  // Kept through a landing until built again on what it changed (in place: the same key), and
  // after a click that opens it until its page shows, so that page still finds its elements.
  // Not under the palette, which holds the keyboard: building it would hold up the answers.
  const builtService = serviceAhead && !paletteOpen && serviceAhead.under === shownPage ? serviceAhead.built : null;
  const stale = staleSources(sources, serviceKey && detail ? detail.sources : undefined);

  if (welcome) {
    return (
      <Welcome
        configPath={launch?.config_path ?? null}
        connecting={welcome === "connect"}
        onDemo={() => {
          localStorage.setItem(WELCOMED, "1");
          setWelcome(null);
        }}
        onConnect={() => {
          setWelcome(null);
          openSources();
          setSourceEdit({ editing: null });
        }}
      />
    );
  }

  return (
    <div class="app">
      <header class="topbar">
        <span class="brand">Opsdeck</span>
        <button class="search-button" onClick={() => setPaletteOpen(true)}>
          Search services, teams, people… <kbd>Ctrl K</kbd>
        </button>
        {launch?.demo && (
          <span class="demo-label" data-demo>
            Demo organisation
            <button class="link" onClick={() => setWelcome("connect")}>
              Connect your platforms…
            </button>
          </span>
        )}
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
        mark={selectionMark}
        onSelect={selectTeam}
      />
      <main class="main">
        {selection?.kind !== "sources" && <StaleNotice stale={stale} now={now} onOpenSources={openSources} />}
        <div class="pages">
          <div key={shownPage} class="page-slot">
            {incidentId ? (
              incident ? (
                <IncidentView
                  view={incident}
                  now={now}
                  onBack={() => setIncidentId(null)}
                  backLabel={serviceKey && detail ? detail.name : heading || "Back"}
                  onOpenLink={openLink}
                  onOpenService={openService}
                  onRollback={rollBack}
                  onAction={askAction}
                  onRunbooks={setRunbookContext}
                  onRefresh={sync}
                />
              ) : (
                <p class="muted pad">Reading the incident…</p>
              )
            ) : selection?.kind === "sources" ? (
              <Sources
                sources={sources}
                progress={progress}
                syncing={syncing}
                now={now}
                onSync={sync}
                onCheck={ipc.checkSource}
                file={sourcesFile.file}
                demo={!!launch?.demo}
                onEdit={(editing) => setSourceEdit({ editing })}
                onRemove={(name) => ipc.removeSource(name).then(sourcesFile.set, fail)}
                onMove={(name, index) => ipc.moveSource(name, index).then(sourcesFile.set, fail)}
                onDetectIdentity={ipc.detectIdentity}
                onSetIdentity={(email) => ipc.setIdentity(email).then(sourcesFile.set, fail)}
                desktop={desktop}
                onStartAtLogin={(on) => ipc.setStartAtLogin(on).then(setDesktop, fail)}
                onKeepRunning={(on) => ipc.setKeepRunningInTray(on).then(setDesktop, fail)}
              />
            ) : serviceShown ? (
              servicePageView(serviceKey, detail, servicePage, true)
            ) : selection?.kind === "incidents" ? (
              <div class="page">
                <div class="team-head">
                  <h1>Incidents</h1>
                  <span class="muted">Open incidents across the organisation, then those resolved this week</span>
                </div>
                <Incidents rows={incidentRows} now={now} onOpenIncident={setIncidentId} onOpenService={openService} onOpenLink={openLink} />
              </div>
            ) : selection?.kind === "on-call" ? (
              <OnCall teams={overview} onOpenTeam={(key) => selectTeam({ kind: "team", key })} />
            ) : selection?.kind === "activity" ? (
              <Activity
                teams={teams}
                environments={environments}
                now={now}
                generation={generation}
                load={ipc.activity}
                onOpenService={openService}
                onOpenLink={openLink}
                onRollback={(row) => setRollbackAsk({ service: row.service.key, name: row.service.name, environment: row.environment })}
                onError={fail}
              />
            ) : selection?.kind === "scorecards" ? (
              <div class="page">
                <div class="team-head">
                  <h1>Scorecards</h1>
                  <span class="muted">Production readiness across the organisation, level by level</span>
                </div>
                <div class="scroll">
                  {orgScorecard ? (
                    <Scorecard
                      view={orgScorecard}
                      now={now}
                      onOpenTeam={(key) => {
                        setTeamTab("scorecard");
                        openTeam(key);
                      }}
                      loadService={ipc.serviceScorecard}
                      onOpenLink={openLink}
                      onExport={(kind, markdown) => exportReport(kind, null, markdown)}
                    />
                  ) : (
                    <p class="muted pad">Working out scorecards…</p>
                  )}
                </div>
              </div>
            ) : selection?.kind === "audit" ? (
              <div class="page">
                <div class="team-head">
                  <h1>Audit log</h1>
                  <span class="muted">Every action Opsdeck took on a platform: who, what, the plan and the outcome</span>
                </div>
                <div class="scroll">
                  <AuditLog title={null} entries={audit} now={now} showService onOpenService={openService} onExport={exportAudit} />
                </div>
              </div>
            ) : selection ? (
              teamPageView(selection, teamPage, true)
            ) : (
              <p class="muted pad">{syncing.size > 0 ? "Syncing the catalog…" : "The cache is empty. Press Refresh to sync."}</p>
            )}
          </div>
          {builtAhead && builtPage(`team ${builtAhead.page}`, teamPageView(builtAhead.selection, { services: builtAhead.services, panel: builtAhead.panel, matrix: null, detail: null, scorecard: null }, false))}
          {builtService && builtPage(`service ${builtService.key}`, servicePageView(builtService.key, builtService.detail, { panel: builtService.panel, delivery: builtService.delivery, audit: [], runbooks: [], scorecard: null }, false))}
        </div>
      </main>
      <StatusBar
        sources={sources}
        progress={progress}
        syncing={syncing.size > 0}
        now={now}
        onRefresh={() => sync(null)}
        onOpenSources={openSources}
      />
      {paletteOpen && <Palette search={ipc.search} onPick={pick} onRest={restOn} onClose={closePalette} />}
      {helpOpen && <ShortcutHelp onClose={() => setHelpOpen(false)} />}
      {rollbackAsk && (
        <RollbackDialog
          ask={rollbackAsk}
          now={now}
          plan={ipc.planRollback}
          confirm={ipc.startRollback}
          onStarted={rollbacks.show}
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
      {fixing && <HowToFix service={fixing} load={ipc.serviceScorecard} onOpenLink={openLink} onClose={() => setFixing(null)} />}
      {runForm && (
        <RunbookRunForm
          form={runForm.form}
          onRun={(inputs) => ipc.runRunbook(runForm.service, runForm.form.template, runForm.ask, inputs).then(runbookRuns.show)}
          onClose={() => setRunForm(null)}
        />
      )}
      {sourceEdit && (
        <SourceEditor
          editing={sourceEdit.editing}
          takenNames={sourcesFile.file?.sources.map((s) => s.form.name) ?? []}
          onCheck={ipc.checkDraft}
          onSave={(draft) => ipc.saveSource(draft).then(sourcesFile.set)}
          onClose={() => setSourceEdit(null)}
        />
      )}
      {actionAsk && (
        <ActionDialog
          request={actionAsk.request}
          choices={actionAsk.choices}
          plan={ipc.planAction}
          confirm={ipc.startAction}
          onStarted={actions.show}
          onClose={() => setActionAsk(null)}
        />
      )}
      {(rollbacks.items.length > 0 || runbookRuns.items.length > 0 || actions.items.length > 0) && (
        <aside class="rollback-panel" aria-label="Actions in progress" aria-live="polite">
          <RollbackPanel rollbacks={rollbacks.items} now={now} onOpenLink={openLink} onDismiss={rollbacks.dismiss} />
          <ActionPanel actions={actions.items} now={now} onOpenLink={openLink} onDismiss={actions.dismiss} />
          <RunbookRuns runs={runbookRuns.items} now={now} onOpenLink={openLink} onDismiss={runbookRuns.dismiss} />
        </aside>
      )}
    </div>
  );
}

