import type { ComponentChildren } from "preact";
import { useRef } from "preact/hooks";
import { useFocusTrap } from "../lib/keys";

interface Props {
  /** What a screen reader announces. */
  label: string;
  /** The dialog box's classes. */
  class: string;
  onClose(): void;
  children: ComponentChildren;
}

/** Every overlay: a modal dialog over a dimmed page, closed by a click outside, holding the
 *  keyboard's focus until it closes and handing it back after. */
export function Modal({ label, class: boxClass, onClose, children }: Props) {
  const box = useRef<HTMLDivElement>(null);
  useFocusTrap(box);
  return (
    <div class="overlay" onClick={onClose}>
      <div ref={box} class={boxClass} role="dialog" aria-modal="true" aria-label={label} onClick={(e) => e.stopPropagation()}>
        {children}
      </div>
    </div>
  );
}
