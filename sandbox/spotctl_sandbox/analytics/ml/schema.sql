-- Tables of the analytics service's machine-learning part (idempotent; applied by
-- spotctl_sandbox.analytics.ml.store.migrate under the shared migration lock).
--
-- The feature tables the models train on (analytics_minute_features, analytics_user_features; the
-- simulator writes history into them) are the service's, in ../schema.sql: store.migrate applies that
-- file before this one.
--   analytics_models            the model registry: one row per trained version, its parameters,
--                               evaluation metrics, data window, artifact (under the object-store
--                               folder) with its sha256, and status candidate / promoted / retired
--   analytics_anomalies         minutes the promoted detector flagged (live or by a scan)
--   analytics_user_segments     each user's behaviour segment; read by the recommendation worker
--   analytics_simulated_anomalies  ground truth of `spotctl analytics simulate`: what was injected

CREATE TABLE IF NOT EXISTS analytics_models (
    name          text NOT NULL,
    version       int NOT NULL,
    params        jsonb NOT NULL DEFAULT '{}',
    metrics       jsonb NOT NULL DEFAULT '{}',
    window_start  timestamptz,
    window_end    timestamptz,
    tenants       text[] NOT NULL DEFAULT '{}',
    artifact_path text NOT NULL,
    artifact_sha256 text NOT NULL,
    status        text NOT NULL DEFAULT 'candidate' CHECK (status IN ('candidate', 'promoted', 'retired')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    promoted_at   timestamptz,
    PRIMARY KEY (name, version)
);
-- at most one promoted version per model
CREATE UNIQUE INDEX IF NOT EXISTS analytics_models_promoted_idx ON analytics_models (name)
    WHERE status = 'promoted';

CREATE TABLE IF NOT EXISTS analytics_anomalies (
    tenant        text NOT NULL,
    minute        timestamptz NOT NULL,
    anomaly_score double precision NOT NULL,
    reasons       text[] NOT NULL DEFAULT '{}',
    model_version int NOT NULL,
    source        text NOT NULL DEFAULT 'live' CHECK (source IN ('live', 'scan')),
    detected_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, minute)
);
CREATE INDEX IF NOT EXISTS analytics_anomalies_minute_idx ON analytics_anomalies (minute DESC);

CREATE TABLE IF NOT EXISTS analytics_user_segments (
    tenant        text NOT NULL,
    user_id       bigint NOT NULL,
    segment       int NOT NULL,
    label         text NOT NULL,
    model_version int NOT NULL,
    assigned_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, user_id)
);
CREATE INDEX IF NOT EXISTS analytics_user_segments_segment_idx ON analytics_user_segments (tenant, segment);

CREATE TABLE IF NOT EXISTS analytics_simulated_anomalies (
    tenant     text NOT NULL,
    kind       text NOT NULL,
    started_at timestamptz NOT NULL,
    ended_at   timestamptz NOT NULL,
    factors    jsonb NOT NULL DEFAULT '{}',
    run_seed   int NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, started_at)
);
