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
