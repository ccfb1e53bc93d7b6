import type { Gap, SourceStatus } from "../ipc";

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

export type Health = "fresh" | "stale" | "failing" | "never" | "unsupported";

/**
 * Fresh while the last success is younger than three intervals; failing when the last attempt
 * ended in an error and nothing has landed since.
 */
export function sourceHealth(source: SourceStatus, now: number): Health {
  if (!source.supported) return "unsupported";
  const success = source.last_success ? Date.parse(source.last_success) : null;
  const attempt = source.last_attempt ? Date.parse(source.last_attempt) : null;
  const failedSinceSuccess = source.last_error !== null && attempt !== null && (success === null || attempt > success);
  if (failedSinceSuccess) return "failing";
  if (success === null) return "never";
  return now - success > source.interval_secs * 3 * 1000 ? "stale" : "fresh";
}

export function ageOf(iso: string | null, now: number): string | null {
  return iso ? formatAge((now - Date.parse(iso)) / 1000) : null;
}
