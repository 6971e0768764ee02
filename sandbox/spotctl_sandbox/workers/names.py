"""Names shared with the API and the CLI: queues, jobs, exchanges, topics, Redis keys.

One place, so a rename cannot leave a producer and its consumer talking past each other.
"""

from __future__ import annotations

from typing import Any

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


# RabbitMQ
X_RECOMMENDATIONS = "recommendations"  # direct; alternate-exchange -> recommendations.any
X_RECOMMENDATIONS_ANY = "recommendations.any"  # fanout
Q_RECOMMENDATION_REQUESTS = "recommendations.requests"
X_NOTIFICATIONS = "notifications"  # fanout
X_DLX = "dlx"  # direct; routing key = the dead queue's name
Q_DELIVERY = "notifications.delivery"
Q_SEARCH_INDEXER = "notifications.search-indexer"
Q_CACHE_INVALIDATION = "notifications.cache-invalidation"
NOTIFICATION_QUEUES = (Q_DELIVERY, Q_SEARCH_INDEXER, Q_CACHE_INVALIDATION)

# Kafka
T_SONG_PLAYED = "song_played"
T_PLAYLIST_CREATED = "playlist_created"
T_SEARCH_PERFORMED = "search_performed"
T_USER_REGISTERED = "user_registered"
ANALYTICS_GROUP = "analytics"
ANALYTICS_TOPICS = (T_SONG_PLAYED, T_PLAYLIST_CREATED, T_SEARCH_PERFORMED)

# Redis
RECENT_MAX = 50  # recent:<user> keeps the 50 most recently played songs
RECS_TTL_S = 3600
TRENDING = "trending:songs"


def recent_key(user_id: str) -> str:
    return f"recent:{user_id}"


def recent_at_key(user_id: str) -> str:
    """song id -> its latest play time: what keeps recent:<user> ordered under concurrent jobs."""
    return f"recent-at:{user_id}"


def recs_key(user_id: str) -> str:
    return f"recs:{user_id}"


def song_key(song_id: str) -> str:
    return f"song:{song_id}"
