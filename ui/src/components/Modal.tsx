import type { ComponentChildren } from "preact";
import { useRef } from "preact/hooks";
import { useFocusTrap } from "../lib/keys";

interface Props {
  /** What a screen reader announces. */
  label: string;
  /** The dialog box's classes. */
  class: string;
  onClose(): void;
  /** Where the keyboard starts: the first control, or the dialog itself, for a dialog whose
   *  controls come with a plan still being read (Enter then lands on nothing until it is). */
  startFocus?: "first-control" | "dialog";
  children: ComponentChildren;
}

/** Every overlay: a modal dialog over a dimmed page, closed by a click outside, holding the
 *  keyboard's focus until it closes and handing it back after. */
export function Modal({ label, class: boxClass, onClose, startFocus = "first-control", children }: Props) {
  const box = useRef<HTMLDivElement>(null);
  useFocusTrap(box, startFocus);
  return (
    <div class="overlay" onClick={onClose}>
      <div ref={box} class={boxClass} role="dialog" aria-modal="true" aria-label={label} tabIndex={startFocus === "dialog" ? -1 : undefined} onClick={(e) => e.stopPropagation()}>
        {children}
      </div>
    </div>
  );
}
