"""PostgreSQL I/O of the ML part: feature tables in, anomalies / segments / ground truth out.

Every function takes an open psycopg connection (synchronous: the models are CPU-bound and run in a
thread anyway), so the service, the CLI and the tests share one home for the SQL. Bulk writes go
through COPY into a temporary table and one upsert, which keeps a 14-day, three-tenant history
(60k minutes) to about a second.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
import psycopg

from spotctl_sandbox.analytics import schema_sql as analytics_schema
from spotctl_sandbox.analytics.ml.anomaly import AnomalyResult
from spotctl_sandbox.analytics.ml.features import MINUTE_COLUMNS, USER_COLUMNS, MinuteFrame, UserFrame
from spotctl_sandbox.analytics.ml.segments import Assignment
from spotctl_sandbox.analytics.ml.simulate import InjectedAnomaly
from spotctl_sandbox.db import MIGRATION_LOCK_ID

Conn = psycopg.Connection[Any]


def schema_sql() -> str:
    """The service's tables (the feature tables the models read among them), then the ML side's own."""
    return analytics_schema() + "\n" + resources.files(__package__).joinpath("schema.sql").read_text(encoding="utf-8")


def migrate(conn: Conn) -> None:
    """The ML tables (and the service's, should the engine not have made them yet); idempotent."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_ID,))
        conn.execute(schema_sql().encode())


def _upsert(conn: Conn, table: str, key: Sequence[str], columns: Sequence[str],
                  rows: Iterable[Sequence[Any]]) -> int:
    tmp = f"tmp_{table}"
    cols = ", ".join(columns)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in key)
    with conn.transaction():
        conn.execute(f"CREATE TEMP TABLE {tmp} (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DROP")
        with conn.cursor().copy(f"COPY {tmp} ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cur = conn.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {tmp} "
                                 f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}")
        return cur.rowcount


def write_minutes(conn: Conn, frame: MinuteFrame) -> int:
    counts = frame.values[:, :-1].round().astype(np.int64).tolist()
    p99 = frame.values[:, -1].tolist()
    stamps = frame.minutes.astype("datetime64[s]").astype(np.int64).tolist()
    rows = ((str(t), dt.datetime.fromtimestamp(s, dt.UTC), *c, p)
            for t, s, c, p in zip(frame.tenants, stamps, counts, p99, strict=True))
    return _upsert(conn, "analytics_minute_features", ("tenant", "minute"),
                         ("tenant", "minute", *MINUTE_COLUMNS), rows)


def write_users(conn: Conn, users: UserFrame) -> int:
    now = dt.datetime.now(dt.UTC)
    rows = ((str(t), int(u), int(v[0]), int(v[1]), int(v[2]), float(v[3]), float(v[4]), float(v[5]), now)
            for t, u, v in zip(users.tenants, users.user_ids, users.values.tolist(), strict=True))
    return _upsert(conn, "analytics_user_features", ("tenant", "user_id"),
                         ("tenant", "user_id", *USER_COLUMNS, "updated_at"), rows)


def write_ground_truth(conn: Conn, anomalies: Sequence[InjectedAnomaly], seed: int,
                             window: tuple[dt.datetime, dt.datetime], tenants: Sequence[str]) -> None:
    """Replace the recorded ground truth of `tenants` inside `window` (a re-run overwrites its minutes)."""
    with conn.transaction():
        conn.execute("DELETE FROM analytics_simulated_anomalies WHERE tenant = ANY(%s) "
                           "AND started_at >= %s AND started_at < %s", (list(tenants), *window))
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO analytics_simulated_anomalies (tenant, kind, started_at, ended_at, factors, run_seed) "
                "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (tenant, started_at) DO UPDATE SET "
                "kind = EXCLUDED.kind, ended_at = EXCLUDED.ended_at, factors = EXCLUDED.factors, "
                "run_seed = EXCLUDED.run_seed",
                [(a.tenant, a.kind.value, a.start, a.end, json.dumps(a.factors), seed) for a in anomalies])


def load_minutes(conn: Conn, since: dt.datetime, until: dt.datetime,
                       tenants: Sequence[str] | None = None) -> MinuteFrame:
    sql = (f"SELECT tenant, minute, {', '.join(MINUTE_COLUMNS)} FROM analytics_minute_features "
           "WHERE minute >= %s AND minute < %s" + (" AND tenant = ANY(%s)" if tenants else "") +
           " ORDER BY tenant, minute")
    params: tuple[Any, ...] = (since, until, list(tenants)) if tenants else (since, until)
    rows = (conn.execute(sql, params)).fetchall()
    if not rows:
        return MinuteFrame(np.array([], dtype=object), np.array([], dtype="datetime64[m]"),
                           np.zeros((0, len(MINUTE_COLUMNS))))
    names = np.array([r[0] for r in rows], dtype=object)
    values = np.array([[np.nan if v is None else v for v in r[2:]] for r in rows], dtype=float)
    fill_missing_p99(names, values)
    return MinuteFrame(names, np.array([np.datetime64(r[1].astimezone(dt.UTC).replace(tzinfo=None), "m")
                                          for r in rows]), values)


