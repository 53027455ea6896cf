-- An invite that moves an already registered member to a new Telegram account (lost phone).
ALTER TABLE invites ADD COLUMN rebind INTEGER NOT NULL DEFAULT 0;
