"""What to do with a RabbitMQ delivery once its handler has run (pure decision, no I/O).

A message that can never succeed (malformed, or one that crashed the handler twice) goes to its
dead-letter queue so the consumer keeps going; a message that failed because a dependency is down
goes back to the queue, because nothing acknowledged may be lost and it will succeed later.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Outcome(enum.Enum):
    HANDLED = "handled"
    MALFORMED = "malformed"  # the body cannot be parsed or lacks required fields
    DEPENDENCY_DOWN = "dependency-down"  # a store or broker we need did not answer
    CRASHED = "crashed"  # an unexpected error in the handler


class Disposition(enum.Enum):
    ACK = "ack"
    REQUEUE = "requeue"  # basic.nack(requeue=True): try again later
    DEAD_LETTER = "dead-letter"  # basic.reject(requeue=False): the queue's DLX routes it to <queue>.dlq


class MalformedMessage(ValueError):
    """The message can never be handled; the text says why (it is logged next to the DLQ move)."""


@dataclass(frozen=True)
class Decision:
    disposition: Disposition
    reason: str


def decide(outcome: Outcome, *, redelivered: bool, detail: str = "") -> Decision:
    """Map a handler outcome to an ack, a requeue or a dead-letter.

    A crash gets one more try (it may have been a transient fault we did not classify); a crash on a
    message that was already redelivered marks it as poison.
    """
    if outcome is Outcome.HANDLED:
        return Decision(Disposition.ACK, "handled")
    if outcome is Outcome.MALFORMED:
        return Decision(Disposition.DEAD_LETTER, f"malformed: {detail}")
    if outcome is Outcome.DEPENDENCY_DOWN:
        return Decision(Disposition.REQUEUE, f"dependency down, retry later: {detail}")
    if redelivered:
        return Decision(Disposition.DEAD_LETTER, f"poison (crashed twice): {detail}")
    return Decision(Disposition.REQUEUE, f"crashed once, one more try: {detail}")