def fill_missing_p99(tenants: np.ndarray, values: np.ndarray) -> None:
    """The pipeline leaves delivery p99 NULL for a minute the hub's histogram did not cover: such a
    minute takes its tenant's median, so it neither looks like an incident nor is dropped."""
    missing = np.isnan(values[:, -1])
    for tenant in {str(t) for t in tenants[missing]}:
        mine = tenants == tenant
        known = values[mine & ~missing, -1]
        values[mine & missing, -1] = float(np.median(known)) if len(known) else 0.0


def load_users(conn: Conn, tenants: Sequence[str] | None = None) -> UserFrame:
    sql = (f"SELECT tenant, user_id, {', '.join(USER_COLUMNS)} FROM analytics_user_features" +
           (" WHERE tenant = ANY(%s)" if tenants else "") + " ORDER BY tenant, user_id")
    rows = (conn.execute(sql, (list(tenants),) if tenants else ())).fetchall()
    return UserFrame(np.array([r[0] for r in rows], dtype=object), np.array([r[1] for r in rows], dtype=np.int64),
                     np.array([r[2:] for r in rows], dtype=float).reshape(len(rows), len(USER_COLUMNS)))


def load_ground_truth(conn: Conn, since: dt.datetime, until: dt.datetime) -> list[InjectedAnomaly]:
    from spotctl_sandbox.analytics.ml.simulate import AnomalyKind

    rows = (conn.execute(
        "SELECT tenant, kind, started_at, ended_at, factors FROM analytics_simulated_anomalies "
        "WHERE started_at >= %s AND started_at < %s ORDER BY started_at", (since, until))).fetchall()
    return [InjectedAnomaly(r[0], AnomalyKind(r[1]), r[2], r[3], dict(r[4])) for r in rows]


def save_anomalies(conn: Conn, results: Sequence[AnomalyResult], version: int, source: str) -> int:
    flagged = [r for r in results if r.is_anomaly]
    if not flagged:
        return 0
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO analytics_anomalies (tenant, minute, anomaly_score, reasons, model_version, source) "
            "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (tenant, minute) DO UPDATE SET "
            "anomaly_score = EXCLUDED.anomaly_score, reasons = EXCLUDED.reasons, "
            "model_version = EXCLUDED.model_version, source = EXCLUDED.source, detected_at = now()",
            [(r.tenant, r.minute, r.anomaly_score, list(r.reasons), version, source) for r in flagged])
    return len(flagged)


@dataclass(frozen=True)
class StoredAnomaly:
    tenant: str
    minute: dt.datetime
    anomaly_score: float
    reasons: tuple[str, ...]
    model_version: int
    source: str


def list_anomalies(conn: Conn, tenant: str | None = None, since: dt.datetime | None = None,
                   limit: int = 100) -> list[StoredAnomaly]:
    where: list[str] = ["TRUE"]
    params: list[Any] = []
    if tenant:
        where.append("tenant = %s")
        params.append(tenant)
    if since:
        where.append("minute >= %s")
        params.append(since)
    rows = (conn.execute(
        "SELECT tenant, minute, anomaly_score, reasons, model_version, source FROM analytics_anomalies "
        f"WHERE {' AND '.join(where)} ORDER BY minute DESC, tenant LIMIT %s", (*params, limit))).fetchall()
    return [StoredAnomaly(r[0], r[1], float(r[2]), tuple(r[3]), int(r[4]), r[5]) for r in rows]


def save_segments(conn: Conn, assignments: Sequence[Assignment], version: int) -> int:
    now = dt.datetime.now(dt.UTC)
    rows = ((a.tenant, a.user_id, a.segment, a.label, version, now) for a in assignments)
    return _upsert(conn, "analytics_user_segments", ("tenant", "user_id"),
                         ("tenant", "user_id", "segment", "label", "model_version", "assigned_at"), rows)


def segment_sizes(conn: Conn, tenant: str | None = None) -> list[tuple[str, int, str, int]]:
    """(tenant, segment, label, users) as stored."""
    rows = (conn.execute(
        "SELECT tenant, segment, label, count(*) FROM analytics_user_segments "
        + ("WHERE tenant = %s " if tenant else "") + "GROUP BY 1, 2, 3 ORDER BY 1, 2",
        (tenant,) if tenant else ())).fetchall()
    return [(r[0], int(r[1]), r[2], int(r[3])) for r in rows]
