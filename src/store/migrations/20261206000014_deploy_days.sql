-- Per target, environment and day (days since 1970-01-01, UTC): the deploys that did not
-- fail (a status never read counts), as the release matrix's deploy frequency shows them.
-- Kept by each landing for the targets it wrote, as deployment_heads are: counting a team's
-- deployments of ninety days at each click was the matrix's largest read left.
CREATE TABLE deploy_days (
    target TEXT NOT NULL,
    environment TEXT NOT NULL,
    day INTEGER NOT NULL,
    deploys INTEGER NOT NULL,
    PRIMARY KEY (target, environment, day)
) WITHOUT ROWID;

INSERT INTO deploy_days (target, environment, day, deploys)
SELECT target, environment, started_at / 86400, count(*) FROM deployments
WHERE status NOT IN ('failure', 'error', 'cancelled')
GROUP BY target, environment, started_at / 86400;
