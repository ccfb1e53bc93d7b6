-- Per target and environment, the newest deployment of any status (reached = 0) and the
-- newest that reached it (reached = 1; success or inactive), newest by start then id, as
-- the release matrix shows them. Kept by each landing for the targets it wrote: picking them
-- from every deployment of a team's targets at each click cost the matrix most of its time.
CREATE TABLE deployment_heads (
    target TEXT NOT NULL,
    environment TEXT NOT NULL,
    reached INTEGER NOT NULL,
    source TEXT NOT NULL,
    id TEXT NOT NULL,
    PRIMARY KEY (target, environment, reached)
) WITHOUT ROWID;

INSERT INTO deployment_heads (target, environment, reached, source, id)
SELECT target, environment, reached, source, id FROM (
    SELECT target, environment, 0 AS reached, source, id,
        row_number() OVER (PARTITION BY target, environment ORDER BY started_at DESC, id DESC) AS n
    FROM deployments
    UNION ALL
    SELECT target, environment, 1, source, id,
        row_number() OVER (PARTITION BY target, environment ORDER BY started_at DESC, id DESC)
    FROM deployments WHERE status IN ('success', 'inactive'))
WHERE n = 1;
