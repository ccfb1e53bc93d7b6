import { h, render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { describe, expect, it, vi } from "vitest";
import { answering, asked, completing } from "./latency";

const kept = () => (globalThis as unknown as { __opsdeckLatency: Record<"arrived" | "rendered" | "painted" | "whole", Record<string, number[]>> }).__opsdeckLatency;

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

  it("takes *rendered* once the render the answer queued is in the DOM, before any timer", async () => {
    let show: (text: string) => void = () => {};
    function Answer() {
      const [text, setText] = useState("old");
      show = setText;
      return h("p", null, text);
    }
    const root = document.createElement("div");
    render(h(Answer, null), root);
    const laidOut: string[] = [];
    const layout = vi.spyOn(HTMLElement.prototype, "offsetHeight", "get").mockImplementation(() => {
      laidOut.push(root.textContent ?? "");
      return 36;
    });
    try {
      const before = kept().rendered.service?.length ?? 0;
      let renderedBeforeAnyTimer = false;
      setTimeout(() => (renderedBeforeAnyTimer = kept().rendered.service?.length === before + 1));
      asked("service");
      show("new");
      answering("service");
      await new Promise((resolve) => setTimeout(resolve, 5));
      expect(laidOut).toEqual(["new"]);
      expect(renderedBeforeAnyTimer).toBe(true);
    } finally {
      layout.mockRestore();
    }
  });

  it("keeps *whole* once what the answer left for after its first frame is in the DOM, once per answer", async () => {
    const whole = () => kept().whole.team?.length ?? 0;
    const before = whole();
    completing("team");
    await Promise.resolve();
    expect(whole()).toBe(before);
    asked("team");
    answering("team");
    completing("palette");
    completing("team");
    completing("team");
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(whole()).toBe(before + 1);
    expect(kept().whole.team.at(-1)).toBeGreaterThanOrEqual(kept().rendered.team.at(-1)!);
    // A new ask drops the rest of an answer never completed.
    asked("team");
    answering("team");
    asked("palette");
    completing("team");
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(whole()).toBe(before + 1);
  });

  it("takes *painted* in the frame that draws the answer, ahead of the effects its render set for after that frame", async () => {
    let show: (text: string) => void = () => {};
    let paintedAtEffect = -1;
    function Answer() {
      const [text, setText] = useState("old");
      show = setText;
      useEffect(() => {
        if (text === "new") paintedAtEffect = kept().painted.service?.length ?? 0;
      }, [text]);
      return h("p", null, text);
    }
    const root = document.createElement("div");
    render(h(Answer, null), root);
    // Past the frames the tests before asked for, and the mount's effects.
    await new Promise((resolve) => setTimeout(resolve, 150));
    const before = kept().painted.service?.length ?? 0;
    asked("service");
    show("new");
    answering("service");
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(paintedAtEffect).toBe(before + 1);
    render(null, root);
  });
});
