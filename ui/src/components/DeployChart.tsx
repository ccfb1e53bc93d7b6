import { useEffect, useRef } from "preact/hooks";
import type UPlot from "uplot";
import "uplot/dist/uPlot.min.css";

/**
 * uPlot, loaded on first use. It builds an `Intl.NumberFormat` from `navigator.language` when it
 * loads, and WebKit reports the POSIX "C" locale (no LANG set, as on CI) as the tag "C", which
 * Intl refuses: the import would throw. A tag Intl refuses is replaced by "en-US" first.
 */
let loading: Promise<typeof UPlot> | null = null;
function loadUplot() {
  if (!loading) {
    try {
      new Intl.NumberFormat(navigator.language);
    } catch {
      Object.defineProperty(navigator, "language", { value: "en-US", configurable: true });
    }
    loading = import("uplot").then((m) => m.default);
  }
  return loading;
}

interface Props {
  /** Days, oldest first (YYYY-MM-DD). */
  days: string[];
  /** One value per day. */
  counts: number[];
  label: string;
  /** What the chart says, for screen readers. */
  summary?: string;
  /** Bars (counts per day) or a line (a level over time, e.g. a percentage). */
  shape?: "bars" | "line";
  /** The top of the y axis; the largest value when not given. */
  yMax?: number;
  width?: number;
  height?: number;
}

/** Values per day as bars or a line (uPlot). Draws nothing where canvas is missing (jsdom). */
export function DeployChart({ days, counts, label, summary, shape = "bars", yMax, width = 640, height = 160 }: Props) {
  const holder = useRef<HTMLDivElement | null>(null);
  useEffect(() => {
    const el = holder.current;
    if (!el || !supportsCanvas()) return;
    let plot: { destroy(): void } | null = null;
    let cancelled = false;
    loadUplot().then((uPlot) => {
      if (cancelled) return;
      plot = draw(uPlot, el);
    });
    return () => {
      cancelled = true;
      plot?.destroy();
    };
  }, [days, counts, label, shape, yMax, width, height]);

  function draw(uPlot: typeof UPlot, el: HTMLElement) {
    const xs = days.map((d) => Date.parse(`${d}T00:00:00Z`) / 1000);
    const styles = getComputedStyle(document.documentElement);
    const accent = styles.getPropertyValue("--accent").trim() || "#2f6fde";
    const muted = styles.getPropertyValue("--muted").trim() || "#5f6877";
    const grid = styles.getPropertyValue("--border").trim() || "#d9dde5";
    return new uPlot(
      {
        width,
        height,
        legend: { show: false },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true }, y: { range: (_u: UPlot, _min: number, max: number) => [0, yMax ?? Math.max(1, max)] } },
        axes: [
          { stroke: muted, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } },
          { stroke: muted, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, size: 36, incrs: [1, 2, 5, 10, 20, 50] },
        ],
        series: [
          {},
          shape === "bars"
            ? { label, fill: accent, stroke: accent, paths: uPlot.paths.bars!({ size: [0.7, 12] }), points: { show: false } }
            : { label, stroke: accent, width: 2, points: { show: days.length < 3 } },
        ],
      },
      [xs, counts],
      el,
    );
  }
  const total = counts.reduce((a, b) => a + b, 0);
  return (
    <figure class="deploy-chart" data-chart={label}>
      <div ref={holder} role="img" aria-label={summary ?? `${label}: ${total} production deploys in ${days.length} days`} />
    </figure>
  );
}

function supportsCanvas(): boolean {
  try {
    return !!document.createElement("canvas").getContext("2d");
  } catch {
    return false;
  }
}
