-- As the SQLite cache's 20261206000013_deployment_heads.sql: per target and environment,
-- the newest deployment of any status (reached = 0) and the newest that reached it
-- (reached = 1), kept by each landing for the targets it wrote.
CREATE TABLE deployment_heads (
    target TEXT NOT NULL,
    environment TEXT NOT NULL,
    reached INTEGER NOT NULL,
    source TEXT NOT NULL,
    id TEXT NOT NULL,
    PRIMARY KEY (target, environment, reached)
);

INSERT INTO deployment_heads (target, environment, reached, source, id)
SELECT target, environment, reached, source, id FROM (
    SELECT target, environment, 0 AS reached, source, id,
        row_number() OVER (PARTITION BY target, environment ORDER BY started_at DESC, id DESC) AS n
    FROM deployments
    UNION ALL
    SELECT target, environment, 1, source, id,
        row_number() OVER (PARTITION BY target, environment ORDER BY started_at DESC, id DESC)
    FROM deployments WHERE status IN ('success', 'inactive')) AS ranked
WHERE n = 1;

-- Planned from its statistics at once: until the next landing analyzes the tables, a table
-- the planner knows nothing of is scanned whole.
ANALYZE deployment_heads;
