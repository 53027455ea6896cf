-- The command room (SPEC §10): one-time login links and wall links, and the sessions
-- they start. Tokens are stored only as SHA-256 hashes: a copy of the database opens
-- no dashboard.
CREATE TABLE web_links (
    id INTEGER PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    member_id INTEGER NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('login', 'wall')),
    created_at TEXT NOT NULL,
    expires_at TEXT,            -- NULL: a wall link, valid until revoked
    used_at TEXT,               -- a login link is used once
    revoked_at TEXT
);
CREATE INDEX web_links_member ON web_links(member_id, kind);

CREATE TABLE web_sessions (
    id INTEGER PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    member_id INTEGER NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('app', 'browser', 'wall')),
    csrf_token TEXT NOT NULL,
    link_id INTEGER REFERENCES web_links(id) ON DELETE CASCADE,  -- the wall link it hangs on
    created_at TEXT NOT NULL,
    expires_at TEXT,            -- NULL: a wall session, ends when its link is revoked
    revoked_at TEXT
);
CREATE INDEX web_sessions_link ON web_sessions(link_id);
