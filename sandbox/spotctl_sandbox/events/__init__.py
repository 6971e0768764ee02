"""Names and helpers for the event buses every service shares: Kafka topics and RabbitMQ exchanges.

Kafka carries facts for analytics (`song_played`, ...); RabbitMQ carries work between services
(recommendation requests, release notifications). Both helpers connect lazily, so a service
starts even while a broker is still booting.
"""

from spotctl_sandbox.events.kafka import EventProducer, PublishedEvent
from spotctl_sandbox.events.rabbit import (
    NOTIFICATIONS_EXCHANGE,
    RECOMMENDATIONS_ANY_EXCHANGE,
    RECOMMENDATIONS_EXCHANGE,
    declare_exchanges,
    recommendation_routing_key,
)
from spotctl_sandbox.events.topics import ALL_TOPICS, Topic, event_value

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
