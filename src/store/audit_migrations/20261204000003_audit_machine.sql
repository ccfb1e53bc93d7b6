-- Each entry says from which machine it was taken (its host name): in a log shared by a team
-- that is how "who rolled back what" becomes "from where". Empty in entries from before.
ALTER TABLE audit_log ADD COLUMN machine TEXT NOT NULL DEFAULT '';
