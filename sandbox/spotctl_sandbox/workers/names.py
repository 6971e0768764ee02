"""Names shared with the API and the CLI: queues, jobs, exchanges, topics, Redis keys.

One place, so a rename cannot leave a producer and its consumer talking past each other.
"""

from __future__ import annotations

from typing import Any

from spotctl_sandbox.events.rabbit import NOTIFICATIONS_EXCHANGE, RECOMMENDATIONS_ANY_EXCHANGE
from spotctl_sandbox.events.topics import Topic

# BullMQ queues and the job names on them
Q_RECENTLY_PLAYED = "recently-played"
JOB_UPDATE_RECENTLY_PLAYED = "update_recently_played"
Q_NOTIFICATIONS = "notifications"
JOB_PUSH = "push"
JOB_EMAIL = "email"
Q_EMAIL = "email"
Q_REPORTS = "reports"
JOB_DAILY_REPORT = "daily_report"
DAILY_REPORT_SCHEDULER = "daily-report"
DAILY_REPORT_CRON = "0 0 2 * * *"  # 02:00 UTC every day (6 fields: seconds first)

# BullMQ priorities: 1 is the highest.  Release pushes beat mail; the report is background work.
PRIORITY_PUSH = 1
PRIORITY_EMAIL = 5
PRIORITY_REPORT = 10


def job_options(*, attempts: int = 5, backoff_ms: int = 1000, priority: int | None = None) -> dict[str, Any]:
    """Retries with exponential backoff, and bounded history so Redis does not grow forever."""
    opts: dict[str, Any] = {
        "attempts": attempts,
        "backoff": {"type": "exponential", "delay": backoff_ms},
        "removeOnComplete": {"count": 1000},
        "removeOnFail": {"count": 5000},
    }
    if priority is not None:
        opts["priority"] = priority
    return opts


# RabbitMQ (the exchanges are the API's: spotctl_sandbox.events.rabbit declares them for both sides)
X_RECOMMENDATIONS_ANY = RECOMMENDATIONS_ANY_EXCHANGE  # fanout behind `recommendations` (direct)
Q_RECOMMENDATION_REQUESTS = "recommendations.requests"
X_NOTIFICATIONS = NOTIFICATIONS_EXCHANGE  # fanout
X_DLX = "dlx"  # direct; routing key = the dead queue's name
Q_DELIVERY = "notifications.delivery"
Q_SEARCH_INDEXER = "notifications.search-indexer"
Q_CACHE_INVALIDATION = "notifications.cache-invalidation"
NOTIFICATION_QUEUES = (Q_DELIVERY, Q_SEARCH_INDEXER, Q_CACHE_INVALIDATION)

# Kafka (topic names: spotctl_sandbox.events.topics.Topic)
ANALYTICS_GROUP = "analytics"
ANALYTICS_TOPICS = (Topic.SONG_PLAYED.value, Topic.PLAYLIST_CREATED.value, Topic.SEARCH_PERFORMED.value)

# Redis
RECENT_MAX = 50  # recent:<user> keeps the 50 most recently played songs
RECS_TTL_S = 3600


def recent_key(user_id: str) -> str:
    return f"recent:{user_id}"


def recent_at_key(user_id: str) -> str:
    """song id -> its latest play time: what keeps recent:<user> ordered under concurrent jobs."""
    return f"recent-at:{user_id}"


def recs_key(user_id: str) -> str:
    return f"recs:{user_id}"


def song_key(song_id: str) -> str:
    return f"song:{song_id}"
