import { useEffect, useRef } from "preact/hooks";

/** How long the keyboard rests on an item before what it opens is read ahead: longer than a
 *  typist's keys or a held arrow key, so passing over items reads nothing. */
export const DWELL_MS = 120;

/** Calls `then` once `key` has stayed the same for {@link DWELL_MS}; never for `null`. */
export function useDwell(key: string | null, then: () => void) {
  const latest = useRef(then);
  latest.current = then;
  useEffect(() => {
    if (key === null) return;
    const timer = setTimeout(() => latest.current(), DWELL_MS);
    return () => clearTimeout(timer);
  }, [key]);
}
