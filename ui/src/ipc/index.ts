// The one module that talks to the Tauri shell. Everything else receives an `Ipc` object, so
// tests can hand the app a fake one.
import { invoke } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";
import type { SearchHit } from "./bindings/SearchHit";
import type { ServiceDetail } from "./bindings/ServiceDetail";
import type { ServiceRow } from "./bindings/ServiceRow";
import type { LaunchInfo } from "./bindings/LaunchInfo";
import type { SourceCheck } from "./bindings/SourceCheck";
import type { SourceDraft } from "./bindings/SourceDraft";
import type { Screen } from "./bindings/Screen";
import type { DesktopSettings } from "./bindings/DesktopSettings";
import type { SourcesFile } from "./bindings/SourcesFile";
import type { EditableSource } from "./bindings/EditableSource";
import type { SourceStatus } from "./bindings/SourceStatus";
import type { SyncProgress } from "./bindings/SyncProgress";
import type { SyncReport } from "./bindings/SyncReport";
import type { TeamSummary } from "./bindings/TeamSummary";
import type { OnCallPanel } from "./bindings/OnCallPanel";
import type { TeamOnCall } from "./bindings/TeamOnCall";
import type { ServiceDelivery } from "./bindings/ServiceDelivery";
import type { ReleaseMatrix } from "./bindings/ReleaseMatrix";
import type { DeploymentRow } from "./bindings/DeploymentRow";
import type { ChangesView } from "./bindings/ChangesView";
import type { DeployStatus } from "./bindings/DeployStatus";
import type { ActivityCursor } from "./bindings/ActivityCursor";
import type { ActivityFilter } from "./bindings/ActivityFilter";
import type { RollbackPlan } from "./bindings/RollbackPlan";
import type { RollbackConfirmation } from "./bindings/RollbackConfirmation";
import type { RollbackProgress } from "./bindings/RollbackProgress";
import type { AuditEntry } from "./bindings/AuditEntry";
import type { RunbookAsk } from "./bindings/RunbookAsk";
import type { RunbookRow } from "./bindings/RunbookRow";
import type { RunbookDocument } from "./bindings/RunbookDocument";
import type { RunbookForm } from "./bindings/RunbookForm";
import type { RunbookRunProgress } from "./bindings/RunbookRunProgress";
import type { TeamDetail } from "./bindings/TeamDetail";
import type { ScorecardView } from "./bindings/ScorecardView";
import type { ServiceScorecard } from "./bindings/ServiceScorecard";
import type { ReportKind } from "./bindings/ReportKind";
import type { IncidentView } from "./bindings/IncidentView";
import type { IncidentRow } from "./bindings/IncidentRow";
import type { ActionRequest } from "./bindings/ActionRequest";
import type { ActionPlan } from "./bindings/ActionPlan";
import type { ActionProgress } from "./bindings/ActionProgress";

