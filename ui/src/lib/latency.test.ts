import { describe, expect, it, vi } from "vitest";
import { answering, asked } from "./latency";

const kept = () => (globalThis as unknown as { __opsdeckLatency: { rendered: Record<string, number[]>; painted: Record<string, number[]> } }).__opsdeckLatency;

describe("latency", () => {
  it("keeps the time from an ask to the frame after its answer, once, for its kind only", async () => {
    vi.useFakeTimers({ toFake: ["requestAnimationFrame", "setTimeout", "performance"] });
    try {
      asked("palette");
      vi.advanceTimersByTime(7);
      answering("team");
      answering("palette");
      answering("palette");
      await vi.advanceTimersByTimeAsync(40);
      const { rendered, painted } = kept();
      expect(rendered.team).toBeUndefined();
      expect(rendered.palette).toHaveLength(1);
      expect(painted.palette).toHaveLength(1);
      expect(rendered.palette[0]).toBeGreaterThanOrEqual(7);
      expect(painted.palette[0]).toBeGreaterThan(rendered.palette[0]);
      answering("palette");
      await vi.advanceTimersByTimeAsync(40);
      expect(rendered.palette).toHaveLength(1);
    } finally {
      vi.useRealTimers();
    }
  });
});
