-- The durable inbox (SPEC §11): every update Telegram delivered, stored before it is
-- acknowledged (the next getUpdates offset, or the webhook's 200) and marked done in the
-- same transaction as its handler's first write. update_id is the key, so an update
-- Telegram delivers again is recognised and not processed twice.
CREATE TABLE inbox (
    update_id   INTEGER PRIMARY KEY,
    chat_id     INTEGER,
    received_at TEXT NOT NULL,
    payload     TEXT NOT NULL,
    state       TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done')),
    done_at     TEXT
);
-- What a (re)starting process replays first, in update_id order; stays tiny.
CREATE INDEX inbox_pending ON inbox (update_id) WHERE state = 'pending';
