import { describe, expect, it } from "vitest";
import { formatAge, sourceHealth } from "./format";
import type { SourceStatus } from "../ipc";

const base: SourceStatus = {
  name: "catalog",
  kind: "backstage",
  supported: true,
  interval_secs: 60,
  last_attempt: null,
  last_success: null,
  last_error: null,
  item_count: 0,
};
const now = Date.parse("2026-11-26T02:13:00Z");

describe("formatAge", () => {
  it("picks the largest sensible unit", () => {
    expect(formatAge(5)).toBe("5s");
    expect(formatAge(125)).toBe("2m");
    expect(formatAge(7500)).toBe("2h05m");
    expect(formatAge(3 * 86400 + 5)).toBe("3d");
    expect(formatAge(-4)).toBe("0s");
  });
});

describe("sourceHealth", () => {
  const at = (secondsAgo: number) => new Date(now - secondsAgo * 1000).toISOString();
  it("is fresh within three intervals and stale after", () => {
    const s = { ...base, interval_secs: 60, last_attempt: at(100), last_success: at(100) };
    expect(sourceHealth(s, now)).toBe("fresh");
    expect(sourceHealth({ ...s, last_success: at(181), last_attempt: at(181) }, now)).toBe("stale");
  });
  it("is failing when the last attempt failed after the last success", () => {
    const s = { ...base, interval_secs: 60, last_success: at(100), last_attempt: at(10), last_error: "catalog: 500" };
    expect(sourceHealth(s, now)).toBe("failing");
  });
  it("keeps a landed sync with document problems fresh", () => {
    const t = at(10);
    const s = { ...base, interval_secs: 60, last_success: t, last_attempt: t, last_error: "a.yaml line 3: invalid YAML" };
    expect(sourceHealth(s, now)).toBe("fresh");
  });
  it("knows never-synced and unsupported sources", () => {
    expect(sourceHealth({ ...base, interval_secs: 60 }, now)).toBe("never");
    expect(sourceHealth({ ...base, interval_secs: 60, supported: false }, now)).toBe("unsupported");
  });
});
