-- Follow-through (issue 9): a taken alert keeps a deadline until the post recovers, and
-- the taker can call the post's officers at most once a minute.
ALTER TABLE alerts ADD COLUMN taken_stage INTEGER NOT NULL DEFAULT 0;  -- 0 taken, 1 taker reminded, 2+ climbed
ALTER TABLE alerts ADD COLUMN called_at TEXT;                           -- last "📣 Panggil petugas"
