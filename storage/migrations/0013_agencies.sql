-- Partner agencies and their liaisons (issue 10, SPEC §8).
--
-- An agency (instansi: KPU, Bawaslu, Polri, ...) has a short lowercase code and a name.
CREATE TABLE agencies (
    id          INTEGER PRIMARY KEY,
    code        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

-- A liaison (penghubung) belongs to one agency; everyone else has none.
ALTER TABLE members ADD COLUMN agency_id INTEGER REFERENCES agencies(id);
CREATE INDEX members_agency ON members(agency_id) WHERE agency_id IS NOT NULL;

-- The role CHECK must admit 'liaison'. SQLite cannot alter a CHECK, so the table is
-- rebuilt: nothing refers to member_roles, so copying, dropping and renaming is safe
-- with foreign keys on; its index is recreated on the new table.
CREATE TABLE member_roles_new (
    member_id INTEGER NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    role      TEXT NOT NULL CHECK (role IN ('officer', 'supervisor', 'admin', 'liaison')),
    PRIMARY KEY (member_id, role)
) WITHOUT ROWID;
INSERT INTO member_roles_new (member_id, role) SELECT member_id, role FROM member_roles;
DROP TABLE member_roles;
ALTER TABLE member_roles_new RENAME TO member_roles;
CREATE INDEX member_roles_role ON member_roles(role, member_id);

-- Disposisi: a report forwarded to an agency. Each forward has its own state:
-- dikirim (sent) -> diterima (accepted, with progress notes) -> selesai | dikembalikan.
-- ``area_id`` is the area whose liaisons hold it now; an unaccepted forward climbs to the
-- agency's liaisons one level up when ``next_due_at`` comes (the watcher's pass).
CREATE TABLE forwards (
    id            INTEGER PRIMARY KEY,
    issue_id      INTEGER NOT NULL REFERENCES issues(id) ON DELETE CASCADE,
    agency_id     INTEGER NOT NULL REFERENCES agencies(id),
    forwarded_by  INTEGER REFERENCES members(id),
    forwarded_at  TEXT NOT NULL,
    note          TEXT,
    state         TEXT NOT NULL DEFAULT 'dikirim'
                  CHECK (state IN ('dikirim', 'diterima', 'selesai', 'dikembalikan')),
    area_id       INTEGER NOT NULL REFERENCES areas(id),
    step          INTEGER NOT NULL DEFAULT 0,
    next_due_at   TEXT,
    accepted_by   INTEGER REFERENCES members(id),
    accepted_at   TEXT,
    closed_by     INTEGER REFERENCES members(id),
    closed_at     TEXT,
    outcome_note  TEXT
);
CREATE INDEX forwards_issue ON forwards(issue_id);
CREATE INDEX forwards_due ON forwards(next_due_at) WHERE next_due_at IS NOT NULL;
CREATE INDEX forwards_recap ON forwards(forwarded_at);
-- One open forward per report and agency (a returned or finished one may be sent again).
CREATE UNIQUE INDEX forwards_open ON forwards(issue_id, agency_id)
    WHERE state IN ('dikirim', 'diterima');

CREATE TABLE forward_events (
    id          INTEGER PRIMARY KEY,
    forward_id  INTEGER NOT NULL REFERENCES forwards(id) ON DELETE CASCADE,
    at          TEXT NOT NULL,
    actor_id    INTEGER REFERENCES members(id),
    kind        TEXT NOT NULL,   -- sent, climbed, accepted, progress, done, returned
    note        TEXT
);
CREATE INDEX forward_events_forward ON forward_events(forward_id);
