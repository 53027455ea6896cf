-- Deleting a roster pattern sets slots.pattern_id to NULL (ON DELETE SET NULL): without an
-- index each deleted pattern scanned every slot (millions at national size), and a
-- re-imported roster deletes all the patterns of its posts.
CREATE INDEX slots_pattern ON slots(pattern_id);