export type { EditableSource, SourceDraft, SourcesFile, Screen, DesktopSettings };
export type { SourceKind } from "./bindings/SourceKind";
export type { LaunchInfo, SearchHit, ServiceDetail, ServiceRow, SourceCheck, SourceStatus, SyncProgress, SyncReport, TeamSummary, OnCallPanel, TeamOnCall };
export type { AlertRow } from "./bindings/AlertRow";
export type { LevelOnCall } from "./bindings/LevelOnCall";
export type { OnCallNow } from "./bindings/OnCallNow";
export type { Person } from "./bindings/Person";
export type { PolicyOnCall } from "./bindings/PolicyOnCall";
export type { EntitySummary } from "./bindings/EntitySummary";
export type { Gap } from "./bindings/Gap";
export type { Health } from "./bindings/Health";
export type { Quota } from "./bindings/Quota";
export type { Link } from "./bindings/Link";
export type { ServiceDelivery, ReleaseMatrix, DeploymentRow, ChangesView, DeployStatus, ActivityCursor, ActivityFilter };
export type { Stage } from "./bindings/Stage";
export type { EnvironmentRow } from "./bindings/EnvironmentRow";
export type { WaitReason } from "./bindings/WaitReason";
export type { MatrixCell } from "./bindings/MatrixCell";
export type { ReleaseRow } from "./bindings/ReleaseRow";
export type { PendingRow } from "./bindings/PendingRow";
export type { Commit } from "./bindings/Commit";
export type { RollbackPlan, RollbackConfirmation, RollbackProgress, AuditEntry };
export type { RollbackState } from "./bindings/RollbackState";
export type { ActionTarget } from "./bindings/ActionTarget";
export type { ActionKind } from "./bindings/ActionKind";
export type { RollbackCandidate } from "./bindings/RollbackCandidate";
export type { Blocker } from "./bindings/Blocker";
export type { RunbookAsk, RunbookRow, RunbookDocument, RunbookForm, RunbookRunProgress };
export type { WorkflowInput } from "./bindings/WorkflowInput";
export type { TeamDetail, ScorecardView, ServiceScorecard, ReportKind };
export type { Member } from "./bindings/Member";
export type { OutsideOnCall } from "./bindings/OutsideOnCall";
export type { OwnedKind } from "./bindings/OwnedKind";
export type { SystemMismatch } from "./bindings/SystemMismatch";
export type { CheckInfo } from "./bindings/CheckInfo";
export type { CheckOutcome } from "./bindings/CheckOutcome";
export type { CheckFix } from "./bindings/CheckFix";
export type { ServiceScoreRow } from "./bindings/ServiceScoreRow";
export type { TeamScore } from "./bindings/TeamScore";
export type { Tally } from "./bindings/Tally";
export type { TrendPoint } from "./bindings/TrendPoint";
export type { Worsened } from "./bindings/Worsened";
export type { IncidentView, IncidentRow, ActionRequest, ActionPlan, ActionProgress };
export type { ActionState } from "./bindings/ActionState";
export type { Reassignee } from "./bindings/Reassignee";
export type { SuspectRow } from "./bindings/SuspectRow";
export type { Suspect } from "./bindings/Suspect";
export type { Change } from "./bindings/Change";
export type { ChangeKind } from "./bindings/ChangeKind";
export type { Neighbour } from "./bindings/Neighbour";
export type { AutomatedSyncOff } from "./bindings/AutomatedSyncOff";
export type { Incident } from "./bindings/Incident";


/** The shape of errors the shell returns (`src-tauri/src/error.rs`). */
export type IpcError = { kind: "not-found" | "failed"; message: string };

export type Unsubscribe = () => void;

