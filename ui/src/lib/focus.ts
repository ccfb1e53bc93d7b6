import { tabbable } from "tabbable";

/** Keeps Tab out of `region` (a page built ahead, under the page shown) without styling it
 *  differently, which `inert` or `visibility` would make WebKit undo element by element when it
 *  comes up: focus that lands in it goes on to the element Tab would reach next outside it, the
 *  way it was going (back when it came from after the region). */
export function passFocusOver(region: HTMLElement, event: FocusEvent) {
  const from = event.relatedTarget instanceof Node ? event.relatedTarget : null;
  const backward = from !== null && !region.contains(from) && (region.compareDocumentPosition(from) & Node.DOCUMENT_POSITION_FOLLOWING) !== 0;
  const outside = tabbable(document.body).filter((element) => !region.contains(element));
  const after = outside.filter((element) => (region.compareDocumentPosition(element) & Node.DOCUMENT_POSITION_FOLLOWING) !== 0);
  const before = outside.filter((element) => !after.includes(element));
  const next = backward ? before[before.length - 1] : after[0];
  if (next) next.focus();
  else if (event.target instanceof HTMLElement || event.target instanceof SVGElement) event.target.blur();
}
