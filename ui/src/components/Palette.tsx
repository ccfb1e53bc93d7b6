import { useEffect, useRef, useState } from "preact/hooks";
import type { SearchHit } from "../ipc";

interface Props {
  search(text: string): Promise<SearchHit[]>;
  onPick(hit: SearchHit): void;
  onClose(): void;
}

/** Ctrl+K: search as you type over services, teams, people and systems; arrows and Enter. */
export function Palette({ search, onPick, onClose }: Props) {
  const [text, setText] = useState("");
  const [hits, setHits] = useState<SearchHit[]>([]);
  const [active, setActive] = useState(0);
  const input = useRef<HTMLInputElement>(null);
  const latest = useRef("");

  useEffect(() => input.current?.focus(), []);
  useEffect(() => {
    latest.current = text;
    if (!text.trim()) {
      setHits([]);
      return;
    }
    search(text).then(
      (found) => {
        // Answers can arrive out of order; only the one for the current text counts.
        if (latest.current === text) {
          setHits(found);
          setActive(0);
        }
      },
      () => setHits([]),
    );
  }, [text]);

  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === "Escape") onClose();
    else if (e.key === "ArrowDown") {
      e.preventDefault();
      setActive((a) => Math.min(a + 1, hits.length - 1));
    } else if (e.key === "ArrowUp") {
      e.preventDefault();
      setActive((a) => Math.max(a - 1, 0));
    } else if (e.key === "Enter" && hits[active]) onPick(hits[active]);
  };

  return (
    <div class="overlay" onClick={onClose}>
      <div class="palette" role="dialog" aria-label="Command palette" onClick={(e) => e.stopPropagation()}>
        <input
          ref={input}
          class="palette-input"
          placeholder="Search services, teams, people, systems…"
          aria-label="Search"
          value={text}
          onInput={(e) => setText(e.currentTarget.value)}
          onKeyDown={onKeyDown}
        />
        <ul class="hits" role="listbox">
          {hits.map((h, i) => (
            <li
              key={h.key}
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
      </div>
    </div>
  );
}
