-- Which forum topic an alert went to: one posko bersama forum may serve several areas.
ALTER TABLE alert_notifications ADD COLUMN topic_id INTEGER;
