-- /healthz and /metrics count failed messages on every scrape: without this, a full scan.
CREATE INDEX outbox_failed ON outbox(id) WHERE status = 'failed';
