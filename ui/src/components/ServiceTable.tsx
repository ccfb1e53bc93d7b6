import { is } from "../lib/shortcuts";
import { useVirtualizer } from "@tanstack/react-virtual";
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import type { ServiceRow } from "../ipc";
import { GAP_LABELS } from "../lib/format";
import { useDwell } from "../lib/dwell";
import { useBelowTheFold } from "../lib/later";

type Column = "name" | "tier" | "lifecycle" | "system" | "gaps";
const COLUMNS: { id: Column; label: string }[] = [
  { id: "name", label: "Service" },
  { id: "tier", label: "Tier" },
  { id: "lifecycle", label: "Lifecycle" },
  { id: "system", label: "System" },
  { id: "gaps", label: "Gaps" },
];
const ROW_HEIGHT = 36;

/** The size the last table's rows were measured to fit in. Every team's table sits in the same
 *  place, so the next one starts from it: its first render builds the rows that fit, not a
 *  guess's worth to be cut back once it is measured. */
let lastViewport = { width: 900, height: 600 };

/** What the user made of a table: its filter, order and cursor. */
export interface TableView {
  filter: string;
  /** The service under the cursor, and its row when it was put there: where the cursor stays
   *  if a re-read of the cache takes that service off the list. */
  cursor: { key: string | null; row: number };
  column: Column;
  ascending: boolean;
}

const FRESH: TableView = { filter: "", cursor: { key: null, row: 0 }, column: "name", ascending: true };

interface Props {
  services: ServiceRow[];
  /** The table as the user left it, so Back from a service page (or a return to the team)
   *  finds the filter, order and cursor where they were; every change goes to `onViewChange`. */
  view?: TableView;
  onViewChange?(view: TableView): void;
  onOpen(key: string): void;
  /** The cursor's row, once the keyboard has rested on it: its page can be read ahead. */
  onRest?(key: string): void;
  filterRef?: { current: HTMLInputElement | null };
}

function sortValue(row: ServiceRow, column: Column): string | number {
  switch (column) {
    case "name":
      return row.name;
    case "tier":
      return row.tier ?? "9";
    case "lifecycle":
      return row.lifecycle ?? "";
    case "system":
      return row.system ?? "";
    case "gaps":
      return row.gaps.length;
  }
}

const words = (text: string) => text.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(Boolean);

/** Words the filter matches: name, title, system, tier, lifecycle, tags and gap labels. */
function haystack(row: ServiceRow): string[] {
  const gaps = row.gaps.map((g) => GAP_LABELS[g]);
  return words([row.name, row.title, row.system, row.tier && `tier ${row.tier}`, row.lifecycle, ...row.tags, ...gaps].filter(Boolean).join(" "));
}

/** Every typed word must start a word of the row ("go" finds the tag go, not "Argo"). */
export function filterAndSort(rows: ServiceRow[], filter: string, column: Column, ascending: boolean): ServiceRow[] {
  const wanted = words(filter);
  const matches = (row: ServiceRow) => {
    const have = haystack(row);
    return wanted.every((w) => have.some((h) => h.startsWith(w)));
  };
  const kept = wanted.length ? rows.filter(matches) : rows.slice();
  kept.sort((a, b) => {
    const x = sortValue(a, column);
    const y = sortValue(b, column);
    const order = x < y ? -1 : x > y ? 1 : a.name.localeCompare(b.name);
    return ascending ? order : -order;
  });
  return kept;
}

