-- Indexes for the outbox sender (bot/delivery.py).
-- The head of each chat's queue per priority (FIFO per chat), pending or in flight.
CREATE INDEX outbox_chat_queue ON outbox(chat_id, priority, id)
    WHERE status IN ('pending', 'sending');
-- The next moment a pending row becomes due, whatever its priority.
CREATE INDEX outbox_pending_due ON outbox(not_before) WHERE status = 'pending';
-- Rows a crash left in flight, found at startup without scanning the whole history.
CREATE INDEX outbox_sending ON outbox(id) WHERE status = 'sending';
