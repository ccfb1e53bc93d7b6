import { useState } from "preact/hooks";
import { errorMessage, type EditableSource, type SourceCheck, type SourceDraft, type SourceKind } from "../ipc";
import { CheckResult } from "./Sources";
import { Modal } from "./Modal";

interface Props {
  /** The source being edited; null for a new one. */
  editing: EditableSource | null;
  /** Names other sources have, so a new name is checked before it is sent. */
  takenNames: string[];
  /** Tests the form as it stands, unsaved. */
  onCheck(draft: SourceDraft): Promise<SourceCheck>;
  /** Saves it (the token to the keychain) and puts it in force. */
  onSave(draft: SourceDraft): Promise<void>;
  onClose(): void;
}

const KINDS: [SourceKind, string, string][] = [
  ["backstage", "Backstage", "https://backstage.example.com"],
  ["catalog-files", "Catalog files", ""],
  ["pagerduty", "PagerDuty", "https://api.pagerduty.com"],
  ["alertmanager", "Alertmanager", "http://alertmanager:9093"],
  ["github", "GitHub / GitHub Enterprise", "https://api.github.com"],
  ["argocd", "Argo CD", "https://argocd.example.com"],
];

/** What each platform's token is and where to get it, in one line. */
const TOKEN_HINTS: Record<SourceKind, string> = {
  backstage: "A static or service token of the backend; none for guest access.",
  "catalog-files": "",
  pagerduty: "A REST API key (read-only is enough to look; write to acknowledge or resolve).",
  alertmanager: "Only when a proxy in front of it asks for a bearer token.",
  github: "A fine-grained token with read access to deployments, actions and contents.",
  argocd: "An account token (argocd account generate-token) with get on applications.",
};

/** The form a source is added or edited with: its platform, address and token (typed into a
 *  password field, sent once to be stored in the OS keychain, then cleared), tested before it
 *  is saved. */
