"""The TUI's I/O on the message brokers and job queues: RabbitMQ queues, Kafka topics and consumer
groups, BullMQ jobs. Blocking, run inside Textual thread workers, like data.py's.

Each call is the command's own (`spotctl rabbit|kafka|jobs`), through the same client, so a screen
shows what the command prints and an action does what it does, asked with the same question.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from spotctl.clients.kafka import KafkaClient
    from spotctl.inspect.kafka_view import Reset
    from spotctl.tui.data import Sources

PEEK = 20  # messages, records or jobs shown when a queue, topic or state is opened


# --- RabbitMQ --------------------------------------------------------------------------------------

def rabbit_queues(src: Sources) -> list[dict[str, Any]]:
    from spotctl.clients.rabbit import Management

    with Management(src.endpoints.rabbitmq_mgmt_url, src.endpoints.amqp_url) as api:
        return api.queues()


def rabbit_peek(src: Sources, queue: str, n: int = PEEK) -> tuple[int, list[dict[str, Any]]]:
    """`spotctl rabbit peek`: the first n messages, fetched and requeued (RabbitMQ has no true peek)."""
    from spotctl.clients.rabbit import Amqp

    with Amqp(src.endpoints.amqp_url) as rabbit:
        return rabbit.peek(queue, n)


def rabbit_purge_question(src: Sources, queue: str) -> str:
    from spotctl.clients.rabbit import Amqp
    from spotctl.inspect import questions

    with Amqp(src.endpoints.amqp_url) as rabbit:
        return questions.purge_queue(queue, rabbit.count(queue))


def rabbit_purge(src: Sources, queue: str) -> int:
    from spotctl.clients.rabbit import Amqp

    with Amqp(src.endpoints.amqp_url) as rabbit:
        return rabbit.purge(queue)


def rabbit_redrive_question(src: Sources, queue: str) -> str:
    """`spotctl rabbit redrive`'s question (the dead letters of `queue`, or of `queue` itself if a .dlq)."""
    from spotctl.clients.rabbit import Amqp
    from spotctl.errors import SpotctlError
    from spotctl.inspect import questions
    from spotctl.inspect.rabbit_view import dlq_name

    dlq = dlq_name(queue)
    with Amqp(src.endpoints.amqp_url) as rabbit:
        count = rabbit.count(dlq)
    if count == 0:
        raise SpotctlError(f"{dlq} is empty: nothing to re-drive")
    return questions.redrive(dlq, count)


def rabbit_redrive(src: Sources, queue: str) -> dict[str, int]:
    from spotctl.clients.rabbit import Amqp
    from spotctl.inspect.rabbit_view import dlq_name

    dlq = dlq_name(queue)
    with Amqp(src.endpoints.amqp_url) as rabbit:
        return dict(rabbit.redrive(dlq, rabbit.count(dlq)))


# --- Kafka -----------------------------------------------------------------------------------------

def _kafka(src: Sources, work: Callable[[KafkaClient], Any]) -> Any:
    from spotctl.clients.kafka import KafkaClient

    with KafkaClient(src.endpoints.kafka_bootstrap_servers) as kafka:
        return work(kafka)


def kafka_topics(src: Sources) -> list[dict[str, Any]]:
    """Topics with per-partition earliest/latest offsets (no group: nothing is committed)."""
    topics: list[dict[str, Any]] = _kafka(src, lambda kafka: kafka.topics())
    return topics


def kafka_tail(src: Sources, topic: str, n: int = PEEK) -> list[dict[str, Any]]:
    """`spotctl kafka tail TOPIC -n N`: the newest records, read without a group (nothing committed)."""
    from spotctl.inspect.kafka_view import TailPlan

    records: list[dict[str, Any]] = _kafka(src, lambda kafka: kafka.tail(topic, TailPlan.from_flags(
        False, None, n, False), None))
    return records


def kafka_groups(src: Sources) -> list[dict[str, Any]]:
    """`spotctl kafka groups`: state, members and lag per partition of every consumer group."""
    groups: list[dict[str, Any]] = _kafka(src, lambda kafka: kafka.groups())
    return groups


def kafka_reset_question(src: Sources, group: str, mode: Reset) -> str:
    """The reset's plan (refused while the group has members), worded as `kafka reset-offsets` asks."""
    from spotctl.inspect import questions

    moves: dict[Any, Any] = _kafka(src, lambda kafka: kafka.reset_plan(group, [], mode, None))
    return questions.reset_offsets(group, len(moves)) + " to the " + mode.value


def kafka_reset(src: Sources, group: str, mode: Reset) -> int:
    """Plan again (the group may have changed meanwhile) and commit; how many offsets moved."""
    def work(kafka: KafkaClient) -> int:
        moves = kafka.reset_plan(group, [], mode, None)
        kafka.commit_offsets(group, {tp: new for tp, (_, new) in moves.items()})
        return len(moves)

    moved: int = _kafka(src, work)
    return moved


# --- BullMQ ----------------------------------------------------------------------------------------

def job_counts(src: Sources) -> list[dict[str, Any]]:
    """Every queue (by its keys, plus the contract's) with counts per state, via the bullmq package."""
    from spotctl.clients import bullmq

    return bullmq.run(src.endpoints.cluster_or_redis_url, lambda jobs: jobs.overview())


def jobs_in(src: Sources, queue: str, state: str, n: int = PEEK) -> list[dict[str, Any]]:
    """`spotctl jobs list QUEUE --state S` (failed: with the reason)."""
    from spotctl.clients import bullmq

    return bullmq.run(src.endpoints.cluster_or_redis_url, lambda jobs: jobs.jobs(queue, state, n))


def jobs_retry_question(src: Sources, queue: str) -> str:
    from spotctl.clients import bullmq
    from spotctl.errors import SpotctlError
    from spotctl.inspect import questions

    count = bullmq.run(src.endpoints.cluster_or_redis_url, lambda jobs: jobs.counts(queue, ["failed"])).get("failed", 0)
    if count == 0:
        raise SpotctlError(f"no failed jobs in {queue}: nothing to retry")
    return questions.retry_jobs(queue, count)


def jobs_retry(src: Sources, queue: str, job_ids: Sequence[str] | None) -> list[str]:
    """`spotctl jobs retry QUEUE ID...` (or `--all` with None)."""
    from spotctl.clients import bullmq

    return bullmq.run(src.endpoints.cluster_or_redis_url, lambda jobs: jobs.retry(queue, job_ids))


def jobs_clean_question(src: Sources, queue: str, state: str) -> str:
    from spotctl.clients import bullmq
    from spotctl.inspect import questions

    count = bullmq.run(src.endpoints.cluster_or_redis_url, lambda jobs: jobs.counts(queue, [state])).get(state, 0)
    return questions.clean_jobs(queue, state, count, False)


def jobs_clean(src: Sources, queue: str, state: str) -> int:
    """`spotctl jobs clean QUEUE --state S` (every job in that state, no grace)."""
    from spotctl.clients import bullmq
    from spotctl.inspect.jobs_view import CleanState

    return bullmq.run(src.endpoints.cluster_or_redis_url, lambda jobs: jobs.clean(queue, CleanState(state), 0, 0))
