import { useEffect, useState } from "preact/hooks";
import { completing } from "./latency";

/** False in a page's first render, true from the render after its first frame is drawn: what
 *  sits below the fold is built then, so the frame that answers the user's click costs what it
 *  shows. `kind` names the interaction for the latency record. */
export function useBelowTheFold(kind: string): boolean {
  const [drawn, setDrawn] = useState(false);
  // Preact runs effects once the frame is drawn.
  useEffect(() => {
    setDrawn(true);
    completing(kind);
  }, []);
  return drawn;
}