export function SourceEditor({ editing, takenNames, onCheck, onSave, onClose }: Props) {
  const initial = editing?.form;
  const [kind, setKind] = useState<SourceKind>(initial?.kind ?? "pagerduty");
  const [name, setName] = useState<string>(initial?.name ?? "pagerduty");
  const [url, setUrl] = useState(initial?.url ?? "");
  const [path, setPath] = useState(initial?.path ?? "");
  const [token, setToken] = useState("");
  const [tokenEnv, setTokenEnv] = useState(initial?.token_env ?? "");
  const [interval, setInterval] = useState(initial?.interval ?? "");
  const [checked, setChecked] = useState<"checking" | { answer: SourceCheck } | { failure: string } | null>(null);
  const [saving, setSaving] = useState(false);
  const [failure, setFailure] = useState<string | null>(null);

  const files = kind === "catalog-files";
  const placeholder = KINDS.find(([k]) => k === kind)?.[2] ?? "";
  const trimmedName = name.trim();
  const nameTaken = trimmedName !== (initial?.name ?? "") && takenNames.includes(trimmedName);
  const draft = (): SourceDraft => ({
    previous_name: initial?.name ?? null,
    form: {
      name: trimmedName,
      kind,
      url: files ? null : url.trim() || null,
      path: files ? path.trim() || null : null,
      token_env: files ? null : tokenEnv.trim() || null,
      interval: interval.trim() || null,
    },
    token: files ? null : token.trim() || null,
  });
  const missing = !trimmedName ? "a name" : files && !path.trim() ? "a directory" : !files && !url.trim() && kind !== "pagerduty" && kind !== "github" ? "a URL" : null;

  const test = () => {
    setChecked("checking");
    onCheck(draft()).then(
      (answer) => setChecked({ answer }),
      (e) => setChecked({ failure: errorMessage(e) }),
    );
  };
  const save = (event: Event) => {
    event.preventDefault();
    if (missing || nameTaken) return;
    setSaving(true);
    setFailure(null);
    onSave(draft()).then(
      () => {
        // The token leaves the web view's state once it is in the keychain.
        setToken("");
        onClose();
      },
      (e) => {
        setSaving(false);
        setFailure(errorMessage(e));
      },
    );
  };
  const chooseKind = (next: SourceKind) => {
    setKind(next);
    setChecked(null);
    if (!editing && (!trimmedName || KINDS.some(([k]) => k === trimmedName))) setName(next);
  };
  const tokenKept = editing?.token_origin && !token ? `Leave empty to keep the token from ${editing.token_origin}.` : null;

  return (
    <Modal class="dialog source-editor" label={editing ? `Edit ${initial?.name}` : "Add a source"} onClose={onClose}>
      <header>
        <h2>{editing ? `Edit ${initial?.name}` : "Add a source"}</h2>
        <button class="close" aria-label="Close" onClick={onClose}>
          ×
        </button>
      </header>
      <form class="form" onSubmit={save} data-source-editor>
        <label>
          Platform
          <select value={kind} onChange={(e) => chooseKind(e.currentTarget.value as SourceKind)} data-field="kind">
            {KINDS.map(([k, label]) => (
              <option key={k} value={k}>
                {label}
              </option>
            ))}
          </select>
        </label>
        <label>
          Name
          <input value={name} onInput={(e) => setName(e.currentTarget.value)} data-field="name" spellcheck={false} required />
          {nameTaken && <span class="error-text">Another source is named {trimmedName}.</span>}
        </label>
        {files ? (
          <label>
            Directory of catalog-info.yaml files
            <input value={path} onInput={(e) => setPath(e.currentTarget.value)} placeholder="/home/me/src/catalog" data-field="path" spellcheck={false} />
          </label>
        ) : (
          <>
            <label>
              URL
              <input value={url} onInput={(e) => setUrl(e.currentTarget.value)} placeholder={placeholder} data-field="url" spellcheck={false} />
              {(kind === "pagerduty" || kind === "github") && <span class="muted">Empty for {placeholder}. GitHub Enterprise: https://HOST/api/v3.</span>}
            </label>
            <label>
              Token
              <input type="password" autocomplete="off" value={token} onInput={(e) => setToken(e.currentTarget.value)} data-field="token" />
              <span class="muted">
                {TOKEN_HINTS[kind]} Stored in the OS keychain, never in the config file. {tokenKept}
              </span>
              {editing?.token_problem && !token && <span class="warn-text">{editing.token_problem}</span>}
            </label>
            <label>
              Or from an environment variable
              <input value={tokenEnv} onInput={(e) => setTokenEnv(e.currentTarget.value)} placeholder={`${kind.toUpperCase().replace("-", "_")}_TOKEN`} data-field="token-env" spellcheck={false} />
            </label>
          </>
        )}
        <label>
          Sync every
          <input value={interval} onInput={(e) => setInterval(e.currentTarget.value)} placeholder="the default (5m)" data-field="interval" spellcheck={false} />
        </label>
        {checked && (
          <p class="check-answer" data-draft-checked={checked === "checking" ? "checking" : "failure" in checked ? "false" : String(checked.answer.ok)}>
            {checked === "checking" ? <span class="muted">Testing…</span> : <CheckResult checked={checked} />}
          </p>
        )}
        {failure && (
          <p class="error-text" role="alert" data-save-failed>
            {failure}
          </p>
        )}
        <footer>
          <span class="muted">{missing ? `Needs ${missing}.` : "Test makes one read-only call; nothing is saved until Save."}</span>
          <button type="button" onClick={test} disabled={!!missing || checked === "checking"} data-test-draft>
            Test connection
          </button>
          <button type="submit" class="primary" disabled={!!missing || nameTaken || saving} data-save>
            {saving ? "Saving…" : "Save"}
          </button>
        </footer>
      </form>
    </Modal>
  );
}
