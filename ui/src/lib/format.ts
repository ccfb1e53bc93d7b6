import type { DeployStatus, Gap, Health, SourceStatus, WaitReason } from "../ipc";

export const GAP_LABELS: Record<Gap, string> = {
  "no-owner": "No owner",
  "orphan-owner": "Owner group missing",
  "no-pagerduty": "No PagerDuty",
  "no-argocd": "No Argo CD",
  "no-github": "No GitHub",
  "no-runbook": "No runbook",
};

/** "12s", "4m", "2h05m", "3d": short enough for a status bar. */
export function formatAge(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  return `${Math.floor(s / 86400)}d`;
}

export const HEALTH_LABELS: Record<Health, string> = {
  fresh: "fresh",
  stale: "stale",
  "rate-limited": "rate limited",
  failing: "failing",
  never: "never synced",
};

/** The badge's words: a wait says until when, a failure how many times in a row. */
export function healthText(source: SourceStatus): string {
  if (source.health === "rate-limited" && source.retry_after) return `rate limited · next sync ${clockTime(source.retry_after)}`;
  if (source.health === "failing" && source.consecutive_failures > 1) return `failing ×${source.consecutive_failures}`;
  return HEALTH_LABELS[source.health];
}

// Built once: WebKit builds a formatter for every `toLocale…String` call, up to a millisecond
// each on this machine, and a page of deploys calls one a row.
const CLOCK = new Intl.DateTimeFormat([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
const WEEKDAY = new Intl.DateTimeFormat([], { weekday: "short" });
const HOUR_MINUTE = new Intl.DateTimeFormat([], { hour: "2-digit", minute: "2-digit", hour12: false });
const DATE_AND_TIME = new Intl.DateTimeFormat([], { year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", second: "numeric" });

/** `iso` in local time through each of `formats`, joined by a space. Text that is no date is
 *  shown as it came: a formatter throws on it (`toLocale…String` said "Invalid Date"). */
function local(iso: string, ...formats: Intl.DateTimeFormat[]): string {
  const at = new Date(iso);
  return Number.isNaN(at.getTime()) ? iso : formats.map((f) => f.format(at)).join(" ");
}

/** Local wall-clock time, "02:31:10". */
export function clockTime(iso: string): string {
  return local(iso, CLOCK);
}

/** Local date and time, as `Date.toLocaleString` words it: "12/3/2026, 2:31:10 AM". */
export function dateAndTime(iso: string): string {
  return local(iso, DATE_AND_TIME);
}

/** Sources whose data a screen shows and that is older than three intervals. */
export function staleSources(sources: SourceStatus[], feeding?: string[]): SourceStatus[] {
  return sources.filter((s) => s.data_stale && s.last_success !== null && (!feeding || feeding.includes(s.name)));
}

export function ageOf(iso: string | null, now: number): string | null {
  return iso ? formatAge((now - Date.parse(iso)) / 1000) : null;
}

/** "30s", "5m", "1h": how a sync interval is written in the config. */
export function formatInterval(secs: number): string {
  if (secs % 3600 === 0) return `${secs / 3600}h`;
  if (secs % 60 === 0) return `${secs / 60}m`;
  return `${secs}s`;
}

const HEALTH_ORDER: Health[] = ["failing", "rate-limited", "stale", "never", "fresh"];

/** The badge that most needs attention among `sources`. */
export function worstHealth(sources: SourceStatus[]): Health {
  return HEALTH_ORDER.find((h) => sources.some((s) => s.health === h)) ?? "fresh";
}

/** A moment in the coming days, in local time: "Tue 09:00". */
export function dayTime(iso: string): string {
  return local(iso, WEEKDAY, HOUR_MINUTE);
}

const SEVERITY_CLASS: Record<string, string> = { critical: "danger", page: "danger", error: "danger", warning: "warn", warn: "warn" };

/** The chip colour of an alert severity. */
export function severityClass(severity: string | null): string {
  return (severity && SEVERITY_CLASS[severity.toLowerCase()]) ?? "";
}

export const STATUS_LABELS: Record<DeployStatus, string> = {
  queued: "queued",
  pending: "pending",
  waiting: "waiting",
  in_progress: "in progress",
  success: "success",
  failure: "failed",
  error: "error",
  inactive: "superseded",
  cancelled: "cancelled",
  unknown: "status not read",
};

const STATUS_CLASS: Partial<Record<DeployStatus, string>> = {
  success: "ok",
  inactive: "ok",
  failure: "danger",
  error: "danger",
  waiting: "warn",
  queued: "warn",
  pending: "warn",
  in_progress: "accent",
};

/** The chip colour of a deploy or run status. */
export function statusClass(status: DeployStatus): string {
  return STATUS_CLASS[status] ?? "";
}

/** Why a pipeline stage waits, in words. */
export function waitText(reason: WaitReason): string {
  switch (reason.reason) {
    case "approval":
      return "waiting for approval";
    case "failed_check":
      return `blocked: ${reason.stage} failed`;
    case "bake_time":
      return `baking until ${clockTime(reason.until)}`;
  }
}

/** "4m12s", "1h03m": how long a stage took. */
export function formatDuration(seconds: number): string {
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, "0")}s`;
  return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, "0")}m`;
}

/** The first seven characters of a commit, as git shows it. */
export function shortSha(sha: string | null): string {
  return sha ? sha.slice(0, 7) : "–";
}
