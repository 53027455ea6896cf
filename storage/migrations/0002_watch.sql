-- Watch state that the first schema left implicit (SPEC §4).
ALTER TABLE posts ADD COLUMN short_since TEXT;          -- below min_staff since (in a window)
ALTER TABLE posts ADD COLUMN silence_reminded_at TEXT;  -- last "kirim /aman" reminder
ALTER TABLE posts ADD COLUMN open_reminded_for TEXT;    -- window start already reminded of
ALTER TABLE alerts ADD COLUMN recovered_notice_at TEXT;
ALTER TABLE alerts ADD COLUMN last_notified_at TEXT;
CREATE INDEX alerts_due ON alerts(next_due_at) WHERE next_due_at IS NOT NULL AND resolved_at IS NULL;
