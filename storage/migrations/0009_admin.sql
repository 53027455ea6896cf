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

-- Dated opening hours set from chat (/jam_khusus), beside the config's
-- [[schedule.override]]: for the whole city (no area, no post), an area subtree or a post.
CREATE TABLE hours_overrides (
    id          INTEGER PRIMARY KEY,
    day         TEXT NOT NULL,          -- the local (WIB) date, YYYY-MM-DD
    hours       TEXT NOT NULL,
    area_code   TEXT,
    post_code   TEXT,
    created_by  INTEGER REFERENCES members(id) ON DELETE SET NULL,
    created_at  TEXT NOT NULL,
    removed_at  TEXT,
    CHECK (area_code IS NULL OR post_code IS NULL)
);
CREATE INDEX hours_overrides_day ON hours_overrides(day) WHERE removed_at IS NULL;
