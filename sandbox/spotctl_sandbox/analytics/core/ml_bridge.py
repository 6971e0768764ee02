"""Live anomaly scoring through the ML service (`spotctl_sandbox.analytics.ml.service`).

The engine calls `score(tenant, features)` for every final minute. A detector that is not trained
yet, or a tenant it never saw, is an answer with a reason (shown by `/health` and on ML alerts),
never a crash of the stream. scikit-learn is imported on the first score, not at the engine's start.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Score:
    is_anomaly: bool
    score: float
    reasons: tuple[str, ...] = ()


class MlUnavailable(Exception):
    """No score: the ml service is missing or its model is not trained (the message says how to fix)."""


class MlBridge:
    def __init__(self) -> None:
        self.status = "not loaded"

    async def score(self, tenant: str, features: dict[str, Any]) -> Score:
        from spotctl_sandbox.analytics.ml.service import score_minute

        try:  # scikit-learn is CPU-bound: keep the event loop free
            answer = await asyncio.to_thread(score_minute, tenant, features)
        except Exception as exc:
            self.status = f"not scoring: {exc}"
            raise MlUnavailable(str(exc)) from exc
        self.status = "scoring"
        return Score(answer.is_anomaly, answer.anomaly_score, answer.reasons)
