-- The audit log shared in PostgreSQL by everyone pointed at it: the same rows as the file
-- beside a cache (see ../audit_migrations), and the same rules, enforced by the database for
-- every client. Each row carries the hash of the one before it (`prev_hash`) and its own
-- (`hash`), so an edit, a deletion or a reordering made outside Opsdeck is found by
-- `opsdeck audit verify`. Appends are chained one at a time under an advisory lock.
CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    -- The action's idempotency key: one per confirmed plan or run.
    action_key TEXT NOT NULL,
    -- requested (before the call), answered, progress, finished (the outcome), notified.
    step TEXT NOT NULL,
    -- Seconds since the epoch, as in the file.
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    -- The machine the action was taken from (its host name).
    machine TEXT NOT NULL DEFAULT '',
    action TEXT NOT NULL,
    service TEXT NOT NULL,
    -- A deployment, a workflow, the service alone, an environment, an incident, a silence.
    target_kind TEXT NOT NULL,
    target TEXT NOT NULL,
    target_detail TEXT NOT NULL,
    state TEXT NOT NULL,
    body TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);

-- A key is requested once: a double click, a retry or a second machine cannot act twice.
CREATE UNIQUE INDEX audit_log_requested_once ON audit_log (action_key) WHERE step = 'requested';
CREATE INDEX audit_log_by_action ON audit_log (action_key, seq);
CREATE INDEX audit_log_by_target ON audit_log (action, target_kind, target, target_detail, seq);
CREATE INDEX audit_log_by_service ON audit_log (service, seq);

CREATE FUNCTION audit_log_refuses_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END
$$;

CREATE TRIGGER audit_log_is_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuses_change();
CREATE TRIGGER audit_log_is_never_emptied BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuses_change();

CREATE FUNCTION audit_log_takes_known_words() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.action NOT IN ('rollback', 'runbook-open', 'runbook-run', 'incident-acknowledge',
            'incident-resolve', 'incident-reassign', 'incident-urgency', 'incident-note',
            'silence', 'silence-expire', 'argocd-sync', 'argocd-auto-sync')
        OR NEW.step NOT IN ('requested', 'answered', 'progress', 'finished', 'notified')
        OR NEW.target_kind NOT IN ('deployment', 'workflow', 'service', 'environment',
            'incident', 'silence') THEN
        RAISE EXCEPTION 'the audit log takes only known actions, steps and targets';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER audit_log_appends_known_words BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_takes_known_words();

-- Only the owner may change or empty it (and the triggers stop the owner too). The roles
-- people's Opsdeck connects as are given SELECT and INSERT alone: see the README.
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC;

-- Every client following the log hears of each entry (its action's key) as it is committed:
-- a desktop shows a colleague's rollback without polling.
CREATE FUNCTION audit_log_tells_followers() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('opsdeck_audit_appended', NEW.action_key);
    RETURN NULL;
END
$$;

CREATE TRIGGER audit_log_appended AFTER INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_tells_followers();
