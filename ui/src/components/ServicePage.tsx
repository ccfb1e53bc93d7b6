import type { ComponentChildren } from "preact";
import type { EntitySummary, ServiceDetail } from "../ipc";
import { GAP_LABELS } from "../lib/format";
import { useBelowTheFold } from "../lib/later";
import { ExternalLink } from "./OnCallPanel";

interface Props {
  detail: ServiceDetail;
  onOpenEntity(entity: EntitySummary): void;
  onBack(): void;
  backLabel: string;
  /** Its scorecard level and what fails, in the header. */
  readiness?: ComponentChildren;
  /** Who is on call for it and what is on fire, shown under the facts. */
  onCall?: ComponentChildren;
  /** Its pipeline, environments and deploys, shown under on-call. */
  delivery?: ComponentChildren;
  /** Its runbooks. */
  runbooks?: ComponentChildren;
  /** What Opsdeck did to it (rollbacks, runbooks), newest first. */
  audit?: ComponentChildren;
  onOpenLink(url: string): void;
  /** False while it is built ahead under the page shown: it is not yet the service's page. */
  shown?: boolean;
}

const PLATFORMS = ["PagerDuty", "Argo CD", "GitHub", "Alertmanager"] as const;

/** Components and teams have pages; other kinds are shown but not linked. */
function EntityRef({ entity, onOpen }: { entity: EntitySummary; onOpen(e: EntitySummary): void }) {
  const openable = entity.exists && (entity.kind === "component" || entity.kind === "group");
  const label = (
    <>
      <span class="kind">{entity.kind}</span> {entity.title}
      {!entity.exists && <span class="chip danger">missing</span>}
    </>
  );
  return openable ? (
    <button class="entity link" data-entity={entity.key} onClick={() => onOpen(entity)}>
      {label}
    </button>
  ) : (
    <span class="entity">{label}</span>
  );
}

function Related({ title, items, onOpen }: { title: string; items: EntitySummary[]; onOpen(e: EntitySummary): void }) {
  return (
    <section class="card">
      <h3>
        {title} <span class="muted">{items.length}</span>
      </h3>
      {items.length === 0 ? (
        <p class="muted">None</p>
      ) : (
        <ul class="refs">
          {items.map((e) => (
            <li key={e.key}>
              <EntityRef entity={e} onOpen={onOpen} />
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

/**
 * Everything the catalog knows about one service. Catalog text is rendered as text nodes only:
 * descriptions, titles and URLs can never become markup.
 */
export function ServicePage({ detail: d, onOpenEntity, onBack, backLabel, readiness, onCall, delivery, runbooks, audit, onOpenLink, shown = true }: Props) {
  const wired = (platform: string) => d.platforms.filter((p) => p.platform === platform);
  const below = useBelowTheFold("service");
  return (
    <article class="service-page" data-service-page={shown ? d.name : undefined}>
      <button class="back" onClick={onBack}>
        ← {backLabel}
      </button>
      <header class="service-head">
        <h1>{d.title}</h1>
        {d.title !== d.name && <code>{d.name}</code>}
        {d.tier && <span class={`tier-badge t${d.tier}`}>Tier {d.tier}</span>}
        {d.lifecycle && <span class={`chip ${d.lifecycle === "production" ? "" : "warn"}`}>{d.lifecycle}</span>}
        {d.service_type && <span class="chip">{d.service_type}</span>}
        {readiness}
      </header>
      <dl class="facts">
        <dt>Owner</dt>
        <dd>{d.owner ? <EntityRef entity={d.owner} onOpen={onOpenEntity} /> : <span class="chip danger">no owner</span>}</dd>
        <dt>System</dt>
        <dd>{d.system ? <EntityRef entity={d.system} onOpen={onOpenEntity} /> : "–"}</dd>
        <dt>Sources</dt>
        <dd>{d.sources.join(", ")}</dd>
      </dl>
      {d.description && <p class="description">{d.description}</p>}
      {onCall}
      {runbooks}
      {delivery}
      {below && (
        <>
          {audit}

          <section class={`card gaps-card ${d.gaps.length ? "has-gaps" : ""}`}>
            <h3>Ownership gaps</h3>
            {d.gaps.length === 0 ? (
              <p class="ok">None: owned, on PagerDuty, Argo CD and GitHub, with a runbook.</p>
            ) : (
              <ul class="chips">
                {d.gaps.map((g) => (
                  <li key={g} class={`chip ${g === "orphan-owner" || g === "no-owner" ? "danger" : "warn"}`}>
                    {GAP_LABELS[g]}
                  </li>
                ))}
              </ul>
            )}
          </section>

          <section class="card">
            <h3>Platforms</h3>
            <table class="platforms">
              <tbody>
                {PLATFORMS.map((p) => (
                  <tr key={p}>
                    <th>{p}</th>
                    <td>
                      {wired(p).length === 0 ? (
                        <span class="muted">not wired</span>
                      ) : (
                        wired(p).map((w) => (
                          <span key={w.annotation} class="wiring" title={w.annotation}>
                            <span class="ok">✓</span> <code>{w.value}</code>
                          </span>
                        ))
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>

          <div class="grid">
            <Related title="Depends on" items={d.depends_on} onOpen={onOpenEntity} />
            <Related title="Dependents" items={d.dependents} onOpen={onOpenEntity} />
            <Related title="Provides APIs" items={d.provides_apis} onOpen={onOpenEntity} />
            <Related title="Consumes APIs" items={d.consumes_apis} onOpen={onOpenEntity} />
          </div>

          <section class="card">
            <h3>Links</h3>
            {d.links.length === 0 ? (
              <p class="muted">None</p>
            ) : (
              <ul class="links">
                {d.links.map((l) => (
                  <li key={l.url}>
                    <span class={`chip ${l.type === "runbook" ? "accent" : ""}`}>{l.type ?? "link"}</span>{" "}
                    <ExternalLink url={l.url} label={l.title ?? l.url} onOpen={onOpenLink} /> <code class="url">{l.url}</code>
                  </li>
                ))}
              </ul>
            )}
          </section>

          {d.tags.length > 0 && (
            <section class="card">
              <h3>Tags</h3>
              <ul class="chips">
                {d.tags.map((t) => (
                  <li key={t} class="chip">
                    {t}
                  </li>
                ))}
              </ul>
            </section>
          )}
        </>
      )}
    </article>
  );
}
