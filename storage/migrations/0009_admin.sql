-- An invite that moves an already registered member to a new Telegram account (lost phone).
ALTER TABLE invites ADD COLUMN rebind INTEGER NOT NULL DEFAULT 0;

-- A change to officers and their posts drafted by an admin in chat (/petugas), applied
-- once when the same admin presses "confirm" (compare-and-swap on decided_at).
CREATE TABLE staff_changes (
    id          INTEGER PRIMARY KEY,
    actor_id    INTEGER NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('add', 'assign', 'move', 'unassign')),
    data        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    decided_at  TEXT,
    outcome     TEXT CHECK (outcome IN ('applied', 'cancelled', 'refused'))
);
CREATE INDEX staff_changes_actor ON staff_changes(actor_id);
