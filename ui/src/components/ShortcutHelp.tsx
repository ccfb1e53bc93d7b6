import { SHORTCUTS, type Shortcut } from "../lib/shortcuts";
import { useEscape } from "../lib/keys";
import { Modal } from "./Modal";

/** `?`: every keyboard shortcut, by where it works, straight from the registry. */
export function ShortcutHelp({ onClose }: { onClose(): void }) {
  useEscape(onClose);
  const groups = new Map<Shortcut["where"], Shortcut[]>();
  for (const s of SHORTCUTS) groups.set(s.where, [...(groups.get(s.where) ?? []), s]);
  return (
    <Modal class="dialog shortcut-help" label="Keyboard shortcuts" onClose={onClose}>
      <header>
        <h2>Keyboard shortcuts</h2>
        <button class="close" aria-label="Close" onClick={onClose}>
          ×
        </button>
      </header>
      {[...groups].map(([where, shortcuts]) => (
        <section key={where}>
          <h3>{where}</h3>
          <dl class="shortcuts">
            {shortcuts.map((s) => (
              <div key={s.id} data-shortcut={s.id}>
                <dt>
                  {s.keys.map((k) => (
                    <kbd key={k}>{k}</kbd>
                  ))}
                </dt>
                <dd>{s.does}</dd>
              </div>
            ))}
          </dl>
        </section>
      ))}
    </Modal>
  );
}
