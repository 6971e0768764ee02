"""Runs whose Locust workers join from other hosts: the master hands each worker its config and tokens.

A worker started with `spotctl load worker --master HOST` has no run of its own to read (no
SPOTCTL_LOAD_* environment, no tokens file): its locustfile comes from the master (Locust's `-f -`),
and once its `init` listeners are in place it asks the master (`spotctl_config?`, again every 2 s until
answered: a request sent before the master's own listeners exist is lost) for the run's RunConfig with
this worker's index and its share of the access tokens. Users wait for that answer before they start.
Workers started on the master's host take the same path, so every worker runs one code path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import gevent
from gevent.event import Event
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from .config import RunConfig, token_share

REQUEST, ANSWER = "spotctl_config?", "spotctl_config"
ASK_EVERY_S = 2.0
CONFIGURED = Event()  # set once this process knows the run's config (at once on the master)
Adopter = Callable[[RunConfig, list[str]], None]
_adopters: list[Adopter] = []


def on_config(adopter: Adopter) -> Adopter:
    """Register what a worker must update when the master's config arrives (module globals, class vars)."""
    _adopters.append(adopter)
    return adopter


def wait_configured(timeout_s: float = 120.0) -> None:
    """Block a user greenlet until the master's config is in (a worker's first users may be spawned first)."""
    if not CONFIGURED.wait(timeout_s):
        raise RuntimeError(f"no run config from the Locust master within {timeout_s:g} s")


def install(env: Environment, config: RunConfig) -> None:
    runner = env.runner
    if isinstance(runner, MasterRunner):
        tokens = Path(config.tokens_file).read_text().split() if config.tokens_file else []

        def answer(msg: Any, **_: Any) -> None:
            index = runner.get_worker_index(msg.node_id)
            mine = replace(config, worker_index=index, tokens_file="")
            runner.send_message(ANSWER, {"config": mine.to_env(),
                                         "tokens": token_share(tokens, index, config.workers)},
                                client_id=msg.node_id)

        runner.register_message(REQUEST, answer)
        CONFIGURED.set()
    elif isinstance(runner, WorkerRunner):
        def adopt(msg: Any, **_: Any) -> None:
            if CONFIGURED.is_set():
                return  # a second answer to a repeated request
            config = RunConfig.from_env(msg.data["config"])
            for adopter in _adopters:
                adopter(config, list(msg.data["tokens"]))
            CONFIGURED.set()

        def ask() -> None:
            while not CONFIGURED.is_set():
                runner.send_message(REQUEST)
                CONFIGURED.wait(ASK_EVERY_S)

        runner.register_message(ANSWER, adopt)
        gevent.spawn(ask)
    else:
        CONFIGURED.set()
