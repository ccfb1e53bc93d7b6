/** How long the window takes from a user's input to its answer, per kind of interaction (the
 *  last 1,000 of each): *arrived* once the engine's answer is in hand (Tauri's IPC included),
 *  *rendered* once the answer is in the DOM and laid out, *painted* once the frame showing it is
 *  drawn, *whole* once what that frame left for after it (a page's cards below the fold) is in
 *  the DOM too. Read by the benchmark that drives the real window (`make bench`) as
 *  `window.__opsdeckLatency`. */
interface Kept {
  arrived: Record<string, number[]>;
  rendered: Record<string, number[]>;
  painted: Record<string, number[]>;
  /** Once what the first frame left out (below the fold) is in the DOM too. */
  whole: Record<string, number[]>;
}
const kept: Kept = { arrived: {}, rendered: {}, painted: {}, whole: {} };
const KEPT = 1000;
let pending: { kind: string; at: number } | null = null;
let answered: { kind: string; at: number } | null = null;

(globalThis as { __opsdeckLatency?: Kept }).__opsdeckLatency = kept;

function keep(samples: Record<string, number[]>, kind: string, since: number) {
  const list = (samples[kind] ??= []);
  list.push(performance.now() - since);
  if (list.length > KEPT) list.shift();
}

/** The user just asked for something of `kind` the screen will answer (a key typed in the
 *  palette, a team or a service picked). */
export function asked(kind: string) {
  pending = { kind, at: performance.now() };
  // An answer's rest still to come belongs to that answer, not to this ask's.
  answered = null;
}

/** What was asked is being set to show now. Nothing is kept when nobody asked for `kind` (a
 *  sync refreshed the screen). */
export function answering(kind: string) {
  if (pending?.kind !== kind) return;
  const since = pending.at;
  answered = pending;
  pending = null;
  keep(kept.arrived, kind, since);
  // The state change just set queued Preact's render as a microtask: one queued now runs
  // right after it, and reading the layout there lays the answer out as its frame will. (A
  // timeout would also wait for that frame when WebKit paints directly: it runs the
  // rendering update, paint included, before any timer.)
  queueMicrotask(() => {
    void document.body.offsetHeight;
    keep(kept.rendered, kind, since);
  });
  // The next animation frame is the one that draws the answer, and a timeout set in it runs
  // once that frame is drawn. Asked for before the render, so it runs ahead of the timeouts
  // the render's effects set in the same frame (Preact runs effects then), which are not
  // that frame's.
  requestAnimationFrame(() => setTimeout(() => keep(kept.painted, kind, since)));
}

/** What the answer to `kind` left for after its first frame is being set to show now. */
export function completing(kind: string) {
  if (answered?.kind !== kind) return;
  const since = answered.at;
  answered = null;
  queueMicrotask(() => {
    void document.body.offsetHeight;
    keep(kept.whole, kind, since);
  });
}
