"""The pure parts of runs spread over several machines: token shares, source addresses, --master."""

from __future__ import annotations

import pytest

from loadtests.config import RunConfig, token_share
from loadtests.run import plan_workers
from spotctl.commands.load import _host_port
from spotctl.errors import UsageError


def test_each_worker_gets_exactly_the_tokens_of_the_users_it_runs() -> None:
    tokens = [f"t{i}" for i in range(10)]
    shares = [token_share(tokens, index, 3) for index in range(3)]
    assert shares == [["t0", "t3", "t6", "t9"], ["t1", "t4", "t7"], ["t2", "t5", "t8"]]
    # user k of worker i is global user i + 3k (users.WsUser.global_index): its token is share[k]
    assert all(shares[i][k] == tokens[i + 3 * k] for i in range(3) for k in range(len(shares[i])))


def test_connections_bind_a_loopback_source_only_when_the_target_is_on_this_machine() -> None:
    assert RunConfig(url="ws://127.0.0.1:8765/ws", worker_index=2).source_address == "127.0.0.4"
    assert RunConfig(url="ws://hub.example.net/ws", worker_index=2).source_address == ""
    assert RunConfig(target="api", api_url="http://10.0.0.5:8000", url="ws://127.0.0.1/ws").source_address == ""


def test_with_remote_workers_only_the_local_workers_asked_for_start_here() -> None:
    assert plan_workers(50_000, remote=4) == 0
    assert plan_workers(50_000, requested=1, remote=4) == 1
    assert plan_workers(50_000) == 3


@pytest.mark.parametrize(("given", "parsed"), [
    ("10.0.0.5", ("10.0.0.5", 5557)), ("gen1:6000", ("gen1", 6000)), ("[fd00::2]:7000", ("fd00::2", 7000)),
    ("[fd00::2]", ("fd00::2", 5557))])
def test_master_addresses(given: str, parsed: tuple[str, int]) -> None:
    assert _host_port(given) == parsed


@pytest.mark.parametrize("given", ["", "host:", "host:x", "host:70000", "[fd00::2]:x"])
def test_a_bad_master_address_is_a_usage_error(given: str) -> None:
    with pytest.raises(UsageError, match="--master must be HOST or HOST:PORT"):
        _host_port(given)


def test_remote_workers_cannot_be_aimed_at_a_server_the_run_starts_on_loopback(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("load", "run", "connections", "--expect-workers", "2", "--hub", "own")
    assert result.returncode == 2
    assert "workers on other machines cannot reach a server this run starts on 127.0.0.1" in result.stderr
