-- The on-call engineer's actions join the log: PagerDuty incident updates and notes,
-- Alertmanager silences, Argo CD syncs. Their targets are an incident or a silence.
DROP TRIGGER audit_log_appends_known_words;
CREATE TRIGGER audit_log_appends_known_words BEFORE INSERT ON audit_log
WHEN NEW.action NOT IN ('rollback', 'runbook-open', 'runbook-run', 'incident-acknowledge',
        'incident-resolve', 'incident-reassign', 'incident-urgency', 'incident-note', 'silence',
        'silence-expire', 'argocd-sync', 'argocd-auto-sync')
  OR NEW.step NOT IN ('requested', 'answered', 'progress', 'finished', 'notified')
  OR NEW.target_kind NOT IN ('deployment', 'workflow', 'service', 'environment', 'incident', 'silence')
BEGIN
    SELECT RAISE(ABORT, 'the audit log takes only known actions, steps and targets');
END;
