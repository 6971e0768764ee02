"""AlertManager: alert rules in PostgreSQL, evaluated on every final 1 min window, notified through
the stack's own notification path.

- `hub`: a real-time notification (`publish_notification`, the hub's publish module) to each
  recipient; its priority follows the severity, so a CRITICAL alert also goes out as push.
- `email`: a BullMQ `email` job on the `email` queue, as the workers' daily report sends mail (the
  workers look the address up when the job names a user).
Recipients are the rule's `recipients` (user ids), else every user whose role is ops or admin.
`actions` are recorded with each firing (labels for runbooks); they run nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict, dataclass
from typing import Any

import psycopg
import redis.asyncio as aioredis
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from spotctl_sandbox.analytics.core.alert_rules import Condition, ForDuration, Severity, Transition, ml_for_s
from spotctl_sandbox.analytics.core.ml_bridge import Score
from spotctl_sandbox.analytics.processing.windows import WindowResult

log = logging.getLogger(__name__)

CHANNELS = ("hub", "email")
EMAIL_QUEUE, EMAIL_JOB = "email", "email"  # the workers' queue and job (workers/names.py)
COLUMNS = ("id, name, kind, tenant, condition, model, threshold, sensitivity, for_s, severity, channels, actions, "
           "recipients, enabled")


class AlertExists(Exception):
    pass


@dataclass(frozen=True)
class AlertRule:
    id: int
    name: str
    kind: str                  # rule | ml
    tenant: str | None
    condition: str | None
    model: str | None
    threshold: float | None
    sensitivity: str | None
    for_s: int
    severity: str
    channels: list[str]
    actions: list[str]
    recipients: list[str]
    enabled: bool

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def validate(*, kind: str, condition: str | None, severity: str, channels: list[str], sensitivity: str | None,
             for_s: int) -> None:
    """Raise ValueError with what is wrong and what is allowed (the API answers 422 with it)."""
    if severity not in {s.value for s in Severity}:
        _bad(f"severity must be one of {', '.join(Severity)}, not {severity!r}")
    unknown = [c for c in channels if c not in CHANNELS]
    if unknown:
        _bad(f"unknown channel(s) {', '.join(unknown)}; this stack notifies through {', '.join(CHANNELS)}")
    if for_s < 0:
        _bad("for_s must be >= 0")
    if kind == "rule":
        Condition.parse(condition or "")
    else:
        ml_for_s(sensitivity or "")


def _bad(message: str) -> None:
    raise ValueError(message)


class AlertManager:
    def __init__(self, pool: AsyncConnectionPool, redis: aioredis.Redis) -> None:
        self.pool, self.redis = pool, redis
        self.rules: list[AlertRule] = []
        self.machines: dict[tuple[int, str], ForDuration] = {}
        self.fired: list[dict[str, Any]] = []  # recent transitions (for tests and the live view)
        self._mail_queue: Any = None

    # -- CRUD ------------------------------------------------------------------------------------

    async def load(self) -> list[AlertRule]:
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(f"SELECT {COLUMNS} FROM analytics_alerts ORDER BY id")
            self.rules = [AlertRule(**row) for row in await cur.fetchall()]
        live = {r.id for r in self.rules}
        self.machines = {k: m for k, m in self.machines.items() if k[0] in live}
        return self.rules

    def get(self, alert_id: int) -> AlertRule | None:
        return next((r for r in self.rules if r.id == alert_id), None)

    async def create_alert(self, name: str, condition: str = "error_rate > 0.05", severity: str = "warning",
                           channels: list[str] | None = None, actions: list[str] | None = None, *,
                           tenant: str | None = None, for_s: int = 0,
                           recipients: list[str] | None = None) -> AlertRule:
        """The seed's call: a rule on a series of the 1 min window."""
        return await self._insert(name=name, kind="rule", tenant=tenant, condition=str(Condition.parse(condition)),
                                  model=None, threshold=None, sensitivity=None, for_s=for_s, severity=severity,
                                  channels=channels or ["hub"], actions=actions or [], recipients=recipients or [])

    async def create_ml_alert(self, name: str, model: str = "anomaly_detector", threshold: float | None = 0.8,
                              sensitivity: str = "medium", *, tenant: str | None = None, severity: str = "warning",
                              channels: list[str] | None = None, recipients: list[str] | None = None) -> AlertRule:
        """The seed's call: fire when the model's anomaly score reaches `threshold` (None: its own verdict)."""
        return await self._insert(name=name, kind="ml", tenant=tenant, condition=None, model=model,
                                  threshold=threshold, sensitivity=sensitivity, for_s=ml_for_s(sensitivity),
                                  severity=severity, channels=channels or ["hub"], actions=[],
                                  recipients=recipients or [])

    async def _insert(self, **row: Any) -> AlertRule:
        validate(kind=row["kind"], condition=row["condition"], severity=row["severity"], channels=row["channels"],
                 sensitivity=row["sensitivity"], for_s=row["for_s"])
        for key in ("channels", "actions", "recipients"):
            row[key] = Jsonb(row[key])
        try:
            async with self.pool.connection() as conn:
                cur = conn.cursor(row_factory=dict_row)
                await cur.execute(f"INSERT INTO analytics_alerts ({', '.join(row)}) VALUES "
                                  f"({', '.join('%s' for _ in row)}) RETURNING {COLUMNS}", list(row.values()))
                created = AlertRule(**(await cur.fetchone() or {}))
        except psycopg.errors.UniqueViolation as exc:
            raise AlertExists(f"an alert named {row['name']!r} exists") from exc
        await self.load()
        return created

    async def update_alert(self, alert_id: int, changes: dict[str, Any]) -> AlertRule | None:
        current = self.get(alert_id) or next((r for r in await self.load() if r.id == alert_id), None)
        if current is None:
            return None
        merged = {**current.to_json(), **changes}
        if merged["kind"] == "ml" and "sensitivity" in changes:
            merged["for_s"] = ml_for_s(merged["sensitivity"] or "")
        if merged["kind"] == "rule" and merged.get("condition"):
            merged["condition"] = str(Condition.parse(merged["condition"]))
        validate(kind=merged["kind"], condition=merged["condition"], severity=merged["severity"],
                 channels=merged["channels"], sensitivity=merged["sensitivity"], for_s=merged["for_s"])
        fields = [k for k in changes if k not in ("id", "kind")] + (["for_s"] if "sensitivity" in changes else [])
        values = [Jsonb(merged[k]) if k in ("channels", "actions", "recipients") else merged[k] for k in fields]
        try:
            async with self.pool.connection() as conn:
                await conn.execute(f"UPDATE analytics_alerts SET {', '.join(f'{k} = %s' for k in fields)}, "
                                   "updated_at = now() WHERE id = %s", [*values, alert_id])
        except psycopg.errors.UniqueViolation as exc:
            raise AlertExists(f"an alert named {merged['name']!r} exists") from exc
        self.machines = {k: m for k, m in self.machines.items() if k[0] != alert_id}  # re-arm with the new rule
        await self.load()
        return self.get(alert_id)

    async def delete_alert(self, alert_id: int) -> bool:
        async with self.pool.connection() as conn:
            cur = await conn.execute("DELETE FROM analytics_alerts WHERE id = %s", (alert_id,))
        await self.load()
        return cur.rowcount == 1

    async def history(self, alert_id: int | None = None, limit: int = 100) -> list[dict[str, Any]]:
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute("SELECT e.alert_id, a.name, e.tenant, e.state, e.value, e.at, e.notified "
                              "FROM analytics_alert_events e JOIN analytics_alerts a ON a.id = e.alert_id "
                              "WHERE %(id)s::bigint IS NULL OR e.alert_id = %(id)s ORDER BY e.at DESC, e.id DESC "
                              "LIMIT %(limit)s", {"id": alert_id, "limit": limit})
            return list(await cur.fetchall())

    # -- evaluation ------------------------------------------------------------------------------

    def wants_scores(self) -> bool:
        return any(r.kind == "ml" and r.enabled for r in self.rules)

    async def observe(self, minute: WindowResult, score: Score | None = None) -> list[dict[str, Any]]:
        """Feed one tenant's final 1 min window (and its anomaly score); notify what changed state."""
        out = []
        for rule in self.rules:
            if not rule.enabled or (rule.tenant is not None and rule.tenant != minute.tenant):
                continue
            if rule.kind == "rule":
                holds, value = Condition.parse(rule.condition or "").holds(minute.values)
            elif score is None:
                continue  # no score this minute: the machine keeps its state
            else:
                value = score.score
                holds = score.is_anomaly if rule.threshold is None else score.score >= rule.threshold
            machine = self.machines.setdefault((rule.id, minute.tenant), ForDuration(rule.for_s))
            transition = machine.observe(holds, value, minute.start, minute.end)
            if transition is not None:
                out.append(await self._record(rule, minute.tenant, transition))
        return out

    async def _record(self, rule: AlertRule, tenant: str, t: Transition) -> dict[str, Any]:
        at = dt.datetime.fromtimestamp(t.at, dt.UTC)
        notified = await self.notify(rule, tenant, t)
        async with self.pool.connection() as conn:
            await conn.execute("INSERT INTO analytics_alert_events (alert_id, tenant, state, value, at, notified) "
                               "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                               (rule.id, tenant, t.state, t.value, at, Jsonb(notified)))
        event = {"alert_id": rule.id, "name": rule.name, "tenant": tenant, "state": t.state, "value": t.value,
                 "at": t.at, "severity": rule.severity, "actions": rule.actions, "notified": notified}
        self.fired = [*self.fired[-99:], event]
        log.warning("alert %s %s for tenant %s (value %g)", rule.name, t.state, tenant, t.value)
        return event

    async def recipients(self, rule: AlertRule) -> list[str]:
        if rule.recipients:
            return [str(r) for r in rule.recipients]
        try:  # the role column comes with the API's roles; without it nobody is a default recipient
            async with self.pool.connection() as conn:
                cur = await conn.execute("SELECT id FROM users WHERE role IN ('ops', 'admin') ORDER BY id LIMIT 100")
                return [str(r[0]) for r in await cur.fetchall()]
        except psycopg.errors.UndefinedColumn:
            return []

    async def notify(self, rule: AlertRule, tenant: str, t: Transition) -> list[str]:
        """Send through each channel; returns what was sent (`hub:<user>`, `email:<user>`), errors logged."""
        title = f"[{rule.severity.upper()}] {rule.name} {t.state} ({tenant})"
        limit = "its threshold" if rule.threshold is None else f"{rule.threshold:g}"
        what = rule.condition or f"{rule.model} anomaly score >= {limit}"
        body = f"{what}: value {t.value:g} at {dt.datetime.fromtimestamp(t.at, dt.UTC):%Y-%m-%d %H:%M} UTC"
        sent: list[str] = []
        users = await self.recipients(rule)
        priority = Severity(rule.severity).priority if t.state == "firing" else "NORMAL"
        for user in users:
            for channel in rule.channels:
                try:
                    if channel == "hub":
                        await self._hub(user, title, body, priority, rule, tenant, t)
                    else:
                        await self._email(user, title, body)
                    sent.append(f"{channel}:{user}")
                except Exception as exc:  # one channel failing must not lose the alert's record
                    log.warning("alert %s: %s to user %s failed: %s", rule.name, channel, user, exc)
        return sent

    async def _hub(self, user: str, title: str, body: str, priority: str, rule: AlertRule, tenant: str,
                   t: Transition) -> None:
        from spotctl_sandbox.realtime.publish import publish_notification

        await publish_notification(self.redis, user, title=title, body=body, priority=priority,
                                   kind="analytics_alert", data={"alert_id": rule.id, "tenant": tenant,
                                                                 "state": t.state, "value": t.value})

    async def _email(self, user: str, title: str, body: str) -> None:
        if self._mail_queue is None:
            from bullmq import Queue

            self._mail_queue = Queue(EMAIL_QUEUE, {"connection": self.redis})
        await self._mail_queue.add(EMAIL_JOB, {"user_id": user, "subject": title, "body": body + "\n"},
                        {"attempts": 5, "backoff": {"type": "exponential", "delay": 1000},
                         "removeOnComplete": {"count": 1000}, "removeOnFail": {"count": 5000}})
