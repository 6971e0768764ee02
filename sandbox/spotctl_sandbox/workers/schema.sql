-- Tables owned by the workers (applied after spotctl_sandbox.db's schema; idempotent).
--   analytics_processed_events  event ids the analytics consumer has applied: a redelivered Kafka
--                               event is skipped, so play counts never double count
--   analytics_user_activity     per-user counters kept by the analytics consumer

CREATE TABLE IF NOT EXISTS analytics_processed_events (
    event_id     text PRIMARY KEY,
    topic        text NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS analytics_user_activity (
    user_id           text PRIMARY KEY,
    plays             bigint NOT NULL DEFAULT 0,
    searches          bigint NOT NULL DEFAULT 0,
    playlists_created bigint NOT NULL DEFAULT 0,
    last_event_at     timestamptz NOT NULL DEFAULT now()
);
