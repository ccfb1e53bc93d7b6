import { render, waitFor } from "@testing-library/preact";
import { useLayoutEffect, useState } from "preact/hooks";
import { afterEach, describe, expect, it, vi } from "vitest";
import { useBelowTheFold } from "./later";

/** A page that renders again inside its first frame, as one whose virtual list measures
 *  itself does. */
function Page({ renders }: { renders: string[] }) {
  const below = useBelowTheFold("team");
  const [measured, setMeasured] = useState(false);
  useLayoutEffect(() => setMeasured(true), []);
  renders.push(`${measured ? "measured" : "first"}${below ? " + below" : ""}`);
  return <div>{below && <p data-below>below the fold</p>}</div>;
}

describe("useBelowTheFold", () => {
  afterEach(() => vi.restoreAllMocks());

  it("builds what is below the fold after the first frame, even when the page renders again inside it", async () => {
    const renders: string[] = [];
    const { container } = render(<Page renders={renders} />);
    // Rendered again inside its first frame (the test renderer also flushes effects then):
    // nothing below the fold yet.
    expect(renders).toEqual(["first", "measured"]);
    expect(container.querySelector("[data-below]")).toBeNull();
    await waitFor(() => expect(container.querySelector("[data-below]")).not.toBeNull());
    expect(renders.at(-1)).toBe("measured + below");
  });

  it("builds it without a frame when none comes, as in a window hidden in the tray", async () => {
    vi.spyOn(window, "requestAnimationFrame").mockImplementation(() => 0);
    const renders: string[] = [];
    const { container } = render(<Page renders={renders} />);
    expect(container.querySelector("[data-below]")).toBeNull();
    await waitFor(() => expect(container.querySelector("[data-below]")).not.toBeNull());
    expect(renders.at(-1)).toBe("measured + below");
  });
});
