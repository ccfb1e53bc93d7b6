-- The audit log, typed: what an action acts on besides its service is a kind (an environment,
-- a workflow, the service alone) and a value, instead of one `environment` column that held
-- an environment, a workflow's file or '-'. Every row is kept: the append-only rule is lifted
-- for this migration alone, rows are rewritten in place, and the rule comes back with checks
-- that only known kinds, steps and targets are ever appended.
DROP TRIGGER audit_log_is_append_only_update;
DROP INDEX audit_log_by_service;

ALTER TABLE audit_log RENAME COLUMN environment TO target;
ALTER TABLE audit_log ADD COLUMN target_kind TEXT NOT NULL DEFAULT 'environment';
UPDATE audit_log SET target_kind = CASE action
    WHEN 'runbook-run' THEN 'workflow'
    WHEN 'runbook-open' THEN 'service'
    ELSE 'environment'
END;
UPDATE audit_log SET target = '' WHERE target_kind = 'service';

CREATE INDEX audit_log_by_target ON audit_log (service, action, target_kind, target, seq);

CREATE TRIGGER audit_log_is_append_only_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

CREATE TRIGGER audit_log_appends_known_words BEFORE INSERT ON audit_log
WHEN NEW.action NOT IN ('rollback', 'runbook-open', 'runbook-run')
  OR NEW.step NOT IN ('requested', 'answered', 'progress', 'finished', 'notified')
  OR NEW.target_kind NOT IN ('environment', 'workflow', 'service')
BEGIN
    SELECT RAISE(ABORT, 'the audit log takes only known actions, steps and targets');
END;
