"""Shell completion of live values: services, scenarios, queues, topics, groups, load scenarios.

Typer calls these only while completing (never for `--help` or a run), and each imports what it needs
then. Names the stack always has (the compose file's services, the contract's queues and topics) are
offered at once; a store's own names are added when it answers within `LIVE_BUDGET_S`, so a stack that
is down costs a fraction of a second, never a hang.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Annotated, Any

import typer

LIVE_BUDGET_S = 0.5


def _matching(names: Iterable[str], incomplete: str) -> list[str]:
    return sorted({n for n in names if n.startswith(incomplete)})


def _live(read: Callable[[], Iterable[str]]) -> list[str]:
    """What `read` finds in a store, or nothing if it is down, slow or unconfigured."""
    try:
        return list(read())
    except Exception:  # completion never fails: whatever went wrong, offer what is known without it
        return []


def services(incomplete: str) -> list[str]:
    from spotctl import project
    from spotctl.stack import compose

    return _matching(_live(lambda: compose.load(project.current().compose_file).services), incomplete)


def scenarios(incomplete: str) -> list[str]:
    from spotctl.guide import catalog

    return _matching(_live(catalog.names), incomplete)


def load_scenarios(incomplete: str) -> list[str]:
    def read() -> list[str]:
        import importlib

        from spotctl.commands.load import _loadtests

        _loadtests()  # the project's loadtests/ on the path
        return list(importlib.import_module("loadtests.catalog").SCENARIOS)

    return _matching(_live(read), incomplete)


def bull_queues(incomplete: str) -> list[str]:
    from spotctl_sandbox import contract

    def read() -> list[str]:
        from spotctl.endpoints import redis_url
        from spotctl.inspect.jobs_view import queue_names
        from spotctl_sandbox.common import redisconn

        url = redis_url()
        prefix = contract.bull_prefix(redisconn.is_cluster_url(url))
        client = redisconn.connect(url, socket_timeout=LIVE_BUDGET_S, socket_connect_timeout=LIVE_BUDGET_S,
                                   decode_responses=True)
        try:
            return queue_names((k for suffix in ("meta", "id")
                                for k in client.scan_iter(match=f"{prefix}:*:{suffix}", count=1000)), prefix)
        finally:
            client.close()

    return _matching([*contract.BULL_QUEUES, *_live(read)], incomplete)


def rabbit_queues(incomplete: str) -> list[str]:
    from spotctl_sandbox import contract

    def read() -> list[str]:
        import httpx

        from spotctl.endpoints import resolve

        url = resolve().rabbitmq_mgmt_url
        resp = httpx.get(f"{url.rstrip('/')}/api/queues?columns=name", timeout=LIVE_BUDGET_S)
        return [str(q["name"]) for q in resp.json()]

    known = [contract.Q_RECOMMENDATION_REQUESTS, *contract.NOTIFICATION_QUEUES]
    return _matching([*known, *(contract.dlq_name(q) for q in known), *_live(read)], incomplete)


def _kafka(read: Callable[[Any], Iterable[str]]) -> list[str]:
    from spotctl.endpoints import port_open, resolve

    servers = resolve().kafka_bootstrap_servers
    if not servers or not port_open(servers, 9092, LIVE_BUDGET_S):
        return []
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(bootstrap_servers=servers, request_timeout_ms=int(LIVE_BUDGET_S * 2000),
                             api_version_auto_timeout_ms=int(LIVE_BUDGET_S * 1000))
    try:
        return list(read(consumer))
    finally:
        consumer.close()


def topics(incomplete: str) -> list[str]:
    from spotctl_sandbox import contract

    live = _live(lambda: _kafka(lambda consumer: consumer.topics()))
    return _matching([*(t.value for t in contract.Topic), *(t for t in live if not t.startswith("__"))], incomplete)


def groups(incomplete: str) -> list[str]:
    from spotctl_sandbox import contract

    def read() -> list[str]:
        from kafka import KafkaAdminClient

        from spotctl.endpoints import resolve

        admin = KafkaAdminClient(bootstrap_servers=resolve().kafka_bootstrap_servers,
                                 request_timeout_ms=int(LIVE_BUDGET_S * 2000))
        try:
            return [str(g[0] if isinstance(g, tuple) else g["group_id"]) for g in admin.list_groups()]
        finally:
            admin.close()

    return _matching([contract.ANALYTICS_GROUP, *_live(lambda: _kafka(lambda _: read()))], incomplete)


# Argument types the commands share: the help says what it is, completion offers the live names.
Service = Annotated[str, typer.Argument(help="A service of the compose file (see `spotctl ps`).",
                                        autocompletion=services, show_default=False)]
Services = Annotated[list[str] | None, typer.Argument(help="Services (default: all in the profile).",
                                                      autocompletion=services, show_default=False)]
ScenarioName = Annotated[str, typer.Argument(help="Scenario name (see `spotctl scenario list`).",
                                             autocompletion=scenarios, show_default=False)]
LoadScenario = Annotated[str, typer.Argument(help="connections | latency | chat | notifications | api",
                                             autocompletion=load_scenarios, show_default=False)]
BullQueue = Annotated[str, typer.Argument(metavar="QUEUE", help="A BullMQ queue (see `spotctl jobs queues`).",
                                          autocompletion=bull_queues, show_default=False)]
RabbitQueue = Annotated[str, typer.Argument(metavar="QUEUE", help="A RabbitMQ queue (see `spotctl rabbit "
                                            "queues`).", autocompletion=rabbit_queues, show_default=False)]
Topic = Annotated[str, typer.Argument(metavar="TOPIC", help="A Kafka topic (see `spotctl kafka topics`).",
                                      autocompletion=topics, show_default=False)]
Group = Annotated[str, typer.Argument(metavar="GROUP", help="A Kafka consumer group (see `spotctl kafka groups`).",
                                      autocompletion=groups, show_default=False)]