export interface Ipc {
  teams(): Promise<TeamSummary[]>;
  teamServices(team: string): Promise<ServiceRow[]>;
  /** A team's place in the tree, sub-teams, what else it owns, members and rotations. */
  team(key: string): Promise<TeamDetail>;
  /** A team's scorecard (with the groups below it when `below`), or the organisation's (`null`). */
  scorecard(team: string | null, below: boolean): Promise<ScorecardView>;
  /** A service's checks and how to fix each failing one. */
  serviceScorecard(key: string): Promise<ServiceScorecard>;
  /** Writes a report (a team and the groups below it, or everything) as CSV or markdown to the
   *  downloads folder; answers the path. */
  exportReport(kind: ReportKind, team: string | null, markdown: boolean): Promise<string>;
  orphanedServices(): Promise<ServiceRow[]>;
  service(key: string): Promise<ServiceDetail>;
  search(text: string): Promise<SearchHit[]>;
  sources(): Promise<SourceStatus[]>;
  identity(): Promise<string | null>;
  /** Syncs one source, or all of them when `source` is null. */
  syncNow(source: string | null): Promise<SyncReport[]>;
  /** Tests a source's connection with one cheap, read-only call; nothing is cached. */
  checkSource(source: string): Promise<SourceCheck>;
  /** How the app was started: demo or not, and whether the welcome is due. */
  launchInfo(): Promise<LaunchInfo>;
  /** The app left the demo for the user's own platforms. */
  onLaunchChanged(handler: (launch: LaunchInfo) => void): Promise<Unsubscribe>;
  /** The config file as the sources editor shows it. */
  configSources(): Promise<SourcesFile>;
  /** Tests a source as the editor's form has it, unsaved. */
  checkDraft(draft: SourceDraft): Promise<SourceCheck>;
  /** Saves a source (its token to the keychain) and puts the config in force. */
  saveSource(draft: SourceDraft): Promise<SourcesFile>;
  removeSource(name: string): Promise<SourcesFile>;
  /** Moves a source to `index` in precedence order. */
  moveSource(name: string, index: number): Promise<SourcesFile>;
  /** The email a platform knows the user's token by (else Git's), and who says so. */
  detectIdentity(): Promise<[string, string] | null>;
  setIdentity(email: string): Promise<SourcesFile>;
  uiReady(): Promise<void>;
  /** Who is on call and what is on fire for a team or a service. */
  onCall(scope: { team: string } | { service: string }): Promise<OnCallPanel>;
  onCallOverview(): Promise<TeamOnCall[]>;
  /** Opens a web, mail or phone link with the system's handler. */
  openLink(url: string): Promise<void>;
  /** A service's pipeline, environments, deploy timeline and last production changes. */
  serviceDelivery(service: string): Promise<ServiceDelivery>;
  /** A team's versions per environment, pending promotions and deploy frequency. */
  releaseMatrix(team: string): Promise<ReleaseMatrix>;
  /** Deploys newest first across teams. */
  activity(filter: ActivityFilter): Promise<DeploymentRow[]>;
  /** Every environment deployed to, in promotion order. */
  environments(): Promise<string[]>;
  /** The commits between two deployed versions from the cache (`null` when it holds none), or
   *  read from GitHub when `askGithub` (only on the user's request: the network is an action). */
  changes(service: string, from: string, to: string, askGithub: boolean): Promise<ChangesView | null>;
  /** What rolling `service` back in `environment` (to `to`, or the default) would do. */
  planRollback(service: string, environment: string, to: string | null): Promise<RollbackPlan>;
  /** Carries out a confirmed plan once; progress follows as `onRollbackProgress` events. */
  startRollback(confirmation: RollbackConfirmation): Promise<RollbackProgress>;
  /** The audit log, newest first; one service's when given. */
  audit(service: string | null): Promise<AuditEntry[]>;
  /** Writes the audit log as JSON lines to the downloads folder; answers the path. */
  exportAudit(): Promise<string>;
  onRollbackProgress(handler: (progress: RollbackProgress) => void): Promise<Unsubscribe>;
  /** A service's runbooks, filled in for an incident, an alert or an environment. */
  runbooks(service: string, ask: RunbookAsk): Promise<RunbookRow[]>;
  /** A markdown runbook from the cache; read from GitHub first when `refresh`. */
  runbookDocument(service: string, template: string, refresh: boolean): Promise<RunbookDocument>;
  /** An automated runbook's inputs, prefilled from the context. */
  runbookForm(service: string, template: string, ask: RunbookAsk): Promise<RunbookForm>;
  /** Opens a runbook in the browser (recorded in the audit log); answers the URL opened. */
  openRunbook(service: string, template: string, ask: RunbookAsk): Promise<string>;
  /** Runs an automated runbook; progress follows as `onRunbookProgress` events. */
  runRunbook(service: string, template: string, ask: RunbookAsk, inputs: Record<string, string>): Promise<RunbookRunProgress>;
  onRunbookProgress(handler: (progress: RunbookRunProgress) => void): Promise<Unsubscribe>;
  onSyncProgress(handler: (progress: SyncProgress) => void): Promise<Unsubscribe>;
  onCacheChanged(handler: () => void): Promise<Unsubscribe>;
  /** A notification was clicked or an opsdeck:// link opened: show this screen. */
  onOpenScreen(handler: (screen: Screen) => void): Promise<Unsubscribe>;
  /** An opsdeck:// link could not be opened: why, in words. */
  onLinkFailed(handler: (message: string) => void): Promise<Unsubscribe>;
  /** Opens the link the app was launched with, once the window listens. */
  openPendingLink(): Promise<void>;
  /** The tray, closing the window, starting at login. */
  desktopSettings(): Promise<DesktopSettings>;
  setStartAtLogin(on: boolean): Promise<DesktopSettings>;
  /** Whether closing the window keeps Opsdeck running in the tray (`[desktop]` in the config). */
  setKeepRunningInTray(on: boolean): Promise<DesktopSettings>;
  /** Every open incident, then those resolved this week. */
  incidents(): Promise<IncidentRow[]>;
  /** One incident (id or number) with who is on call, alerts and suspect changes ranked. */
  incident(id: string): Promise<IncidentView>;
  /** What an on-call action (acknowledge, silence, sync…) would do; changes nothing. */
  planAction(request: ActionRequest): Promise<ActionPlan>;
  /** Carries out a planned action once; progress follows as `onActionProgress` events. */
  startAction(key: string): Promise<ActionProgress>;
  onActionProgress(handler: (progress: ActionProgress) => void): Promise<Unsubscribe>;
}