/** A team's services: virtualised so 10,000 rows cost what 30 do. */
export function ServiceTable({ services, view: left, onViewChange, onOpen, onRest, filterRef }: Props) {
  const [view, setView] = useState(left ?? FRESH);
  const { filter, cursor, column, ascending } = view;
  const change = (changes: Partial<TableView>) => {
    const next = { ...view, ...changes };
    onViewChange?.(next);
    setView(next);
  };
  const rows = useMemo(() => filterAndSort(services, filter, column, ascending), [services, filter, column, ascending]);
  // A re-read of the cache (a sync landing while a service page was open) can move the
  // cursor's service or take it off the list: follow it, else stay at its row, clamped.
  const followed = cursor.key === null ? -1 : rows.findIndex((r) => r.key === cursor.key);
  const active = followed >= 0 ? followed : Math.min(cursor.row, Math.max(rows.length - 1, 0));
  const cursorAt = (row: number) => ({ key: rows[row]?.key ?? null, row });
  const resting = rows[active]?.key ?? null;
  useDwell(resting, () => resting && onRest?.(resting));
  const scroller = useRef<HTMLDivElement>(null);
  const drawn = useBelowTheFold("team");
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    // A few rows past each edge once the table is on screen, so a wheel's first notch shows
    // rows already built; none in the frame that answers a team switch, which builds what fits.
    overscan: drawn ? 4 : 0,
    initialRect: lastViewport,
    onChange: (measured) => {
      if (measured.scrollRect) lastViewport = measured.scrollRect;
    },
  });
  // Back on a table left scrolled down: its cursor's row in sight again.
  useLayoutEffect(() => {
    if (active > 0) virtualizer.scrollToIndex(active, { align: "center" });
  }, []);
  // Keyboard-first: ↓/↑ (or j/k) move through the rows, Enter opens, from the filter too.
  const onKeyDown = (e: KeyboardEvent) => {
    const step = is(e, "down") ? 1 : is(e, "up") ? -1 : 0;
    if (step !== 0 && rows.length > 0) {
      e.preventDefault();
      const next = Math.min(Math.max(active + step, 0), rows.length - 1);
      change({ cursor: cursorAt(next) });
      virtualizer.scrollToIndex(next, { align: "auto" });
    } else if (is(e, "open") && rows[active]) {
      e.preventDefault();
      onOpen(rows[active].key);
    }
  };
  // With nothing focused (just after launch, or after closing a page) the keys still drive the
  // table. The ref always holds this render's handler, so the listener is added once.
  const latestKeyDown = useRef(onKeyDown);
  latestKeyDown.current = onKeyDown;
  useEffect(() => {
    const fromBody = (e: KeyboardEvent) => {
      if (e.target === document.body) latestKeyDown.current(e);
    };
    window.addEventListener("keydown", fromBody);
    return () => window.removeEventListener("keydown", fromBody);
  }, []);
  const sortBy = (c: Column) => {
    change(c === column ? { ascending: !ascending } : { column: c, ascending: c !== "gaps" });
  };
  return (
    <div class="table-wrap" onKeyDown={onKeyDown}>
      <div class="table-tools">
        <input
          ref={filterRef}
          class="filter"
          type="search"
          placeholder="Filter by name, system, tier, tag or gap…  ( / )"
          aria-label="Filter services"
          value={filter}
          onInput={(e) => change({ filter: e.currentTarget.value, cursor: FRESH.cursor })}
        />
        <span class="muted">
          {rows.length === services.length ? `${services.length} services` : `${rows.length} of ${services.length}`}
        </span>
      </div>
      <div class="table" role="table" aria-rowcount={rows.length}>
        <div class="row head" role="row">
          {COLUMNS.map((c) => (
            <button
              key={c.id}
              role="columnheader"
              class={`cell ${c.id}`}
              aria-sort={column === c.id ? (ascending ? "ascending" : "descending") : "none"}
              onClick={() => sortBy(c.id)}
            >
              {c.label}
              {column === c.id ? (ascending ? " ▲" : " ▼") : ""}
            </button>
          ))}
        </div>
        <div class="body" ref={scroller}>
          {rows.length === 0 ? (
            <p class="muted pad">{services.length === 0 ? "No services." : "Nothing matches the filter."}</p>
          ) : (
            <div style={{ height: `${virtualizer.getTotalSize()}px`, position: "relative" }}>
              {virtualizer.getVirtualItems().map((item) => {
                const row = rows[item.index];
                return (
                  <div
                    key={row.key}
                    role="row"
                    class={item.index === active ? "row active" : "row"}
                    aria-selected={item.index === active}
                    data-service={row.name}
                    tabIndex={item.index === active ? 0 : -1}
                    style={{ transform: `translateY(${item.start}px)`, height: `${ROW_HEIGHT}px` }}
                    onClick={() => {
                      // Back from its page lands on the row clicked, as after Enter.
                      change({ cursor: cursorAt(item.index) });
                      onOpen(row.key);
                    }}
                  >
                    {/* Weights, marks and colours from the cells' classes, not elements of
                        their own: a team switch builds every row in sight at once. */}
                    <span class="cell name" role="cell">
                      {row.name}
                      {row.title !== row.name && <span class="muted"> {row.title}</span>}
                    </span>
                    <span class="cell tier" role="cell">
                      {row.tier ? <span class={`tier-badge t${row.tier}`}>T{row.tier}</span> : "–"}
                    </span>
                    <span class="cell lifecycle" role="cell">
                      {row.lifecycle ?? "–"}
                    </span>
                    <span class="cell system" role="cell">
                      {row.system ?? "–"}
                    </span>
                    <span class={row.gaps.length === 0 ? "cell gaps ok" : "cell gaps"} role="cell">
                      {row.gaps.length === 0 ? (
                        "✓"
                      ) : (
                        row.gaps.map((g) => (
                          <span key={g} class={`chip ${g === "orphan-owner" || g === "no-owner" ? "danger" : "warn"}`}>
                            {GAP_LABELS[g]}
                          </span>
                        ))
                      )}
                    </span>
                  </div>
                );
              })}
            </div>
          )}
        </div>
      </div>
    </div>
  );
}
