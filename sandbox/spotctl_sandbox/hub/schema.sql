-- The hub's own tables (hub_*): chat and collaborative playlists. Idempotent; applied at worker start.
CREATE TABLE IF NOT EXISTS hub_channels (
    id          BIGSERIAL PRIMARY KEY,
    ns          TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('public', 'private', 'direct')),
    name        TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    direct_key  TEXT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS hub_channels_direct ON hub_channels (ns, direct_key) WHERE direct_key IS NOT NULL;

CREATE TABLE IF NOT EXISTS hub_members (
    channel_id   BIGINT NOT NULL REFERENCES hub_channels (id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL,
    role         TEXT NOT NULL DEFAULT 'member',
    last_read_id BIGINT NOT NULL DEFAULT 0,
    joined_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (channel_id, user_id)
);
CREATE INDEX IF NOT EXISTS hub_members_user ON hub_members (user_id);

CREATE TABLE IF NOT EXISTS hub_messages (
    id          BIGSERIAL PRIMARY KEY,
    channel_id  BIGINT NOT NULL REFERENCES hub_channels (id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL,
    text        TEXT NOT NULL,
    attachments JSONB NOT NULL DEFAULT '[]',
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    tsv         TSVECTOR GENERATED ALWAYS AS (to_tsvector('simple', text)) STORED
);
-- the sender's display name when it sent (history items look like live chat_message frames)
ALTER TABLE hub_messages ADD COLUMN IF NOT EXISTS name TEXT NOT NULL DEFAULT '';
CREATE INDEX IF NOT EXISTS hub_messages_channel ON hub_messages (channel_id, id DESC);
-- a sender's client_msg_id de-duplicates retries; `pending` until its frame is published (hidden
-- from history and search meanwhile: a send answered with an error shows nowhere), frame_id then
ALTER TABLE hub_messages ADD COLUMN IF NOT EXISTS client_msg_id TEXT;
ALTER TABLE hub_messages ADD COLUMN IF NOT EXISTS pending BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE hub_messages ADD COLUMN IF NOT EXISTS frame_id TEXT;
CREATE UNIQUE INDEX IF NOT EXISTS hub_messages_client_msg ON hub_messages (channel_id, user_id, client_msg_id)
    WHERE client_msg_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS hub_messages_tsv ON hub_messages USING GIN (tsv);

CREATE TABLE IF NOT EXISTS hub_playlist_updates (
    id          BIGSERIAL PRIMARY KEY,
    ns          TEXT NOT NULL,
    playlist_id TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    update      BYTEA NOT NULL,
    summary     JSONB NOT NULL DEFAULT '{}',
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS hub_playlist_updates_pl ON hub_playlist_updates (ns, playlist_id, id);
