import { useCallback, useEffect, useLayoutEffect, useRef, useState, type Dispatch, type StateUpdater } from "preact/hooks";
import type { Selection } from "../components/Sidebar";
import { answering, completing } from "../lib/latency";
import type { AuditEntry, IncidentRow, IncidentView, Ipc, OnCallPanel, ReleaseMatrix, RunbookAsk, RunbookRow, ScorecardView, ServiceDelivery, ServiceDetail, ServiceRow, ServiceScorecard, SourcesFile, SourceStatus, TeamDetail, TeamOnCall, TeamSummary } from "../ipc";

type Fail = (e: unknown) => void;

/** A read's value, or `none` when it failed. */
const valueOr = <T,>(outcome: PromiseSettledResult<T>, none: T): T => (outcome.status === "fulfilled" ? outcome.value : none);

/** A read's outcome: its value set, or its failure reported. */
function settle<T>(outcome: PromiseSettledResult<T>, set: (value: T) => void, fail: Fail) {
  if (outcome.status === "fulfilled") set(outcome.value);
  else fail(outcome.reason);
}

/** Hands on what a page's reads answer only while the inputs that started them are still the
 *  page's: a read can answer after the user has moved on (another team, another service), and
 *  the page must not then show the one left. `stop` goes in the effect's cleanup. */
function whileCurrent() {
  let current = true;
  return {
    only:
      <T>(take: (value: T) => void) =>
      (value: T) => {
        if (current) take(value);
      },
    stop: () => {
      current = false;
    },
  };
}

const NO_ASK: RunbookAsk = { incident_id: null, alert: null, environment: null };

/** What the sidebar, status bar and overview show: read again whenever the cache changes, and
 *  the sources' verdicts every few seconds (ages move on without any sync). */
export function useOrganisation(ipc: Ipc, generation: number, fail: Fail) {
  const [teams, setTeams] = useState<TeamSummary[]>([]);
  const [orphans, setOrphans] = useState<ServiceRow[]>([]);
  const [sources, setSources] = useState<SourceStatus[]>([]);
  const [overview, setOverview] = useState<TeamOnCall[]>([]);
  const [environments, setEnvironments] = useState<string[]>([]);
  // Ages are measured against the clock the sources were read at, not the last tick.
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    Promise.all([ipc.teams(), ipc.orphanedServices(), ipc.sources(), ipc.onCallOverview(), ipc.environments()]).then(([t, o, s, on, envs]) => {
      setTeams(t);
      setOrphans(o);
      setSources(s);
      setOverview(on);
      setEnvironments(envs);
      setNow(Date.now());
    }, fail);
  }, [generation]);
  useEffect(() => {
    const ticker = setInterval(() => {
      ipc.sources().then((s) => {
        setSources(s);
        setNow(Date.now());
      }, fail);
    }, 5000);
    return () => clearInterval(ticker);
  }, []);
  return { teams, orphans, sources, overview, environments, now };
}

export type TeamTab = "services" | "releases" | "scorecard" | "team";

type TeamReads = [PromiseSettledResult<ServiceRow[]>, PromiseSettledResult<OnCallPanel | null>];
type ServiceReads = [PromiseSettledResult<ServiceDetail>, PromiseSettledResult<OnCallPanel | null>, PromiseSettledResult<ServiceDelivery>];

/** What a team page (or the orphans') opens on, whichever tab is open: its services and what is
 *  on fire. */
function readTeamPage(ipc: Ipc, team: string | null): Promise<TeamReads> {
  return Promise.allSettled([team ? ipc.teamServices(team) : ipc.orphanedServices(), team ? ipc.onCall({ team }) : null]);
}

/** What a service page opens on: the service, what is on fire, its delivery. */
function readServicePage(ipc: Ipc, service: string): Promise<ServiceReads> {
  return Promise.allSettled([ipc.service(service), ipc.onCall({ service }), ipc.serviceDelivery(service)]);
}

const pageKey = (selection: Selection) => (selection.kind === "team" ? selection.key : null);

/** How long reads started ahead of a page stay good for it: who is on call moves with the clock. */
const AHEAD_FOR_MS = 5000;

/** Reads started before their page opened: by the click or key that opens it (the engine answers
 *  while the window renders the change), or while the keyboard rests on the item that would (the
 *  palette's active hit, the table's cursor), as Linear reads the issue under the cursor. */
