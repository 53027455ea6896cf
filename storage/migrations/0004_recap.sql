-- The daily recap (bot/recap.py): at most one per person per WIB day, guarded by the key.
CREATE TABLE recap_deliveries (
    member_id   INTEGER NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    day         TEXT NOT NULL,                  -- WIB date, 'YYYY-MM-DD'
    outbox_id   INTEGER REFERENCES outbox(id),
    created_at  TEXT NOT NULL,
    PRIMARY KEY (member_id, day)
) WITHOUT ROWID;
CREATE INDEX recap_deliveries_day ON recap_deliveries(day);
