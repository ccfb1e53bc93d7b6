import { render } from "@testing-library/preact";
import { describe, expect, it, vi } from "vitest";
import { DWELL_MS, useDwell } from "./dwell";

function Resting({ on, then }: { on: string | null; then: (key: string) => void }) {
  useDwell(on, () => on && then(on));
  return null;
}

describe("useDwell", () => {
  it("calls back once the key has rested, not for keys passed over, nor for none", () => {
    vi.useFakeTimers();
    try {
      const rested = vi.fn();
      const { rerender } = render(<Resting on="a" then={rested} />);
      vi.advanceTimersByTime(DWELL_MS - 1);
      rerender(<Resting on="b" then={rested} />);
      vi.advanceTimersByTime(DWELL_MS - 1);
      expect(rested).not.toHaveBeenCalled();
      vi.advanceTimersByTime(1);
      expect(rested).toHaveBeenCalledExactlyOnceWith("b");
      rerender(<Resting on={null} then={rested} />);
      vi.advanceTimersByTime(DWELL_MS * 2);
      expect(rested).toHaveBeenCalledTimes(1);
    } finally {
      vi.useRealTimers();
    }
  });
});
