"""RabbitMQ exchanges the API publishes to (decided with the workers, who declare queues and DLX).

- `recommendations`: durable direct exchange, routing key `user.<id>`, request/reply with reply_to
  and correlation_id; its alternate exchange `recommendations.any` (durable fanout) is where the
  worker binds `recommendations.requests`, so every `user.<id>` reaches it without a binding per user.
  Reply body: {"user_id", "song_ids": [...], "scores": [...], "computed_at"}.
- `notifications`: durable fanout; persistent JSON messages published with confirms:
  {"type": "release", "song_id", "artist_id", "title", "artist", "ts"}.
"""

from __future__ import annotations

from typing import Any

import aio_pika

from spotctl_sandbox.contract import NOTIFICATIONS_EXCHANGE, RECOMMENDATIONS_ANY_EXCHANGE, RECOMMENDATIONS_EXCHANGE

__all__ = ["NOTIFICATIONS_EXCHANGE", "RECOMMENDATIONS_ANY_EXCHANGE", "RECOMMENDATIONS_EXCHANGE",
           "declare_exchanges", "recommendation_routing_key"]


def recommendation_routing_key(user_id: str | int) -> str:
    return f"user.{user_id}"


async def declare_exchanges(channel: Any) -> dict[str, aio_pika.abc.AbstractExchange]:
    """Declare the three exchanges (idempotent) on an aio-pika channel; returns them by name."""
    fanout, direct = aio_pika.ExchangeType.FANOUT, aio_pika.ExchangeType.DIRECT
    any_ex = await channel.declare_exchange(RECOMMENDATIONS_ANY_EXCHANGE, fanout, durable=True)
    recs = await channel.declare_exchange(RECOMMENDATIONS_EXCHANGE, direct, durable=True,
                                          arguments={"alternate-exchange": RECOMMENDATIONS_ANY_EXCHANGE})
    notes = await channel.declare_exchange(NOTIFICATIONS_EXCHANGE, fanout, durable=True)
    return {RECOMMENDATIONS_ANY_EXCHANGE: any_ex, RECOMMENDATIONS_EXCHANGE: recs,
            NOTIFICATIONS_EXCHANGE: notes}
