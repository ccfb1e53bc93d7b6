-- The audit log, in its own file beside the cache: the cache may be deleted and rebuilt from
-- the platforms, the record of what was done to them may not. Every step of every action is
-- appended, never changed; each row carries the hash of the one before it (`prev_hash`) and
-- its own (`hash`, over its content and `prev_hash`), so an edit, a deletion or a reordering
-- made outside Opsdeck is found by `opsdeck audit verify`.
CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    -- The action's idempotency key: one per confirmed plan or run.
    action_key TEXT NOT NULL,
    -- requested (before the call), answered, progress, finished (the outcome), notified.
    step TEXT NOT NULL,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    service TEXT NOT NULL,
    -- What it acts on: a deployment (a platform target in an environment), a workflow (of a
    -- repository at a ref), the service alone, or an environment (rows from before).
    target_kind TEXT NOT NULL,
    target TEXT NOT NULL,
    target_detail TEXT NOT NULL,
    state TEXT NOT NULL,
    body TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);

-- A key is requested once: a double click, a retry or a second window cannot act twice.
CREATE UNIQUE INDEX audit_log_requested_once ON audit_log (action_key) WHERE step = 'requested';
CREATE INDEX audit_log_by_action ON audit_log (action_key, seq);
CREATE INDEX audit_log_by_target ON audit_log (action, target_kind, target, target_detail, seq);
CREATE INDEX audit_log_by_service ON audit_log (service, seq);

CREATE TRIGGER audit_log_is_append_only_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

CREATE TRIGGER audit_log_is_append_only_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

CREATE TRIGGER audit_log_appends_known_words BEFORE INSERT ON audit_log
WHEN NEW.action NOT IN ('rollback', 'runbook-open', 'runbook-run')
  OR NEW.step NOT IN ('requested', 'answered', 'progress', 'finished', 'notified')
  OR NEW.target_kind NOT IN ('deployment', 'workflow', 'service', 'environment')
BEGIN
    SELECT RAISE(ABORT, 'the audit log takes only known actions, steps and targets');
END;
