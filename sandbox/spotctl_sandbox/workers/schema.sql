-- Tables owned by the workers (applied after spotctl_sandbox.db's schema; idempotent).
--   analytics_processed_events  event ids the analytics consumer has applied: a redelivered Kafka
--                               event is skipped, so play counts never double count
--   analytics_user_activity     per-user counters kept by the analytics consumer
--   analytics_kafka_tails       the last record it applied per partition (see below)

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

-- The mark (offset:timestamp:crc) of the last record the analytics consumer applied per partition,
-- written with its effects: a consumer started after a Kafka restart tells from it whether the log
-- it resumes on (at offsets committed to the old broker) is still the one it read
CREATE TABLE IF NOT EXISTS analytics_kafka_tails (
    grp       text NOT NULL,
    topic     text NOT NULL,
    partition integer NOT NULL,
    mark      text NOT NULL,
    PRIMARY KEY (grp, topic, partition)
);
