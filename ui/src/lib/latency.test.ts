import { describe, expect, it, vi } from "vitest";
import { answering, asked } from "./latency";

const kept = () => (globalThis as unknown as { __opsdeckLatency: Record<"arrived" | "rendered" | "painted", Record<string, number[]>> }).__opsdeckLatency;

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
      const { arrived, rendered, painted } = kept();
      expect(rendered.team).toBeUndefined();
      expect(arrived.palette).toEqual([7]);
      expect(rendered.palette).toHaveLength(1);
      expect(painted.palette).toHaveLength(1);
      expect(rendered.palette[0]).toBeGreaterThanOrEqual(arrived.palette[0]);
      expect(painted.palette[0]).toBeGreaterThan(rendered.palette[0]);
      answering("palette");
      await vi.advanceTimersByTimeAsync(40);
      expect(rendered.palette).toHaveLength(1);
    } finally {
      vi.useRealTimers();
    }
  });
});
