"""Live anomaly scoring through the ml side's service (`spotctl_sandbox.analytics.ml.service`).

The engine calls `score(tenant, features)` for every final minute. The ml package is built by
another part of the team and may be absent, untrained or changed: each of those is an answer with
a reason (shown by `/health` and on ML alerts), never a crash of the stream.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

SERVICE_MODULE = "spotctl_sandbox.analytics.ml.service"


@dataclass(frozen=True)
class Score:
    is_anomaly: bool
    score: float
    reasons: tuple[str, ...] = ()


class MlUnavailable(Exception):
    """No score: the ml service is missing or its model is not trained (the message says how to fix)."""


def _as_score(answer: Any) -> Score:
    if isinstance(answer, tuple) and len(answer) >= 2:
        return Score(bool(answer[0]), float(answer[1]))
    if isinstance(answer, dict):
        return Score(bool(answer["is_anomaly"]), float(answer.get("anomaly_score", answer.get("score")) or 0.0),
                     tuple(answer.get("reasons", ())))
    if isinstance(answer, list) and answer:
        return _as_score(answer[0])
    score = getattr(answer, "anomaly_score", getattr(answer, "score", None))
    if score is None:
        raise MlUnavailable(f"ml service answered {type(answer).__name__}, not a score")
    return Score(bool(answer.is_anomaly), float(score), tuple(getattr(answer, "reasons", ())))


class MlBridge:
    def __init__(self) -> None:
        self.status = "not loaded"

    def _scorer(self) -> Any:
        try:
            module = importlib.import_module(SERVICE_MODULE)
        except ImportError as exc:
            self.status = f"ml service not installed ({exc.name or exc})"
            raise MlUnavailable(self.status) from exc
        scorer = getattr(module, "score_minute", None)
        if scorer is None:
            self.status = f"{SERVICE_MODULE} has no score_minute()"
            raise MlUnavailable(self.status)
        return scorer

    async def score(self, tenant: str, features: dict[str, Any]) -> Score:
        scorer = self._scorer()
        try:
            if inspect.iscoroutinefunction(scorer):
                answer = await scorer(tenant, features)
            else:  # scikit-learn is CPU-bound: keep the event loop free
                answer = await asyncio.to_thread(scorer, tenant, features)
        except Exception as exc:
            self.status = f"not scoring: {exc}"
            raise MlUnavailable(str(exc)) from exc
        self.status = "scoring"
        return _as_score(answer)
