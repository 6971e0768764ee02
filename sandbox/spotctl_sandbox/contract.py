"""The names producers and consumers agree on: BullMQ queues, jobs and their options, RabbitMQ
exchanges and queues, Kafka topics and groups, Redis keys.

Declared once, so a rename cannot leave a producer and its consumer talking past each other: the API,
the hub and the workers import them from here, and so does the CLI (which may import the sandbox; the
sandbox never imports the CLI). Plain values only: importing this costs nothing.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

# --- BullMQ ----------------------------------------------------------------------------------------
BULL_PREFIX = "bull"  # keys are bull:<queue>:...

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
BULL_QUEUES = (Q_RECENTLY_PLAYED, Q_NOTIFICATIONS, Q_EMAIL, Q_REPORTS)

# BullMQ priorities: 1 is the highest.  Release pushes beat mail; the report is background work.
PRIORITY_PUSH = 1
PRIORITY_EMAIL = 5
PRIORITY_REPORT = 10

# How much finished history a queue keeps, so Redis does not grow forever.
KEEP_COMPLETED = 1000
KEEP_FAILED = 5000


# Retries outlive a store restart: 8 attempts, exponential from 0.5 s, wait 0.5+1+...+32 = 63.5 s in all,
# twice the ~30 s a PostgreSQL or Redis restart may take, so an acknowledged play still lands.
RETRY_ATTEMPTS = 8
RETRY_BACKOFF_MS = 500


def retry_window_s(options: dict[str, Any]) -> float:
    """How long a job keeps being retried (sum of its backoff delays): what outage it survives."""
    backoff = options.get("backoff") or {}
    delay = float(backoff.get("delay", 0)) / 1000
    steps = int(options.get("attempts", 1)) - 1
    if backoff.get("type") == "exponential":
        return float(sum(delay * 2.0 ** i for i in range(steps)))
    return delay * steps


def job_options(*, attempts: int = RETRY_ATTEMPTS, backoff_ms: int | None = RETRY_BACKOFF_MS,
                priority: int | None = None) -> dict[str, Any]:
    """Options for every job the stack enqueues: retries (exponential backoff unless `backoff_ms` is
    None) and bounded history (`removeOnComplete`/`removeOnFail` as counts kept)."""
    opts: dict[str, Any] = {
        "attempts": attempts,
        "removeOnComplete": {"count": KEEP_COMPLETED},
        "removeOnFail": {"count": KEEP_FAILED},
    }
    if backoff_ms is not None:
        opts["backoff"] = {"type": "exponential", "delay": backoff_ms}
    if priority is not None:
        opts["priority"] = priority
    return opts


# --- RabbitMQ --------------------------------------------------------------------------------------
# The exchanges are declared by spotctl_sandbox.events.rabbit (API and workers alike), the queues and
# the dead-letter exchange by the workers.
RECOMMENDATIONS_EXCHANGE = "recommendations"  # direct, routing key user.<id>
RECOMMENDATIONS_ANY_EXCHANGE = "recommendations.any"  # fanout: its alternate exchange
NOTIFICATIONS_EXCHANGE = "notifications"  # fanout
X_RECOMMENDATIONS_ANY = RECOMMENDATIONS_ANY_EXCHANGE
X_NOTIFICATIONS = NOTIFICATIONS_EXCHANGE
Q_RECOMMENDATION_REQUESTS = "recommendations.requests"
X_DLX = "dlx"  # direct; routing key = the dead queue's name
DLQ_SUFFIX = ".dlq"
Q_DELIVERY = "notifications.delivery"
Q_SEARCH_INDEXER = "notifications.search-indexer"
Q_CACHE_INVALIDATION = "notifications.cache-invalidation"
NOTIFICATION_QUEUES = (Q_DELIVERY, Q_SEARCH_INDEXER, Q_CACHE_INVALIDATION)


def dlq_name(queue: str) -> str:
    """The dead-letter queue a queue's rejects land in (routing key = the queue's name on `dlx`)."""
    return queue if queue.endswith(DLQ_SUFFIX) else queue + DLQ_SUFFIX


# --- Kafka (values: JSON with `ts` and `event_id`, see spotctl_sandbox.events.topics) -----------------
class Topic(StrEnum):
    SONG_PLAYED = "song_played"              # {user_id, song_id, ts}
    PLAYLIST_CREATED = "playlist_created"    # {user_id, playlist_id, name, song_count, ts}
    SEARCH_PERFORMED = "search_performed"    # {user_id | null, query, results, cached, ts}
    USER_REGISTERED = "user_registered"      # {user_id, email, ts}


ANALYTICS_GROUP = "analytics"
ANALYTICS_TOPICS = (Topic.SONG_PLAYED.value, Topic.PLAYLIST_CREATED.value, Topic.SEARCH_PERFORMED.value)

# --- Redis -----------------------------------------------------------------------------------------
RECENT_MAX = 50  # recent:<user> keeps the 50 most recently played songs
RECS_TTL_S = 3600
TRENDING_KEY = "trending:songs"  # sorted set: plays per song
CACHE_HIT_KEY = "stats:cache:hit"  # counters the API bumps on its song cache
CACHE_MISS_KEY = "stats:cache:miss"
# BullMQ's key prefix: a queue's scripts touch many keys, which on a Redis Cluster must share a slot,
# hence the hash tag there (BullMQ's own advice); a single Redis keeps BullMQ's default
BULL_PREFIX, BULL_CLUSTER_PREFIX = "bull", "{bull}"


def bull_prefix(cluster: bool) -> str:
    return BULL_CLUSTER_PREFIX if cluster else BULL_PREFIX


def recent_key(user_id: str) -> str:
    return f"recent:{user_id}"


def recent_at_key(user_id: str) -> str:
    """song id -> its latest play time: what keeps recent:<user> ordered under concurrent jobs.
    Its hash tag is the list's name, so on a Redis Cluster both sit on one shard (one script)."""
    return f"recent-at:{{{recent_key(user_id)}}}"


def recs_key(user_id: str) -> str:
    return f"recs:{user_id}"


def song_key(song_id: str) -> str:
    return f"song:{song_id}"