export const tauriIpc: Ipc = {
  teams: () => invoke("teams"),
  teamServices: (team) => invoke("team_services", { team }),
  team: (key) => invoke("team", { key }),
  scorecard: (team, below) => invoke("scorecard", { team, below }),
  serviceScorecard: (key) => invoke("service_scorecard", { key }),
  exportReport: (kind, team, markdown) => invoke("export_report", { kind, team, markdown }),
  orphanedServices: () => invoke("orphaned_services"),
  service: (key) => invoke("service", { key }),
  search: (text) => invoke("search", { text }),
  sources: () => invoke("sources"),
  identity: () => invoke("identity"),
  syncNow: (source) => invoke("sync_now", { source }),
  checkSource: (source) => invoke("check_source", { source }),
  launchInfo: () => invoke("launch_info"),
  onLaunchChanged: (handler) => listen<LaunchInfo>("launch-changed", (e) => handler(e.payload)),
  configSources: () => invoke("config_sources"),
  checkDraft: (draft) => invoke("check_draft", { draft }),
  saveSource: (draft) => invoke("save_source", { draft }),
  removeSource: (name) => invoke("remove_source", { name }),
  moveSource: (name, index) => invoke("move_source", { name, index }),
  detectIdentity: () => invoke("detect_identity"),
  setIdentity: (email) => invoke("set_identity", { email }),
  uiReady: () => invoke("ui_ready"),
  onCall: (scope) => invoke("on_call", scope),
  onCallOverview: () => invoke("on_call_overview"),
  openLink: (url) => invoke("open_link", { url }),
  serviceDelivery: (service) => invoke("service_delivery", { service }),
  releaseMatrix: (team) => invoke("release_matrix", { team }),
  activity: (filter) => invoke("activity", { filter }),
  environments: () => invoke("environments"),
  changes: (service, from, to, askGithub) => invoke("changes", { service, from, to, askGithub }),
  planRollback: (service, environment, to) => invoke("plan_rollback", { service, environment, to }),
  startRollback: (confirmation) => invoke("start_rollback", { confirmation }),
  audit: (service) => invoke("audit", { service }),
  exportAudit: () => invoke("export_audit"),
  onRollbackProgress: (handler) => listen<RollbackProgress>("rollback-progress", (event) => handler(event.payload)),
  runbooks: (service, ask) => invoke("runbooks", { service, ask }),
  runbookDocument: (service, template, refresh) => invoke("runbook_document", { service, template, refresh }),
  runbookForm: (service, template, ask) => invoke("runbook_form", { service, template, ask }),
  openRunbook: (service, template, ask) => invoke("open_runbook", { service, template, ask }),
  runRunbook: (service, template, ask, inputs) => invoke("run_runbook", { service, template, ask, inputs }),
  onRunbookProgress: (handler) => listen<RunbookRunProgress>("runbook-progress", (event) => handler(event.payload)),
  onSyncProgress: (handler) => listen<SyncProgress>("sync-progress", (event) => handler(event.payload)),
  onCacheChanged: (handler) => listen("cache-changed", () => handler()),
  onOpenScreen: (handler) => listen<Screen>("open-screen", (event) => handler(event.payload)),
  onLinkFailed: (handler) => listen<string>("link-failed", (event) => handler(event.payload)),
  openPendingLink: () => invoke("open_pending_link"),
  desktopSettings: () => invoke("desktop_settings"),
  setStartAtLogin: (on) => invoke("set_start_at_login", { on }),
  setKeepRunningInTray: (on) => invoke("set_keep_running_in_tray", { on }),
  incidents: () => invoke("incidents"),
  incident: (id) => invoke("incident", { id }),
  planAction: (request) => invoke("plan_action", { request }),
  startAction: (key) => invoke("start_action", { key }),
  onActionProgress: (handler) => listen<ActionProgress>("action-progress", (event) => handler(event.payload)),
};

/** One line to show for anything a command rejected with. */
export function errorMessage(error: unknown): string {
  if (error && typeof error === "object" && "message" in error) return String((error as IpcError).message);
  return String(error);
}
