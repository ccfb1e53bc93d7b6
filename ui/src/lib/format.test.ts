import { describe, expect, it } from "vitest";
import { clockTime, dateAndTime, dayTime, formatAge, healthText, staleSources } from "./format";
import { source } from "../test/fixtures";

describe("formatAge", () => {
  it("picks the largest sensible unit", () => {
    expect(formatAge(5)).toBe("5s");
    expect(formatAge(125)).toBe("2m");
    expect(formatAge(7500)).toBe("2h05m");
    expect(formatAge(3 * 86400 + 5)).toBe("3d");
    expect(formatAge(-4)).toBe("0s");
  });
});

describe("healthText", () => {
  it("says until when a rate-limited source waits", () => {
    const text = healthText(source({ health: "rate-limited", retry_after: "2026-11-26T02:31:10Z" }));
    expect(text).toMatch(/^rate limited · next sync \d\d:31:10$/);
  });
  it("counts failures in a row", () => {
    expect(healthText(source({ health: "failing", consecutive_failures: 3 }))).toBe("failing ×3");
    expect(healthText(source({ health: "failing", consecutive_failures: 1 }))).toBe("failing");
    expect(healthText(source({ health: "never" }))).toBe("never synced");
  });
});

describe("staleSources", () => {
  it("keeps the stale sources that feed the screen and hold data", () => {
    const sources = [
      source({ name: "catalog", data_stale: true }),
      source({ name: "files", data_stale: false }),
      source({ name: "empty", data_stale: true, last_success: null }),
    ];
    expect(staleSources(sources).map((s) => s.name)).toEqual(["catalog"]);
    expect(staleSources(sources, ["files"])).toEqual([]);
  });
});

describe("local times from formatters built once", () => {
  const at = "2026-12-01T09:05:07Z";
  it("word a moment as the Date methods they replace do", () => {
    const d = new Date(at);
    expect(dateAndTime(at)).toBe(d.toLocaleString());
    expect(clockTime(at)).toBe(d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false }));
    expect(dayTime(at)).toBe(`${d.toLocaleDateString([], { weekday: "short" })} ${d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hour12: false })}`);
  });
  it("show text that is no date as it came, never throwing", () => {
    for (const word of [clockTime, dateAndTime, dayTime]) expect(word("not a date")).toBe("not a date");
  });
});
