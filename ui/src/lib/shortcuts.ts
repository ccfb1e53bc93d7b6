import { useEffect, useRef } from "preact/hooks";

/** Every keyboard shortcut: the keys, where they work, what they do. Key handlers ask this
 *  table (`is`), and `?` lists it, so what the help says is what the keys do. */
export type ShortcutId = "palette" | "help" | "filter" | "runbooks" | "acknowledge" | "roll-back" | "back" | "down" | "up" | "open" | "confirm" | "close";

export interface Shortcut {
  id: ShortcutId;
  /** As shown to people. */
  keys: string[];
  where: "Anywhere" | "Lists" | "A service's page" | "The incident view" | "Dialogs";
  does: string;
  matches(e: KeyboardEvent): boolean;
}

const plain = (e: KeyboardEvent) => !e.ctrlKey && !e.metaKey && !e.altKey;

export const SHORTCUTS: Shortcut[] = [
  { id: "palette", keys: ["Ctrl K", "⌘ K"], where: "Anywhere", does: "Search services, teams, people and systems", matches: (e) => (e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "k" },
  { id: "help", keys: ["?"], where: "Anywhere", does: "Show these shortcuts", matches: (e) => e.key === "?" && !e.ctrlKey && !e.metaKey },
  { id: "filter", keys: ["/"], where: "Lists", does: "Filter the list", matches: (e) => e.key === "/" && plain(e) },
  { id: "down", keys: ["↓", "j"], where: "Lists", does: "Next row", matches: (e) => e.key === "ArrowDown" || (e.key === "j" && plain(e) && !typing(e)) },
  { id: "up", keys: ["↑", "k"], where: "Lists", does: "Previous row", matches: (e) => e.key === "ArrowUp" || (e.key === "k" && plain(e) && !typing(e)) },
  { id: "open", keys: ["Enter"], where: "Lists", does: "Open the row", matches: (e) => e.key === "Enter" },
  { id: "runbooks", keys: ["R"], where: "A service's page", does: "Pick one of its runbooks (the incident's service's, on the incident view)", matches: (e) => e.key.toLowerCase() === "r" && plain(e) },
  { id: "acknowledge", keys: ["A"], where: "The incident view", does: "Acknowledge the incident (asks first)", matches: (e) => e.key.toLowerCase() === "a" && plain(e) },
  { id: "roll-back", keys: ["B"], where: "The incident view", does: "Roll back the top suspect change (shows the plan first)", matches: (e) => e.key.toLowerCase() === "b" && plain(e) },
  { id: "back", keys: ["Esc"], where: "A service's page", does: "Back to the list (from the incident view: to the page it was opened from)", matches: (e) => e.key === "Escape" },
  { id: "confirm", keys: ["Enter"], where: "Dialogs", does: "Confirm (a rollback: once, when nothing blocks it)", matches: (e) => e.key === "Enter" },
  { id: "close", keys: ["Esc"], where: "Dialogs", does: "Cancel and close", matches: (e) => e.key === "Escape" },
];

const BY_ID = new Map(SHORTCUTS.map((s) => [s.id, s]));

/** Whether `e` is the shortcut `id`. */
export function is(e: KeyboardEvent, id: ShortcutId): boolean {
  return BY_ID.get(id)!.matches(e);
}

/** Whether the key goes into a text field (where letters are text, not shortcuts). */
export function typing(e: KeyboardEvent): boolean {
  const target = e.target as HTMLElement | null;
  return !!target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT" || target.isContentEditable);
}

/** The page's shortcuts on one window listener, registered once; each key calls the newest
 *  handler of the first shortcut it is, and a handler that returns `false` lets the key go on. */
export function useShortcuts(handlers: Partial<Record<ShortcutId, (e: KeyboardEvent) => boolean | void>>) {
  const latest = useRef(handlers);
  latest.current = handlers;
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      for (const shortcut of SHORTCUTS) {
        const handle = latest.current[shortcut.id];
        if (handle && shortcut.matches(e) && handle(e) !== false) {
          e.preventDefault();
          return;
        }
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);
}
