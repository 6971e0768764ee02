"""The dead-letter policy: poison to the DLQ, outages back to the queue."""

import pytest

from spotctl_sandbox.contract import dlq_name
from spotctl_sandbox.workers.dlq import Disposition, Outcome, decide


@pytest.mark.parametrize(
    ("outcome", "redelivered", "expected"),
    [
        (Outcome.HANDLED, False, Disposition.ACK),
        (Outcome.HANDLED, True, Disposition.ACK),
        (Outcome.MALFORMED, False, Disposition.DEAD_LETTER),
        (Outcome.DEPENDENCY_DOWN, False, Disposition.REQUEUE),
        (Outcome.DEPENDENCY_DOWN, True, Disposition.REQUEUE),
        (Outcome.CRASHED, False, Disposition.REQUEUE),
        (Outcome.CRASHED, True, Disposition.DEAD_LETTER),
    ],
)
def test_decision(outcome: Outcome, redelivered: bool, expected: Disposition) -> None:
    assert decide(outcome, redelivered=redelivered, detail="x").disposition is expected


def test_reason_carries_the_detail() -> None:
    assert "song_id missing" in decide(Outcome.MALFORMED, redelivered=False, detail="song_id missing").reason


def test_dlq_name() -> None:
    assert dlq_name("notifications.delivery") == "notifications.delivery.dlq"
