"""Names and helpers for the event buses every service shares: Kafka topics and RabbitMQ exchanges.

Kafka carries facts for analytics (`song_played`, ...); RabbitMQ carries work between services
(recommendation requests, release notifications). Both helpers connect lazily, so a service
starts even while a broker is still booting.

RabbitMQ's names are loaded on first use (PEP 562): the hub imports this package for Kafka only, and
aio_pika would otherwise add ~6 MB to the RSS of each of its worker processes (issue 18).
"""

from typing import TYPE_CHECKING, Any

from spotctl_sandbox.events.kafka import EventProducer, PublishedEvent
from spotctl_sandbox.events.topics import ALL_TOPICS, Topic, event_value

if TYPE_CHECKING:
    from spotctl_sandbox.events.rabbit import (
        NOTIFICATIONS_EXCHANGE,
        RECOMMENDATIONS_ANY_EXCHANGE,
        RECOMMENDATIONS_EXCHANGE,
        declare_exchanges,
        recommendation_routing_key,
    )

_RABBIT = frozenset({"NOTIFICATIONS_EXCHANGE", "RECOMMENDATIONS_ANY_EXCHANGE", "RECOMMENDATIONS_EXCHANGE",
                     "declare_exchanges", "recommendation_routing_key"})

__all__ = [
    "ALL_TOPICS",
    "NOTIFICATIONS_EXCHANGE",
    "RECOMMENDATIONS_ANY_EXCHANGE",
    "RECOMMENDATIONS_EXCHANGE",
    "EventProducer",
    "PublishedEvent",
    "Topic",
    "declare_exchanges",
    "event_value",
    "recommendation_routing_key",
]


def __getattr__(name: str) -> Any:
    if name in _RABBIT:
        from spotctl_sandbox.events import rabbit

        return getattr(rabbit, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
