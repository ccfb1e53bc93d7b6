import { useLayoutEffect, useRef, useState } from "preact/hooks";
import { is } from "./shortcuts";

/** Escape closes a dialog: registered once (before other handlers, so it is the dialog's
 *  Escape and not the page's), calling the newest `onClose`. */
export function useEscape(onClose: () => void) {
  const close = useRef(onClose);
  close.current = onClose;
  useLayoutEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (is(e, "close")) {
        e.stopPropagation();
        close.current();
      }
    };
    window.addEventListener("keydown", onKey, true);
    return () => window.removeEventListener("keydown", onKey, true);
  }, []);
}

/** A confirming dialog's keys: Escape cancels; Enter confirms when the dialog is `ready` and
 *  `enterConfirms` says the key is not the focused control's own (a select's, a button's).
 *  One capture listener, registered once, reading the newest render's values. */
export function useConfirmKeys(ready: boolean, confirm: () => void, onClose: () => void, enterConfirms: (e: KeyboardEvent) => boolean) {
  const latest = useRef({ ready, confirm, onClose, enterConfirms });
  latest.current = { ready, confirm, onClose, enterConfirms };
  useLayoutEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const { ready, confirm, onClose, enterConfirms } = latest.current;
      if (is(e, "close")) {
        e.preventDefault();
        e.stopPropagation();
        onClose();
      } else if (is(e, "confirm") && ready && enterConfirms(e)) {
        e.preventDefault();
        confirm();
      }
    };
    window.addEventListener("keydown", onKey, true);
    return () => window.removeEventListener("keydown", onKey, true);
  }, []);
}

/** The tag of the element a key went to. */
export function targetTag(e: KeyboardEvent): string {
  return (e.target as HTMLElement | null)?.tagName ?? "";
}

const FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

/** A modal dialog's focus: Tab and Shift+Tab stay inside `box`, the first control (or `box`
 *  itself) is focused when nothing inside is, and on close focus returns where it was before
 *  the dialog opened. */
export function useFocusTrap(box: { current: HTMLElement | null }, start: "first-control" | "dialog" = "first-control") {
  // Read at the first render, before any child's effect moves focus into the dialog.
  const [before] = useState(() => document.activeElement);
  useLayoutEffect(() => {
    const inside = () => Array.from(box.current?.querySelectorAll<HTMLElement>(FOCUSABLE) ?? []);
    if (box.current && !box.current.contains(document.activeElement)) {
      if (start === "dialog") box.current.focus();
      else inside()[0]?.focus();
    }
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== "Tab" || !box.current) return;
      const all = inside();
      if (all.length === 0) return;
      const first = all[0];
      const last = all[all.length - 1];
      const at = document.activeElement;
      if (e.shiftKey && (at === first || !box.current.contains(at))) {
        e.preventDefault();
        last.focus();
      } else if (!e.shiftKey && (at === last || !box.current.contains(at))) {
        e.preventDefault();
        first.focus();
      }
    };
    window.addEventListener("keydown", onKey, true);
    return () => {
      window.removeEventListener("keydown", onKey, true);
      const back = before as HTMLElement | null;
      if (back && back.isConnected && typeof back.focus === "function") back.focus();
    };
  }, []);
}
