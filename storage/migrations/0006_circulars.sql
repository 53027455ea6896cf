-- Circulars (/siaran) and scheduled announcements (/jadwal): the delivery report that is
-- edited in place, and finding the circulars whose report may need an edit.
ALTER TABLE circulars ADD COLUMN report_digest TEXT;          -- figures last shown to the author
ALTER TABLE circulars ADD COLUMN report_dirty INTEGER NOT NULL DEFAULT 0;  -- a read came in
ALTER TABLE circulars ADD COLUMN report_outbox_id INTEGER REFERENCES outbox(id);  -- queued report
CREATE INDEX circulars_live ON circulars(id) WHERE status = 'sending' OR report_dirty = 1;
CREATE INDEX circulars_status ON circulars(status, id);
