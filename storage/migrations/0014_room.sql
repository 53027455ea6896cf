-- A report that is withdrawn, rejected or resolved closes its open forwards (issue 10):
-- a forward gains the state 'ditutup' (closed because of its report, not by the agency).
--
-- SQLite cannot alter a CHECK, so forwards is rebuilt. forward_events refers to it with
-- ON DELETE CASCADE and foreign keys are on during migrations, so forward_events is
-- rebuilt too and dropped first: dropping forwards then deletes nothing. Renaming
-- forwards_new to forwards rewrites forward_events_new's reference to the new name.
CREATE TABLE forwards_new (
    id            INTEGER PRIMARY KEY,
    issue_id      INTEGER NOT NULL REFERENCES issues(id) ON DELETE CASCADE,
    agency_id     INTEGER NOT NULL REFERENCES agencies(id),
    forwarded_by  INTEGER REFERENCES members(id),
    forwarded_at  TEXT NOT NULL,
    note          TEXT,
    state         TEXT NOT NULL DEFAULT 'dikirim'
                  CHECK (state IN ('dikirim', 'diterima', 'selesai', 'dikembalikan', 'ditutup')),
    area_id       INTEGER NOT NULL REFERENCES areas(id),
    step          INTEGER NOT NULL DEFAULT 0,
    next_due_at   TEXT,
    accepted_by   INTEGER REFERENCES members(id),
    accepted_at   TEXT,
    closed_by     INTEGER REFERENCES members(id),
    closed_at     TEXT,
    outcome_note  TEXT
);
INSERT INTO forwards_new (id, issue_id, agency_id, forwarded_by, forwarded_at, note, state,
                          area_id, step, next_due_at, accepted_by, accepted_at, closed_by,
                          closed_at, outcome_note)
    SELECT id, issue_id, agency_id, forwarded_by, forwarded_at, note, state, area_id, step,
           next_due_at, accepted_by, accepted_at, closed_by, closed_at, outcome_note
    FROM forwards;

CREATE TABLE forward_events_new (
    id          INTEGER PRIMARY KEY,
    forward_id  INTEGER NOT NULL REFERENCES forwards_new(id) ON DELETE CASCADE,
    at          TEXT NOT NULL,
    actor_id    INTEGER REFERENCES members(id),
    kind        TEXT NOT NULL,   -- sent, climbed, accepted, progress, done, returned, closed
    note        TEXT
);
INSERT INTO forward_events_new (id, forward_id, at, actor_id, kind, note)
    SELECT id, forward_id, at, actor_id, kind, note FROM forward_events;

DROP TABLE forward_events;
DROP TABLE forwards;
ALTER TABLE forwards_new RENAME TO forwards;
ALTER TABLE forward_events_new RENAME TO forward_events;

CREATE INDEX forwards_issue ON forwards(issue_id);
CREATE INDEX forwards_due ON forwards(next_due_at) WHERE next_due_at IS NOT NULL;
CREATE INDEX forwards_recap ON forwards(forwarded_at);
CREATE UNIQUE INDEX forwards_open ON forwards(issue_id, agency_id)
    WHERE state IN ('dikirim', 'diterima');
CREATE INDEX forward_events_forward ON forward_events(forward_id);
