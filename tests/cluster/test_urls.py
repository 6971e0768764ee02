"""Which Redis a service uses, read from its environment: a cluster URL wins, a bad one is named."""

from __future__ import annotations

import pytest

from spotctl_sandbox.common import redisconn
from spotctl_sandbox.common.env import Env, EnvError
from spotctl_sandbox.common.settings import Settings


def test_a_cluster_url_wins_over_the_single_redis_and_an_empty_one_does_not() -> None:
    url = "redis+cluster://:s%40cret@10.0.0.1:7001,[::1]:7002"
    both = Settings.from_env(Env({"REDIS_URL": "redis://r:6379/0", "REDIS_CLUSTER_URL": url}))
    assert (both.cluster_or_redis_url, both.redis_url) == (url, "redis://r:6379/0")  # the others keep REDIS_URL
    assert Settings.from_env(Env({"REDIS_URL": "redis://r:6379/0", "REDIS_CLUSTER_URL": ""})).cluster_or_redis_url \
        == "redis://r:6379/0"
    target = redisconn.parse_cluster(url)
    assert (target.nodes, target.password, target.ssl) == ((("10.0.0.1", 7001), ("::1", 7002)), "s@cret", False)
    assert redisconn.limits_url(url) == "async+" + url


@pytest.mark.parametrize(("url", "says"), [
    ("redis+cluster://", "at least one node"),
    ("redis+cluster://host", "is not host:port"),
    ("redis+cluster://h:7001/3", "only database 0"),
])
def test_a_cluster_url_that_cannot_work_is_refused_naming_the_variable(url: str, says: str) -> None:
    with pytest.raises(EnvError) as refused:
        Settings.from_env(Env({"REDIS_CLUSTER_URL": url}))
    assert refused.value.name == "REDIS_CLUSTER_URL" and says in str(refused.value)
