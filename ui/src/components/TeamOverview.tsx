import { Fragment } from "preact";
import type { EntitySummary, TeamDetail } from "../ipc";

interface Props {
  detail: TeamDetail;
  onOpenEntity(entity: EntitySummary): void;
  onOpenTeam(key: string): void;
}

const KIND_TITLES: Record<string, string> = {
  system: "Systems",
  api: "APIs",
  resource: "Resources",
  domain: "Domains",
  location: "Locations",
  template: "Templates",
};

/** Who a team is: the groups below it, everything it owns besides services, its members and
 *  who is on call for its services, and what in the catalog around it does not add up. */
export function TeamOverview({ detail, onOpenEntity, onOpenTeam }: Props) {
  const entity = (e: EntitySummary) =>
    e.exists ? (
      <button class="entity link" onClick={() => onOpenEntity(e)}>
        {e.title}
      </button>
    ) : (
      <span class="entity missing" title="not in the catalog">
        {e.title} <span class="chip danger">missing</span>
      </span>
    );
  return (
    <div class="team-overview">
      {detail.tree_problems.length > 0 && (
        <div class="banner warn" role="status" data-tree-problems>
          {detail.tree_problems.map((p) => (
            <div key={p}>{p}</div>
          ))}
        </div>
      )}
      <div class="overview-columns">
        <section class="card" aria-label="Sub-teams">
          <h3>Sub-teams</h3>
          {detail.sub_teams.length === 0 ? (
            <p class="muted">None: no group names {detail.team.title} as its parent.</p>
          ) : (
            <ul class="plain">
              {detail.sub_teams.map((t) => (
                <li key={t.key}>
                  <button class="link" data-sub-team={t.name} onClick={() => onOpenTeam(t.key)}>
                    {t.title}
                  </button>{" "}
                  <span class="muted">
                    {t.service_count_below} services{t.child_count > 0 ? ` with ${t.child_count} groups below` : ""}
                    {t.gap_count_below > 0 && ` · ${t.gap_count_below} gaps`}
                  </span>
                </li>
              ))}
            </ul>
          )}
          <h3>Also owns</h3>
          {detail.owns.length === 0 ? (
            <p class="muted">Nothing besides its services.</p>
          ) : (
            <dl class="owns">
              {detail.owns.map((o) => (
                <Fragment key={o.kind}>
                  <dt>{KIND_TITLES[o.kind] ?? o.kind}</dt>
                  <dd>
                    {o.entities.map((e, i) => (
                      <Fragment key={e.key}>
                        {i > 0 && ", "}
                        {entity(e)}
                      </Fragment>
                    ))}
                  </dd>
                </Fragment>
              ))}
            </dl>
          )}
          {detail.system_mismatches.length > 0 && (
            <>
              <h3>Owned here, part of another group's system</h3>
              <p class="muted small">Backstage reads ownership from the service, not its system: check which of the two answers for it.</p>
              <ul class="plain" data-mismatches>
                {detail.system_mismatches.map((m) => (
                  <li key={m.service.key}>
                    {entity(m.service)} <span class="muted">is part of</span> {entity(m.system)}
                    <span class="muted">, owned by </span>
                    {m.system_owner ? entity(m.system_owner) : <span class="warn-text">nobody</span>}
                  </li>
                ))}
              </ul>
            </>
          )}
        </section>
        <section class="card" aria-label="Members">
          <h3>Members ({detail.members.length})</h3>
          {detail.members.length === 0 ? (
            <p class="warn-text">No members: nobody in the catalog answers for this team.</p>
          ) : (
            <table class="score-table members">
              <thead>
                <tr>
                  <th>Member</th>
                  <th>In the rotation</th>
                  <th>On call now</th>
                </tr>
              </thead>
              <tbody>
                {detail.members.map((m) => (
                  <tr key={m.user.key} data-member={m.user.name}>
                    <td>
                      {m.user.title}
                      {m.is_me && <span class="chip accent">you</span>}
                      {m.email && <div class="muted small">{m.email}</div>}
                    </td>
                    <td>{m.in_rotation ? "yes" : <span class="muted">no</span>}</td>
                    <td>{m.on_call_now ? <span class="chip ok">on call</span> : ""}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {detail.outside_on_call.length > 0 && (
            <>
              <h3>On call for its services, not in the team</h3>
              <ul class="plain" data-outside>
                {detail.outside_on_call.map((o) => (
                  <li key={`${o.name}-${o.email}`}>
                    {o.name} <span class="muted">{o.policies.join(", ")}</span>
                    {!o.catalog_user && <span class="chip warn" title="No catalog user has this email">not in the catalog</span>}
                  </li>
                ))}
              </ul>
            </>
          )}
        </section>
      </div>
    </div>
  );
}
