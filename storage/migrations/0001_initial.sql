-- The whole domain of SPEC §2. Times are ISO-8601 UTC text ('YYYY-MM-DDTHH:MM:SS.ffffff+00:00')
-- so that they sort and compare as strings.

CREATE TABLE areas (
    id              INTEGER PRIMARY KEY,
    code            TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    level           TEXT NOT NULL CHECK (level IN ('provinsi', 'kota', 'kecamatan', 'kelurahan')),
    parent_id       INTEGER REFERENCES areas(id),
    group_chat_id   INTEGER,
    group_topic_id  INTEGER,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX areas_parent ON areas(parent_id);

CREATE TABLE posts (
    id               INTEGER PRIMARY KEY,
    code             TEXT NOT NULL UNIQUE,
    name             TEXT NOT NULL,
    area_id          INTEGER NOT NULL REFERENCES areas(id),
    latitude         REAL,
    longitude        REAL,
    radius_m         REAL,
    min_staff        INTEGER NOT NULL DEFAULT 1 CHECK (min_staff >= 0),
    hours            TEXT NOT NULL DEFAULT '24h',
    watch_policy     TEXT,              -- JSON of per-post overrides of [watch]
    paused_until     TEXT,              -- NULL = not paused; far future = paused until resumed
    -- watch state machine (SPEC §4)
    state            TEXT NOT NULL DEFAULT 'closed'
                     CHECK (state IN ('closed', 'opening', 'unstaffed', 'staffed', 'reminded',
                                      'silent', 'paused')),
    state_since      TEXT,
    window_opened_at TEXT,
    window_closes_at TEXT,
    last_signal_at   TEXT,
    next_due_at      TEXT,              -- the one deadline the watcher looks at
    due_kind         TEXT,
    version          INTEGER NOT NULL DEFAULT 0,  -- compare-and-swap guard
    issue_seq        INTEGER NOT NULL DEFAULT 0,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX posts_area ON posts(area_id);
CREATE INDEX posts_due ON posts(next_due_at) WHERE next_due_at IS NOT NULL;

CREATE TABLE members (
    id           INTEGER PRIMARY KEY,
    ref          TEXT NOT NULL UNIQUE,
    name         TEXT NOT NULL,
    nip          TEXT,
    phone        TEXT,
    telegram_id  INTEGER UNIQUE,
    language     TEXT CHECK (language IN ('id', 'en')),
    client_language TEXT,
    unreachable_at  TEXT,               -- set when Telegram says blocked / chat not found
    unreachable_reason TEXT,
    registered_at   TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);

CREATE TABLE member_roles (
    member_id INTEGER NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    role      TEXT NOT NULL CHECK (role IN ('officer', 'supervisor', 'admin')),
    PRIMARY KEY (member_id, role)
) WITHOUT ROWID;

CREATE TABLE assignments (
    member_id INTEGER NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    post_id   INTEGER NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    PRIMARY KEY (member_id, post_id)
) WITHOUT ROWID;
CREATE INDEX assignments_post ON assignments(post_id);

CREATE TABLE scopes (
    member_id INTEGER NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    area_id   INTEGER NOT NULL REFERENCES areas(id) ON DELETE CASCADE,
    PRIMARY KEY (member_id, area_id)
) WITHOUT ROWID;
CREATE INDEX scopes_area ON scopes(area_id);

CREATE TABLE invites (
    code        TEXT PRIMARY KEY,
    member_id   INTEGER NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    used_at     TEXT,
    used_by_telegram_id INTEGER
);
CREATE INDEX invites_member ON invites(member_id);

CREATE TABLE shifts (
    id             INTEGER PRIMARY KEY,
    member_id      INTEGER NOT NULL REFERENCES members(id),
    post_id        INTEGER NOT NULL REFERENCES posts(id),
    started_at     TEXT NOT NULL,
    ended_at       TEXT,
    end_reason     TEXT CHECK (end_reason IN ('checkout', 'auto_closed', 'replaced')),
    latitude       REAL,
    longitude      REAL,
    accuracy_m     REAL,
    distance_m     REAL,
    inside_geofence INTEGER,
    verified       INTEGER NOT NULL DEFAULT 0,
    live_message_id INTEGER,
    last_location_at TEXT
);
CREATE UNIQUE INDEX shifts_one_open ON shifts(member_id) WHERE ended_at IS NULL;
CREATE INDEX shifts_post_open ON shifts(post_id) WHERE ended_at IS NULL;
CREATE INDEX shifts_post_started ON shifts(post_id, started_at);

CREATE TABLE signals (
    id         INTEGER PRIMARY KEY,
    post_id    INTEGER NOT NULL REFERENCES posts(id),
    member_id  INTEGER REFERENCES members(id),
    kind       TEXT NOT NULL CHECK (kind IN ('checkin', 'all_clear', 'issue', 'live_location')),
    at         TEXT NOT NULL,
    note       TEXT
);
CREATE INDEX signals_post_at ON signals(post_id, at);

CREATE TABLE issues (
    id            INTEGER PRIMARY KEY,
    ref           TEXT NOT NULL UNIQUE,
    post_id       INTEGER NOT NULL REFERENCES posts(id),
    reporter_id   INTEGER NOT NULL REFERENCES members(id),
    category      TEXT NOT NULL,
    severity      TEXT NOT NULL CHECK (severity IN ('rendah', 'sedang', 'tinggi', 'darurat')),
    text          TEXT NOT NULL,
    latitude      REAL,
    longitude     REAL,
    status        TEXT NOT NULL DEFAULT 'baru'
                  CHECK (status IN ('baru', 'diterima', 'ditangani', 'selesai', 'ditolak')),
    assignee_id   INTEGER REFERENCES members(id),
    escalation_step INTEGER NOT NULL DEFAULT 0,
    next_due_at   TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX issues_post ON issues(post_id, created_at);
CREATE INDEX issues_reporter ON issues(reporter_id, created_at);
CREATE INDEX issues_due ON issues(next_due_at) WHERE next_due_at IS NOT NULL;

CREATE TABLE issue_photos (
    issue_id   INTEGER NOT NULL REFERENCES issues(id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    file_id    TEXT NOT NULL,
    PRIMARY KEY (issue_id, position)
) WITHOUT ROWID;

CREATE TABLE issue_events (
    id          INTEGER PRIMARY KEY,
    issue_id    INTEGER NOT NULL REFERENCES issues(id) ON DELETE CASCADE,
    at          TEXT NOT NULL,
    actor_id    INTEGER REFERENCES members(id),
    kind        TEXT NOT NULL,
    from_status TEXT,
    to_status   TEXT,
    note        TEXT
);
CREATE INDEX issue_events_issue ON issue_events(issue_id, at);

CREATE TABLE alerts (
    id            INTEGER PRIMARY KEY,
    post_id       INTEGER NOT NULL REFERENCES posts(id),
    kind          TEXT NOT NULL CHECK (kind IN ('unstaffed', 'silent')),
    opened_at     TEXT NOT NULL,
    step          INTEGER NOT NULL DEFAULT 0,
    step_area_id  INTEGER REFERENCES areas(id),
    next_due_at   TEXT,
    acked_by      INTEGER REFERENCES members(id),
    acked_at      TEXT,
    resolved_at   TEXT,
    resolution    TEXT
);
CREATE UNIQUE INDEX alerts_one_open ON alerts(post_id) WHERE resolved_at IS NULL;
CREATE INDEX alerts_opened ON alerts(opened_at);

CREATE TABLE alert_notifications (
    id          INTEGER PRIMARY KEY,
    alert_id    INTEGER NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
    step        INTEGER NOT NULL,
    chat_id     INTEGER NOT NULL,
    member_id   INTEGER REFERENCES members(id),
    outbox_id   INTEGER REFERENCES outbox(id),
    at          TEXT NOT NULL
);
CREATE INDEX alert_notifications_alert ON alert_notifications(alert_id);

CREATE TABLE outbox (
    id          INTEGER PRIMARY KEY,
    chat_id     INTEGER NOT NULL,
    topic_id    INTEGER,
    priority    INTEGER NOT NULL DEFAULT 5,  -- lower is sooner: 0 alerts, 5 notices, 9 bulk
    kind        TEXT NOT NULL,
    method      TEXT NOT NULL DEFAULT 'sendMessage',
    payload     TEXT NOT NULL,               -- JSON parameters for the Bot API method
    ref_type    TEXT,
    ref_id      INTEGER,
    status      TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    not_before  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    sent_at     TEXT,
    message_id  INTEGER,
    error       TEXT
);
CREATE INDEX outbox_ready ON outbox(priority, not_before, id) WHERE status = 'pending';
CREATE INDEX outbox_ref ON outbox(ref_type, ref_id);

CREATE TABLE circulars (
    id            INTEGER PRIMARY KEY,
    author_id     INTEGER NOT NULL REFERENCES members(id),
    scope         TEXT NOT NULL,
    text          TEXT NOT NULL,
    status        TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'sending', 'done', 'cancelled')),
    created_at    TEXT NOT NULL,
    confirmed_at  TEXT,
    report_chat_id    INTEGER,
    report_message_id INTEGER,
    report_updated_at TEXT
);

CREATE TABLE circular_recipients (
    circular_id INTEGER NOT NULL REFERENCES circulars(id) ON DELETE CASCADE,
    member_id   INTEGER NOT NULL REFERENCES members(id),
    outbox_id   INTEGER REFERENCES outbox(id),
    read_at     TEXT,
    PRIMARY KEY (circular_id, member_id)
) WITHOUT ROWID;

CREATE TABLE announcements (
    id          INTEGER PRIMARY KEY,
    author_id   INTEGER NOT NULL REFERENCES members(id),
    fire_at     TEXT NOT NULL,
    scope       TEXT NOT NULL,
    text        TEXT NOT NULL,
    fired_at    TEXT,
    circular_id INTEGER REFERENCES circulars(id),
    created_at  TEXT NOT NULL
);
CREATE INDEX announcements_due ON announcements(fire_at) WHERE fired_at IS NULL;

-- Conversation state that must survive a restart (the guided /lapor flow, pending notes).
CREATE TABLE drafts (
    member_id   INTEGER PRIMARY KEY REFERENCES members(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    step        TEXT NOT NULL,
    data        TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY,
    at         TEXT NOT NULL,
    actor_id   INTEGER REFERENCES members(id),
    action     TEXT NOT NULL,
    entity     TEXT NOT NULL,
    entity_id  TEXT,
    detail     TEXT
);
CREATE INDEX audit_log_entity ON audit_log(entity, entity_id);
