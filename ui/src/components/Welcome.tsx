import { useState } from "preact/hooks";

interface Props {
  /** Where the config is written, when there is a home to write it in. */
  configPath: string | null;
  /** Open at the connect step (from the demo label) rather than the first choice. */
  connecting?: boolean;
  onDemo(): void;
  /** Opens the sources editor on a new source. */
  onConnect(): void;
}

/** The first screen without a config: the demo, or the user's own platforms. */
export function Welcome({ configPath, connecting = false, onDemo, onConnect }: Props) {
  const [step, setStep] = useState<"choose" | "connect">(connecting ? "connect" : "choose");
  return (
    <section class="welcome" aria-label="Welcome" data-welcome={step}>
      <h1>Welcome to Opsdeck</h1>
      {step === "choose" ? (
        <>
          <p class="muted">Services, owners, who is on call and what shipped, from your platforms, in one window that answers from its own cache.</p>
          <div class="welcome-choices">
            <button class="choice" onClick={onDemo} data-choice="demo" autoFocus>
              <strong>Try the demo</strong>
              <span>A simulated organisation on this machine: 60 services, an incident in progress, a rollback to try. No account, and your own cache stays untouched.</span>
            </button>
            <button class="choice" onClick={() => setStep("connect")} data-choice="connect">
              <strong>Connect your platforms</strong>
              <span>Backstage or catalog files, PagerDuty, Alertmanager, GitHub, Argo CD: each tested before the first sync.</span>
            </button>
          </div>
        </>
      ) : (
        <>
          <ol class="connect-steps" data-connect-steps>
            <li>Add each platform as a source: its address and a token, which goes to the OS keychain, never to a file.</li>
            <li>Test its connection: Opsdeck says what it found (whose token it is, how much it can see) or exactly what is wrong.</li>
            <li>
              Save: {configPath ? <code>{configPath}</code> : "your config"} is written and Opsdeck leaves the demo for your platforms, with a cache of their own; the
              demo's stays apart.
            </li>
          </ol>
          <p class="muted">
            Which token each platform needs, and the least it may be allowed: the README's <em>Tokens, and the least each needs</em>. In a terminal, <code>opsdeck init</code> does
            the same.
          </p>
          <div class="welcome-actions">
            <button class="primary" onClick={onConnect} data-connect autoFocus>
              Add your first source
            </button>
            <button onClick={connecting ? onDemo : () => setStep("choose")}>{connecting ? "Back to the demo" : "Back"}</button>
          </div>
        </>
      )}
    </section>
  );
}
