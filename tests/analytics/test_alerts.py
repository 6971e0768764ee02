"""Alert rules with a for-duration and ML alerts, notified through the hub and the BullMQ email queue
(real PostgreSQL and Redis)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from psycopg_pool import AsyncConnectionPool

from spotctl_sandbox.analytics.core.alert_manager import AlertManager
from spotctl_sandbox.analytics.core.alert_rules import Condition, ForDuration
from spotctl_sandbox.analytics.core.ml_bridge import Score
from spotctl_sandbox.analytics.processing.windows import SERIES, WindowResult

T0 = 1_800_000_000


def minute(tenant: str, n: int, **values: float) -> WindowResult:
    base = {s: 0.0 for s in SERIES}
    return WindowResult(tenant, "1m", T0 + 60 * n, T0 + 60 * (n + 1), {**base, **values}, {}, {}, {})


def test_a_condition_must_hold_for_its_duration_and_resolves_once() -> None:
    machine = ForDuration(for_s=120)
    assert machine.observe(True, 0.1, T0, T0 + 60) is None           # pending: held 60 s
    fired = machine.observe(True, 0.2, T0 + 60, T0 + 120)           # held 120 s
    assert fired is not None and (fired.state, fired.value) == ("firing", 0.2)
    assert machine.observe(True, 0.3, T0 + 120, T0 + 180) is None   # already firing
    resolved = machine.observe(False, 0.0, T0 + 180, T0 + 240)
    assert resolved is not None and resolved.state == "resolved"
    assert machine.observe(False, 0.0, T0 + 240, T0 + 300) is None


def test_conditions_name_known_series_and_ops() -> None:
    assert Condition.parse("error_rate > 0.05").holds({"error_rate": 0.06}) == (True, 0.06)
    with pytest.raises(ValueError, match="unknown series 'cpu'"):
        Condition.parse("cpu > 1")
    with pytest.raises(ValueError, match="ops: > >= < <= == !="):
        Condition.parse("plays => 3")


@pytest.fixture
async def manager(pool: AsyncConnectionPool, redis: aioredis.Redis) -> AsyncIterator[AlertManager]:
    m = AlertManager(pool, redis)
    await m.load()
    yield m
    for rule in list(m.rules):
        if rule.name.startswith("test-"):
            await m.delete_alert(rule.id)


async def _email_jobs(redis_url: str, user: str) -> list[dict[str, Any]]:
    from bullmq import Queue

    queue = Queue("email", {"connection": redis_url})
    try:
        jobs = await queue.getJobs(["waiting", "prioritized", "delayed", "active", "completed", "failed"])
    finally:
        await queue.close()
    return [j.data for j in jobs if j.data.get("user_id") == user]


@pytest.mark.stack
async def test_an_error_rate_rule_fires_after_its_duration_notifies_hub_and_email_and_resolves(
        manager: AlertManager, redis: aioredis.Redis, env: dict[str, str]) -> None:
    tenant, user = f"t-{uuid.uuid4().hex[:6]}", str(900_000_000 + uuid.uuid4().int % 1000)
    rule = await manager.create_alert(f"test-High Error Rate {tenant}", condition="error_rate > 0.05",
                                      severity="critical", channels=["hub", "email"],
                                      actions=["scale_up", "notify_oncall"], tenant=tenant, for_s=120,
                                      recipients=[user])
    assert await manager.observe(minute(tenant, 0, error_rate=0.10)) == []           # pending
    assert await manager.observe(minute("other", 0, error_rate=0.90)) == []          # another tenant
    fired = await manager.observe(minute(tenant, 1, error_rate=0.07))
    assert [(e["state"], e["value"], e["notified"]) for e in fired] == [
        ("firing", 0.07, [f"hub:{user}", f"email:{user}"])]
    assert fired[0]["actions"] == ["scale_up", "notify_oncall"]

    from spotctl_sandbox.realtime import keys

    pending = await redis.zrange(keys.pending("default", user), 0, -1)
    assert len(pending) == 1, "the hub notification waits for the (offline) user"
    note = await redis.hgetall(keys.notification("default", pending[0].decode()))
    assert note[b"priority"] == b"CRITICAL" and b"High Error Rate" in note[b"body"]
    mails = await _email_jobs(env["REDIS_URL"], user)
    assert len(mails) == 1 and mails[0]["subject"].startswith("[CRITICAL] test-High Error Rate")

    resolved = await manager.observe(minute(tenant, 2, error_rate=0.0))
    assert [e["state"] for e in resolved] == ["resolved"]
    history = await manager.history(rule.id)
    assert [h["state"] for h in history] == ["resolved", "firing"]


@pytest.mark.stack
async def test_an_ml_alert_fires_on_the_anomaly_score_with_its_sensitivity(manager: AlertManager) -> None:
    tenant = f"t-{uuid.uuid4().hex[:6]}"
    await manager.create_ml_alert(f"test-Anomaly {tenant}", model="anomaly_detector", threshold=0.8,
                                  sensitivity="medium", tenant=tenant, recipients=[])
    assert await manager.observe(minute(tenant, 0), Score(True, 0.85)) == []        # 1 of 2 minutes
    assert await manager.observe(minute(tenant, 1), None) == []                      # no score: unchanged
    fired = await manager.observe(minute(tenant, 2), Score(True, 0.91))
    assert [(e["state"], e["value"], e["notified"]) for e in fired] == [("firing", 0.91, [])]
    assert [e["state"] for e in await manager.observe(minute(tenant, 3), Score(False, 0.4))] == ["resolved"]
