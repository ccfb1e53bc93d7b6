import { useLayoutEffect, useRef } from "preact/hooks";

/** Escape closes a dialog: registered once (before other handlers, so it is the dialog's
 *  Escape and not the page's), calling the newest `onClose`. */
export function useEscape(onClose: () => void) {
  const close = useRef(onClose);
  close.current = onClose;
  useLayoutEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") {
        e.stopPropagation();
        close.current();
      }
    };
    window.addEventListener("keydown", onKey, true);
    return () => window.removeEventListener("keydown", onKey, true);
  }, []);
}
