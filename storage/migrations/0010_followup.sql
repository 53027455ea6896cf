-- Follow-through (issue 9): a taken alert keeps a deadline until the post recovers, and
-- the taker can call the post's officers at most once a minute.
ALTER TABLE alerts ADD COLUMN taken_stage INTEGER NOT NULL DEFAULT 0;  -- 0 taken, 1 taker reminded, 2+ climbed
ALTER TABLE alerts ADD COLUMN called_at TEXT;                           -- last "📣 Panggil petugas"
-- A report left diterima/ditangani: the assignee is reminded, then the level above hears.
ALTER TABLE issues ADD COLUMN follow_up_due_at TEXT;
ALTER TABLE issues ADD COLUMN follow_up_stage INTEGER NOT NULL DEFAULT 0;  -- 0 waiting, 1 reminded, 2 told above
CREATE INDEX issues_follow_up_due ON issues(follow_up_due_at) WHERE follow_up_due_at IS NOT NULL;
