import { render } from "@testing-library/preact";
import { afterEach, describe, expect, it, vi } from "vitest";
import { passFocusOver } from "./focus";

function Page() {
  return (
    <>
      <button id="above">Above</button>
      <div id="built" onFocusIn={(e) => passFocusOver(e.currentTarget as HTMLElement, e)}>
        <button id="first">First</button>
        <a id="second" href="#x">
          Second
        </a>
      </div>
      <button id="below">Below</button>
    </>
  );
}

describe("passFocusOver", () => {
  // jsdom lays nothing out, and an element without boxes is taken for hidden.
  afterEach(() => vi.restoreAllMocks());
  const laidOut = () => vi.spyOn(Element.prototype, "getClientRects").mockReturnValue([new DOMRect(0, 0, 10, 10)] as unknown as DOMRectList);

  it("sends focus that lands in the region on to the next element outside it, the way it was going", () => {
    laidOut();
    const { container } = render(<Page />);
    const at = (id: string) => container.querySelector<HTMLElement>(`#${id}`)!;
    // Focus arriving at `id` from `from`, as Tab moves it.
    const lands = (id: string, from: HTMLElement | null) => at(id).dispatchEvent(new FocusEvent("focusin", { bubbles: true, relatedTarget: from }));

    at("above").focus();
    lands("first", at("above"));
    expect(document.activeElement).toBe(at("below"));

    at("below").focus();
    lands("second", at("below"));
    expect(document.activeElement).toBe(at("above"));

    // Focus set from nowhere (a click, a script) goes forward.
    lands("first", null);
    expect(document.activeElement).toBe(at("below"));
  });

  it("lets go of focus when nothing outside the region takes it", () => {
    laidOut();
    const { container } = render(
      <div id="built" onFocusIn={(e) => passFocusOver(e.currentTarget as HTMLElement, e)}>
        <button id="only">Only</button>
      </div>,
    );
    const only = container.querySelector<HTMLElement>("#only")!;
    only.focus();
    expect(document.activeElement).not.toBe(only);
  });
});
