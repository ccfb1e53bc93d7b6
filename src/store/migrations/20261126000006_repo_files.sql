-- Files read from repositories for runbooks: markdown runbooks (readable offline) and the
-- workflow files of automated ones (their inputs). Kept by GitHub sync with conditional reads,
-- and refreshed when a user asks.
CREATE TABLE repo_files (
    repo TEXT NOT NULL,
    path TEXT NOT NULL,
    git_ref TEXT NOT NULL,
    source TEXT NOT NULL,
    sha TEXT NOT NULL,
    etag TEXT,
    html_url TEXT,
    -- When GitHub last said this is the file (read, or answered 304).
    confirmed_at INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (repo, path, git_ref)
);
