"""What an action that changes the stack asks first, with the count it would touch: one wording for the
CLI's `confirm()` and the TUI's confirm modal, so both ask the same thing about the same number."""

from __future__ import annotations

from collections.abc import Iterable


def delete_keys(existing: Iterable[tuple[str, str]]) -> str:
    """`existing`: (key, type) of the keys that exist."""
    return "delete " + ", ".join(f"{k} ({t})" for k, t in existing)


def purge_queue(queue: str, count: int) -> str:
    return f"purge {count} ready message(s) from RabbitMQ queue {queue!r}"


def redrive(dlq: str, count: int) -> str:
    return f"move {count} message(s) from {dlq} back to their queue"


def retry_jobs(queue: str, count: int) -> str:
    return f"retry {count} failed job(s) of BullMQ queue {queue!r}"


def clean_jobs(queue: str, state: str, count: int, bounded: bool) -> str:
    """`bounded`: a grace period or limit may leave some of the `count` in place."""
    return f"remove {'up to ' if bounded else ''}{count} {state} job(s) from BullMQ queue {queue!r}"


def purge_jobs(queue: str, count: int, obliterate: bool) -> str:
    what = "obliterate (every job, any state)" if obliterate else "drain the waiting, prioritized and delayed jobs of"
    return f"{what} BullMQ queue {queue!r}: {count} job(s)"


def reset_offsets(group: str, count: int) -> str:
    return f"move {count} committed offset(s) of group {group!r}"


def purge_topic(topic: str, records: int, partitions: int, recreate: bool) -> str:
    how = "delete and recreate" if recreate else "delete the records of"
    return f"{how} Kafka topic {topic!r} ({records} record(s) in {partitions} partition(s))"


def stop_service(service: str) -> str:
    return f"stop {service} (its clients will see it go away)"


def silence_alerts(matchers: str, duration: str) -> str:
    """`matchers` as the user reads them (`alertname=RedisDown, severity=critical`)."""
    return f"silence alerts matching {matchers} for {duration} (no notifications until then)"
