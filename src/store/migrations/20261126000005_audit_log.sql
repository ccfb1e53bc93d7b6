-- The audit log: every action Opsdeck takes on a platform (rollbacks now, runbooks later), as
-- steps appended in order. Sync never writes here, and nothing may change or remove a row:
-- an action is "completed" by appending its next step, never by editing the first.
CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    -- The action's idempotency key: one per confirmed plan.
    action_key TEXT NOT NULL,
    -- requested (before the call), answered (the platform's ids or error), progress,
    -- finished (the outcome), notified (the change event).
    step TEXT NOT NULL,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    service TEXT NOT NULL,
    environment TEXT NOT NULL,
    state TEXT NOT NULL,
    body TEXT NOT NULL
);

-- A key is requested once: a double click, a retry or a second window cannot act twice.
CREATE UNIQUE INDEX audit_log_requested_once ON audit_log (action_key) WHERE step = 'requested';
CREATE INDEX audit_log_by_action ON audit_log (action_key, seq);
CREATE INDEX audit_log_by_service ON audit_log (service, environment, seq);

CREATE TRIGGER audit_log_is_append_only_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

CREATE TRIGGER audit_log_is_append_only_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
