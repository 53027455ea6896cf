-- Follow-through (issue 9): a taken alert keeps a deadline until the post recovers, and
-- the taker can call the post's officers at most once a minute.
ALTER TABLE alerts ADD COLUMN taken_stage INTEGER NOT NULL DEFAULT 0;  -- 0 taken, 1 taker reminded, 2+ climbed
ALTER TABLE alerts ADD COLUMN called_at TEXT;                           -- last "📣 Panggil petugas"
-- A report left diterima/ditangani: the assignee is reminded, then the level above hears.
ALTER TABLE issues ADD COLUMN follow_up_due_at TEXT;
ALTER TABLE issues ADD COLUMN follow_up_stage INTEGER NOT NULL DEFAULT 0;  -- 0 waiting, 1 reminded, 2 told above
CREATE INDEX issues_follow_up_due ON issues(follow_up_due_at) WHERE follow_up_due_at IS NOT NULL;
-- What is already in flight when this arrives gets its clock too, due at once: a taken
-- alert whose post has not recovered reminds its taker, an accepted report its assignee.
UPDATE alerts SET next_due_at = acked_at
 WHERE acked_by IS NOT NULL AND resolved_at IS NULL AND next_due_at IS NULL;
UPDATE posts SET next_due_at = (
    SELECT min(coalesce(posts.next_due_at, a.next_due_at), a.next_due_at) FROM alerts a
     WHERE a.post_id = posts.id AND a.acked_by IS NOT NULL AND a.resolved_at IS NULL)
 WHERE id IN (SELECT post_id FROM alerts WHERE acked_by IS NOT NULL AND resolved_at IS NULL);
UPDATE issues SET follow_up_due_at = updated_at
 WHERE status IN ('diterima', 'ditangani') AND follow_up_due_at IS NULL;
