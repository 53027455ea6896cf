-- Field reports (issue 9).
--
-- Drafts get a slot: an officer's half-written report and the post they are choosing to
-- check in at are two different conversations and must never overwrite each other. The
-- table holds only unfinished conversation state and nothing refers to it, so it is
-- rebuilt with (member_id, slot) as its key; existing drafts keep their slot.
CREATE TABLE drafts_by_slot (
    member_id   INTEGER NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    slot        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    step        TEXT NOT NULL,
    data        TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (member_id, slot)
) WITHOUT ROWID;
INSERT INTO drafts_by_slot (member_id, slot, kind, step, data, updated_at)
    SELECT member_id, CASE kind WHEN 'checkin' THEN 'checkin' ELSE 'conversation' END,
           kind, step, data, updated_at
    FROM drafts;
DROP TABLE drafts;
ALTER TABLE drafts_by_slot RENAME TO drafts;

-- What was attached: a photo, an image sent as a file, or a video.
ALTER TABLE issue_photos ADD COLUMN kind TEXT NOT NULL DEFAULT 'photo';

-- A report its officer withdrew while it was still new: closed (status 'ditolak', so no
-- list, count or climb treats it as open) and shown as 'ditarik' everywhere.
ALTER TABLE issues ADD COLUMN withdrawn_at TEXT;
