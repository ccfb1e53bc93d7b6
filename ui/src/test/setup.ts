import { beforeEach } from "vitest";

// jsdom does no layout: every element measures 0×0, so a virtual list would show no rows.
// @tanstack/virtual-core sizes its viewport from clientWidth/clientHeight (and rows from
// offsetHeight): give elements the size of a typical window.
for (const [property, value] of [
  ["clientHeight", 600],
  ["clientWidth", 1000],
  ["offsetHeight", 36],
  ["offsetWidth", 1000],
] as const) {
  Object.defineProperty(HTMLElement.prototype, property, { configurable: true, get: () => value });
}

// jsdom has no media queries; uPlot asks one for the pixel ratio when it loads.
window.matchMedia ??= (query: string) =>
  ({
    matches: false,
    media: query,
    onchange: null,
    addEventListener: () => undefined,
    removeEventListener: () => undefined,
    addListener: () => undefined,
    removeListener: () => undefined,
    dispatchEvent: () => false,
  }) as MediaQueryList;

// jsdom draws nothing and says so on every canvas; charts skip drawing where there is none.
HTMLCanvasElement.prototype.getContext = () => null;

// The app remembers its last screen and the welcome's answer: each test starts as a first
// launch would.
beforeEach(() => localStorage.clear());
