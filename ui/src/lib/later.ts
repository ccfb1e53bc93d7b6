import { useLayoutEffect, useState } from "preact/hooks";
import { completing } from "./latency";

/** How long what is below the fold waits for a frame that may not come: WebKit draws none
 *  while the window is hidden (started in the tray), and the page should be whole when shown. */
const NO_FRAME_AFTER_MS = 100;

/** False in a page's first render, true from the render after its first frame is drawn: what
 *  sits below the fold is built then, so the frame that answers the user's click costs what it
 *  shows. `kind` names the interaction for the latency record. */
export function useBelowTheFold(kind: string): boolean {
  const [drawn, setDrawn] = useState(false);
  // Not an effect: Preact runs a component's pending effects as soon as it renders again, and
  // a page often renders again inside its first frame (the virtual list measuring itself), so
  // an effect would build what is below the fold into that frame after all. A timeout set in
  // the next animation frame runs once that frame is drawn.
  useLayoutEffect(() => {
    let afterFrame: ReturnType<typeof setTimeout> | undefined;
    const stop = () => {
      cancelAnimationFrame(frame);
      clearTimeout(afterFrame);
      clearTimeout(noFrame);
    };
    const build = () => {
      stop();
      setDrawn(true);
      completing(kind);
    };
    const frame = requestAnimationFrame(() => {
      afterFrame = setTimeout(build);
    });
    const noFrame = setTimeout(build, NO_FRAME_AFTER_MS);
    return stop;
  }, []);
  return drawn;
}
