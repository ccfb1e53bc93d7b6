import { useLayoutEffect, useRef, useState } from "preact/hooks";
import type { SearchHit } from "../ipc";
import { Modal } from "./Modal";
import { is } from "../lib/shortcuts";
import { answering, asked } from "../lib/latency";
import { useDwell } from "../lib/dwell";

interface Props {
  search(text: string): Promise<SearchHit[]>;
  onPick(hit: SearchHit): void;
  /** The active hit, once the keyboard has rested on it: what it opens can be read ahead. */
  onRest?(hit: SearchHit): void;
  onClose(): void;
}

/** Ctrl+K: search as you type over services, teams, people and systems; arrows and Enter.
 *  A combobox: the input owns the list, the active option is announced. */
export function Palette({ search, onPick, onRest, onClose }: Props) {
  const [text, setText] = useState("");
  const [hits, setHits] = useState<SearchHit[]>([]);
  const [active, setActive] = useState(0);
  const input = useRef<HTMLInputElement>(null);
  const latest = useRef("");

  // The search starts with the key, not after the next frame as an effect would.
  const typed = (next: string) => {
    asked("palette");
    setText(next);
    latest.current = next;
    if (!next.trim()) {
      setHits([]);
      return;
    }
    search(next).then(
      (found) => {
        // Answers can arrive out of order; only the one for the current text counts.
        if (latest.current === next) {
          setHits(found);
          setActive(0);
          answering("palette");
        }
      },
      () => setHits([]),
    );
  };

  const resting = hits[active];
  useDwell(resting ? `${resting.kind}:${resting.key}` : null, () => resting && onRest?.(resting));

  // Focus before the next key event can arrive; a key that still lands outside the input
  // (typed at a fast typist's pace right after Ctrl+K) is typed into it, never lost.
  useLayoutEffect(() => {
    input.current?.focus();
    const onKey = (e: KeyboardEvent) => {
      const field = input.current;
      if (!field || e.target === field || e.key.length !== 1 || e.ctrlKey || e.metaKey || e.altKey) return;
      e.preventDefault();
      e.stopPropagation();
      field.focus();
      typed(latest.current + e.key);
    };
    window.addEventListener("keydown", onKey, true);
    return () => window.removeEventListener("keydown", onKey, true);
  }, []);
  const onKeyDown = (e: KeyboardEvent) => {
    if (is(e, "close")) onClose();
    else if (is(e, "down")) {
      e.preventDefault();
      setActive((a) => Math.min(a + 1, hits.length - 1));
    } else if (is(e, "up")) {
      e.preventDefault();
      setActive((a) => Math.max(a - 1, 0));
    } else if (is(e, "open") && hits[active]) onPick(hits[active]);
  };

  return (
    <Modal class="palette" label="Command palette" onClose={onClose}>
      <input
        ref={input}
        class="palette-input"
        placeholder="Search services, teams, people, systems…"
        aria-label="Search"
        role="combobox"
        aria-expanded={hits.length > 0}
        aria-controls="palette-hits"
        aria-autocomplete="list"
        aria-activedescendant={hits[active] ? `hit-${active}` : undefined}
        value={text}
        onInput={(e) => typed(e.currentTarget.value)}
        onKeyDown={onKeyDown}
      />
      <ul class="hits" role="listbox" id="palette-hits" aria-label="Matches">
        {hits.map((h, i) => (
          <li
            key={h.key}
            id={`hit-${i}`}
            role="option"
            aria-selected={i === active}
            class={i === active ? "active" : ""}
            data-hit={h.key}
            onMouseEnter={() => setActive(i)}
            onClick={() => onPick(h)}
          >
            <span class="kind">{h.kind}</span>
            <span class="hit-name">{h.title}</span>
            {h.title !== h.name && <code>{h.name}</code>}
            {h.context && <span class="muted hit-context">{h.context}</span>}
          </li>
        ))}
        {text.trim() && hits.length === 0 && <li class="muted">No match for “{text}”</li>}
      </ul>
      <footer class="muted">↑↓ to move · Enter to open · Esc to close</footer>
    </Modal>
  );
}