interface Ahead<T> {
  ipc: Ipc;
  key: string;
  generation: number;
  at: number;
  reads: Promise<T>;
  /** What `reads` answered, once they have: the page can then open on it in the same render
   *  as the input that opens it, instead of one render later. */
  answered?: T;
}

let teamAhead: Ahead<TeamReads> | null = null;
let serviceAhead: Ahead<ServiceReads> | null = null;

/** `slot` if its reads are for `key`, through `ipc`, over the cache as it is now (no landing
 *  since: `generation`) and fresh. */
function taken<T>(slot: Ahead<T> | null, ipc: Ipc, key: string, generation: number): Ahead<T> | null {
  const good = slot && slot.ipc === ipc && slot.key === key && slot.generation === generation && performance.now() - slot.at < AHEAD_FOR_MS;
  return good ? slot : null;
}

/** `slot` as it is when it already holds good reads for `key`, or with new ones from `read`. */
function readAhead<T>(slot: Ahead<T> | null, ipc: Ipc, key: string, generation: number, read: () => Promise<T>): Ahead<T> {
  if (slot && taken(slot, ipc, key, generation)) return slot;
  const fresh: Ahead<T> = { ipc, key, generation, at: performance.now(), reads: read() };
  fresh.reads.then((answered) => (fresh.answered = answered));
  return fresh;
}

const teamPageOf = (selection: Selection | null) => (selection?.kind === "team" ? selection.key : selection?.kind === "orphans" ? "orphans" : null);

/** Starts the reads of the team page `selection` opens (nothing for another screen). */
export function readTeamPageAhead(ipc: Ipc, selection: Selection, generation: number) {
  const key = teamPageOf(selection);
  if (key !== null) teamAhead = readAhead(teamAhead, ipc, key, generation, () => readTeamPage(ipc, pageKey(selection)));
}

/** A team's page as the palette's resting hit would open it, built under the page shown (as
 *  browsers prerender a link the pointer rests on), so that Enter only has to bring it up. */
export interface TeamPageAhead {
  selection: Selection;
  /** Its page, as `useTeamPage` keys what it reads. */
  page: string;
  generation: number;
  services: ServiceRow[];
  panel: OnCallPanel | null;
  reads: TeamReads;
}

/** The page `selection` opens, once the reads started ahead for it have answered; null when
 *  none were started or its services could not be read (the page then opens as it always has,
 *  and says why). */
export async function teamPageAhead(ipc: Ipc, selection: Selection, generation: number): Promise<TeamPageAhead | null> {
  const page = teamPageOf(selection);
  const started = page === null ? undefined : taken(teamAhead, ipc, page, generation)?.reads;
  if (page === null || !started) return null;
  const reads = await started;
  const [services, panel] = reads;
  if (services.status !== "fulfilled") return null;
  return { selection, page, generation, services: services.value, panel: valueOr(panel, null), reads };
}

/** Starts the reads of the page of service `key`. */
export function readServicePageAhead(ipc: Ipc, key: string, generation: number) {
  serviceAhead = readAhead(serviceAhead, ipc, key, generation, () => readServicePage(ipc, key));
}

/** A service's page as the table's resting cursor would open it, built under the team page
 *  shown, so that opening it only has to bring it up. */
export interface ServicePageAhead {
  key: string;
  generation: number;
  detail: ServiceDetail;
  panel: OnCallPanel | null;
  delivery: ServiceDelivery | null;
  reads: ServiceReads;
}

/** The page of service `key`, once the reads started ahead for it have answered; null when
 *  none were started or the service could not be read. */
export async function servicePageAhead(ipc: Ipc, key: string, generation: number): Promise<ServicePageAhead | null> {
  const started = taken(serviceAhead, ipc, key, generation)?.reads;
  if (!started) return null;
  const reads = await started;
  const [detail, panel, delivery] = reads;
  if (detail.status !== "fulfilled") return null;
  return { key, generation, detail: detail.value, panel: valueOr(panel, null), delivery: valueOr(delivery, null), reads };
}

/** A part of a page with the page it was read for (a team's key, "orphans", a service's key in
 *  one visit of its page). */
interface ReadFor<T> {
  page: string;
  value: T;
}

// What is already held is kept: a page's reads answered ahead, shown by the input that opens
// it, are set again by its effect, and a new holder would render the whole window again inside
// that frame.
const readFor =
  <T,>(page: string, set: Dispatch<StateUpdater<ReadFor<T> | null>>) =>
  (value: T) =>
    set((held) => (held?.page === page && held.value === value ? held : { page, value }));

