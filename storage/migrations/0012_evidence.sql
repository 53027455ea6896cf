-- The group room (issue 10): a posko bersama group bound to an area gets the daily recap
-- of its subtree, at most once per group per WIB day, guarded by this key like the
-- members' recap_deliveries. (Numbered 0012 on its branch: renumber at merge if needed.)
CREATE TABLE recap_group_deliveries (
    chat_id     INTEGER NOT NULL,
    day         TEXT NOT NULL,                  -- WIB date, 'YYYY-MM-DD'
    outbox_id   INTEGER REFERENCES outbox(id),
    created_at  TEXT NOT NULL,
    PRIMARY KEY (chat_id, day)
) WITHOUT ROWID;
