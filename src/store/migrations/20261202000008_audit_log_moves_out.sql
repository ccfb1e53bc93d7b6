-- The audit log moves to its own file (see audit_migrations/): the cache is disposable, the
-- log is not. The rows stay here under another name until Opsdeck has copied them across,
-- chained, and then drops this table (`Store::open`); nothing is lost if that is interrupted.
ALTER TABLE audit_log RENAME TO audit_log_to_move;
