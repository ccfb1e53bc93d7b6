// The one module that talks to the Tauri shell. Everything else receives an `Ipc` object, so
// tests can hand the app a fake one.
import { invoke } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";
import type { SearchHit } from "./bindings/SearchHit";
import type { ServiceDetail } from "./bindings/ServiceDetail";
import type { ServiceRow } from "./bindings/ServiceRow";
import type { SourceStatus } from "./bindings/SourceStatus";
import type { SyncProgress } from "./bindings/SyncProgress";
import type { SyncReport } from "./bindings/SyncReport";
import type { TeamSummary } from "./bindings/TeamSummary";

export type { SearchHit, ServiceDetail, ServiceRow, SourceStatus, SyncProgress, SyncReport, TeamSummary };
export type { EntitySummary } from "./bindings/EntitySummary";
export type { Gap } from "./bindings/Gap";
export type { Health } from "./bindings/Health";
export type { Quota } from "./bindings/Quota";
export type { Link } from "./bindings/Link";

/** The shape of errors the shell returns (`src-tauri/src/error.rs`). */
export type IpcError = { kind: "not-found" | "failed"; message: string };

export type Unsubscribe = () => void;

export interface Ipc {
  teams(): Promise<TeamSummary[]>;
  teamServices(team: string): Promise<ServiceRow[]>;
  orphanedServices(): Promise<ServiceRow[]>;
  service(key: string): Promise<ServiceDetail>;
  search(text: string): Promise<SearchHit[]>;
  sources(): Promise<SourceStatus[]>;
  identity(): Promise<string | null>;
  /** Syncs one source, or all of them when `source` is null. */
  syncNow(source: string | null): Promise<SyncReport[]>;
  uiReady(): Promise<void>;
  onSyncProgress(handler: (progress: SyncProgress) => void): Promise<Unsubscribe>;
  onCacheChanged(handler: () => void): Promise<Unsubscribe>;
}

export const tauriIpc: Ipc = {
  teams: () => invoke("teams"),
  teamServices: (team) => invoke("team_services", { team }),
  orphanedServices: () => invoke("orphaned_services"),
  service: (key) => invoke("service", { key }),
  search: (text) => invoke("search", { text }),
  sources: () => invoke("sources"),
  identity: () => invoke("identity"),
  syncNow: (source) => invoke("sync_now", { source }),
  uiReady: () => invoke("ui_ready"),
  onSyncProgress: (handler) => listen<SyncProgress>("sync-progress", (event) => handler(event.payload)),
  onCacheChanged: (handler) => listen("cache-changed", () => handler()),
};

/** One line to show for anything a command rejected with. */
export function errorMessage(error: unknown): string {
  if (error && typeof error === "object" && "message" in error) return String((error as IpcError).message);
  return String(error);
}