/** What `read` holds if it was read for `page`, else `none`: right after the user moves to
 *  another page, its reads may not have answered yet, and the page must not show the one left
 *  (another team's services and on call, another service's runbooks) under the new one. */
const readForPage = <T,>(read: ReadFor<T> | null, page: string | null, none: T): T => (read && read.page === page ? read.value : none);

const NONE: never[] = [];

/** A team's (or the orphans') services, what is on fire for the team, where it sits in the
 *  tree, and the open tab's releases, scorecard (with the groups below it when `below`) or
 *  members. */
export function useTeamPage(ipc: Ipc, selection: Selection | null, tab: TeamTab, below: boolean, generation: number, fail: Fail) {
  const [services, setServices] = useState<ReadFor<ServiceRow[]> | null>(null);
  const [panel, setPanel] = useState<ReadFor<OnCallPanel | null> | null>(null);
  const [matrix, setMatrix] = useState<ReadFor<ReleaseMatrix> | null>(null);
  const [detail, setDetail] = useState<ReadFor<TeamDetail> | null>(null);
  const [scorecard, setScorecard] = useState<ReadFor<ScorecardView> | null>(null);
  // Set together, so the page renders once with both; one that fails costs only its part.
  const show = (page: string, [services, panel]: TeamReads) => {
    // A failed read leaves an empty table under the error's banner, not "Reading" for ever.
    const showNone = (e: unknown) => {
      fail(e);
      setServices({ page, value: [] });
    };
    settle(services, readFor(page, setServices), showNone);
    settle(panel, readFor(page, setPanel), fail);
    answering("team");
  };
  // Made once: the sidebar's memoised rows hold the handler that calls it. A page built ahead
  // opens on what it was built with, however long the palette rested on it: the reads that
  // follow bring what moved since.
  const openAhead = useCallback((opening: Selection, generationNow: number, built?: TeamPageAhead) => {
    const page = teamPageOf(opening);
    const answered = built?.page === page && built.generation === generationNow ? built.reads : page === null ? undefined : taken(teamAhead, ipc, page, generationNow)?.answered;
    if (page !== null && answered) show(page, answered);
  }, []);
  // Read before the frame is painted, not after it as an effect would: a frame sooner. Reads
  // that answered ahead were shown by `openAhead` already: the same values set again change
  // nothing.
  useLayoutEffect(() => {
    const page = teamPageOf(selection);
    if (selection === null || page === null) return;
    const started = taken(teamAhead, ipc, page, generation)?.reads;
    const team = pageKey(selection);
    const { only, stop } = whileCurrent();
    const failed = only(fail);
    (started ?? readTeamPage(ipc, team)).then(only((reads) => show(page, reads)));
    if (team && tab === "team") ipc.team(team).then(only(readFor(page, setDetail)), failed);
    else setDetail(null);
    if (team && tab === "releases") ipc.releaseMatrix(team).then(only(readFor(page, setMatrix)), failed);
    else setMatrix(null);
    if (team && tab === "scorecard") ipc.scorecard(team, below).then(only(readFor(page, setScorecard)), failed);
    else setScorecard(null);
    return stop;
  }, [selection, generation, tab, below]);
  const page = teamPageOf(selection);
  return {
    /** Null until the page's services are read. */
    services: readForPage(services, page, null),
    panel: readForPage(panel, page, null),
    matrix: readForPage(matrix, page, null),
    detail: readForPage(detail, page, null),
    scorecard: readForPage(scorecard, page, null),
    openAhead,
  };
}

/** The organisation's scorecard, while its screen is open. */
export function useOrgScorecard(ipc: Ipc, open: boolean, generation: number, fail: Fail) {
  const [view, setView] = useState<ScorecardView | null>(null);
  useEffect(() => {
    if (open) ipc.scorecard(null, true).then(setView, fail);
  }, [open, generation]);
  return view;
}

/** Everything a service's page shows, read when it opens and whenever the cache changes; only
 *  what was read for the open service. */
