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
