-- As the SQLite cache's 20261206000014_deploy_days.sql: per target, environment and day
-- (days since 1970-01-01, UTC), the deploys that did not fail, kept by each landing for the
-- targets it wrote. The key carries the count, so a team's ninety days are read from the
-- index alone: its rows lie scattered over the table (a heap page each).
CREATE TABLE deploy_days (
    target TEXT NOT NULL,
    environment TEXT NOT NULL,
    day BIGINT NOT NULL,
    deploys BIGINT NOT NULL,
    PRIMARY KEY (target, environment, day) INCLUDE (deploys)
);

INSERT INTO deploy_days (target, environment, day, deploys)
SELECT target, environment, started_at / 86400, count(*) FROM deployments
WHERE status NOT IN ('failure', 'error', 'cancelled')
GROUP BY target, environment, started_at / 86400;

-- Planned from its statistics at once, as deployment_heads.
ANALYZE deploy_days;