export function useServicePage(ipc: Ipc, serviceKey: string | null, generation: number, fail: Fail) {
  const [detail, setDetail] = useState<ReadFor<ServiceDetail> | null>(null);
  const [panel, setPanel] = useState<ReadFor<OnCallPanel | null> | null>(null);
  const [delivery, setDelivery] = useState<ReadFor<ServiceDelivery> | null>(null);
  const [audit, setAudit] = useState<ReadFor<AuditEntry[]> | null>(null);
  const [runbooks, setRunbooks] = useState<ReadFor<RunbookRow[]> | null>(null);
  const [scorecard, setScorecard] = useState<ReadFor<ServiceScorecard> | null>(null);
  // Opened again later, the page waits for its reads rather than show those of its last visit,
  // by then old. Each closing starts a new visit and what is read is kept for the visit it was
  // read in; clearing it instead would render the whole window a second time, inside the frame
  // that closes the page.
  const visit = useRef(0);
  const visiting = (service: string) => `${visit.current} ${service}`;
  // What the page opens on, set together so it renders once with all three.
  const show = (service: string, [detail, panel, delivery]: ServiceReads) => {
    const page = visiting(service);
    settle(detail, readFor(page, setDetail), fail);
    settle(panel, readFor(page, setPanel), fail);
    settle(delivery, readFor(page, setDelivery), fail);
    answering("service");
  };
  // A page built ahead comes up whole: what its first frame would have left for after it (the
  // cards below the fold) was built with it.
  const openAhead = useCallback((key: string, generationNow: number, built?: ServicePageAhead) => {
    if (built?.key === key && built.generation === generationNow) {
      show(key, built.reads);
      completing("service");
      return;
    }
    const answered = taken(serviceAhead, ipc, key, generationNow)?.answered;
    if (answered) show(key, answered);
  }, []);
  // Read before the frame is painted, as the team page does.
  useLayoutEffect(() => {
    if (!serviceKey) {
      visit.current += 1;
      return;
    }
    const { only, stop } = whileCurrent();
    const failed = only(fail);
    const page = visiting(serviceKey);
    (taken(serviceAhead, ipc, serviceKey, generation)?.reads ?? readServicePage(ipc, serviceKey)).then(only((reads) => show(serviceKey, reads)));
    ipc.audit(serviceKey).then(only(readFor(page, setAudit)), failed);
    ipc.runbooks(serviceKey, NO_ASK).then(only(readFor(page, setRunbooks)), failed);
    ipc.serviceScorecard(serviceKey).then(only(readFor(page, setScorecard)), failed);
    return stop;
  }, [serviceKey, generation]);
  const page = serviceKey && visiting(serviceKey);
  return {
    detail: readForPage(detail, page, null),
    panel: readForPage(panel, page, null),
    delivery: readForPage(delivery, page, null),
    audit: readForPage(audit, page, NONE),
    runbooks: readForPage(runbooks, page, NONE),
    scorecard: readForPage(scorecard, page, null),
    openAhead,
  };
}

/** The incident view's data, read when it opens and whenever the cache changes. */
export function useIncident(ipc: Ipc, id: string | null, generation: number, fail: Fail) {
  const [view, setView] = useState<IncidentView | null>(null);
  useEffect(() => {
    if (!id) {
      setView(null);
      return;
    }
    ipc.incident(id).then(setView, fail);
  }, [id, generation]);
  return view && view.incident.id === id ? view : null;
}

/** Every open incident and those resolved this week, while the Incidents screen is open. */
export function useIncidentList(ipc: Ipc, open: boolean, generation: number, fail: Fail) {
  const [rows, setRows] = useState<IncidentRow[]>([]);
  useEffect(() => {
    if (open) ipc.incidents().then(setRows, fail);
  }, [open, generation]);
  return rows;
}

/** The audit log screen's entries, while it is open. */
export function useAuditPage(ipc: Ipc, open: boolean, generation: number, fail: Fail) {
  const [entries, setEntries] = useState<AuditEntry[]>([]);
  useEffect(() => {
    if (open) ipc.audit(null).then(setEntries, fail);
  }, [open, generation]);
  return entries;
}

/** The config file as the sources editor shows it, read when the Sources screen opens (it
 *  asks the keychain where each token is: not on every sync); `set` takes what an edit
 *  answers. */
export function useSourcesFile(ipc: Ipc, open: boolean, fail: Fail) {
  const [file, set] = useState<SourcesFile | null>(null);
  useEffect(() => {
    if (open) ipc.configSources().then(set, fail);
  }, [open]);
  return { file, set };
}

/** Actions started here and still shown, newest first, each by its newest state. */
export function useInFlight<T extends { key: string }>() {
  const [items, setItems] = useState<T[]>([]);
  const show = (item: T) => setItems((all) => [item, ...all.filter((i) => i.key !== item.key)]);
  const dismiss = (key: string) => setItems((all) => all.filter((i) => i.key !== key));
  return { items, show, dismiss };
}

export { NO_ASK };
