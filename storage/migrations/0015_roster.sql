-- Piket (SPEC §9): who should be at each post, and when.
--
-- roster_patterns are the weekday rows of roster.csv; roster_days marks the dates on which
-- a post has dated rows, which replace that post's weekday rows for the day (voting day).
-- Both are expanded into slots up to a horizon; slots are the fact everything else reads.
CREATE TABLE roster_patterns (
    id            INTEGER PRIMARY KEY,
    post_id       INTEGER NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    member_id     INTEGER NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    days          INTEGER NOT NULL,  -- bit 0 = Monday .. bit 6 = Sunday
    start_minute  INTEGER NOT NULL,  -- WIB, 0..1439
    end_minute    INTEGER NOT NULL,  -- WIB, 1..1440; not after start_minute = past midnight
    UNIQUE (post_id, member_id, days, start_minute, end_minute)
);

CREATE TABLE roster_days (
    post_id  INTEGER NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    day      TEXT NOT NULL,  -- WIB date, YYYY-MM-DD
    PRIMARY KEY (post_id, day)
);

-- Weekday rows are expanded into slots through this date; the daily extension goes on from it.
CREATE TABLE roster_horizon (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    through_day  TEXT NOT NULL  -- the last WIB date whose weekday rows are expanded
);

CREATE TABLE slots (
    id            INTEGER PRIMARY KEY,
    post_id       INTEGER NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    member_id     INTEGER NOT NULL REFERENCES members(id),
    start_at      TEXT NOT NULL,
    end_at        TEXT NOT NULL,
    pattern_id    INTEGER REFERENCES roster_patterns(id) ON DELETE SET NULL,
    arrived_at    TEXT,     -- the check-in that counts toward the slot (may be before start)
    left_at       TEXT,     -- checked out before end_at (cleared when back in time)
    reminded_at   TEXT,
    nudged_at     TEXT,
    outcome       TEXT CHECK (outcome IN ('hadir', 'terlambat', 'tidak_hadir')),
    late_minutes  INTEGER,
    next_due_at   TEXT,     -- the slot's next deadline for the watcher
    due_kind      TEXT CHECK (due_kind IN ('remind', 'start', 'nudge', 'end')),
    version       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX slots_due ON slots(next_due_at) WHERE next_due_at IS NOT NULL;
CREATE INDEX slots_post_start ON slots(post_id, start_at);
CREATE INDEX slots_member_start ON slots(member_id, start_at);

-- Tukar piket: a slot offered to a colleague of the same post.
CREATE TABLE swaps (
    id            INTEGER PRIMARY KEY,
    slot_id       INTEGER NOT NULL REFERENCES slots(id) ON DELETE CASCADE,
    from_member   INTEGER NOT NULL REFERENCES members(id),
    to_member     INTEGER NOT NULL REFERENCES members(id),
    state         TEXT NOT NULL DEFAULT 'diminta'
                  CHECK (state IN ('diminta', 'menunggu_persetujuan', 'disetujui', 'ditolak',
                                   'dibatalkan', 'kedaluwarsa')),
    requested_at  TEXT NOT NULL,
    expires_at    TEXT NOT NULL,  -- the slot's start: unanswered by then, it lapses
    answered_at   TEXT,
    decided_by    INTEGER REFERENCES members(id),
    decided_at    TEXT,
    reason        TEXT,
    version       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX swaps_open ON swaps(expires_at) WHERE state IN ('diminta', 'menunggu_persetujuan');
CREATE INDEX swaps_slot ON swaps(slot_id);
