"""Jobs the hub enqueues: `publish_notification` routes push and e-mail to the workers, which deliver
them (looking up the user's address) and record delivery on the hub's notification."""

from __future__ import annotations

import uuid

import httpx
import pytest
import redis.asyncio as aioredis

from spotctl_sandbox.realtime.publish import publish_notification
from tests.workers.conftest import Catalogue, eventually

pytestmark = pytest.mark.stack


async def test_hub_notification_reaches_email_and_push_sinks(
        catalogue: Catalogue, redis: aioredis.Redis, workers: httpx.AsyncClient) -> None:
    user, email = await catalogue.user("subscriber")
    await redis.hset(f"hub:default:prefs:{user}", mapping={"channels": "websocket,email,push", "locale": "en"})
    title = f"Heads up {uuid.uuid4().hex[:6]}"

    nid = await publish_notification(redis, str(user), title=title, body="something happened", priority="HIGH")

    async def mailed() -> bool:
        mails = (await workers.get("/sinks/email")).json()["messages"]
        return any(m["rcpt_to"] == [email] and m["subject"] == title for m in mails)

    async def pushed() -> bool:
        pushes = (await workers.get("/sinks/push")).json()["messages"]
        return any(p["payload"].get("notification_id") == nid for p in pushes)

    await eventually(mailed, 20, "the hub's e-mail job to be delivered to the user's address")
    await eventually(pushed, 20, "the hub's push job to be delivered")

    async def tracked() -> bool:  # recorded right after the sinks answered
        tracking = await redis.hgetall(f"hub:default:notif:{nid}")
        return tracking.get("channel:email") == "delivered" and tracking.get("channel:push") == "delivered"

    await eventually(tracked, 10, "delivery to be recorded on the hub's notification")
    await redis.delete(f"hub:default:prefs:{user}", f"hub:default:notif:{nid}", f"hub:default:notif-pending:{user}")
