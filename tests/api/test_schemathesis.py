"""Schemathesis over every operation of the API's own OpenAPI document, with its default checks
(no 5xx, statuses, content types, headers and bodies as documented, invalid data rejected, auth
enforced), against a live API process. Examples are bounded per operation so the run stays short.

The schema is the app's own (built at import, no server needed to collect one test per operation);
requests go to an API process of this module's own with rate limits out of the way (429 is
documented, but would only hide what the other checks look for).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from redis import Redis

from spotctl_sandbox.api.app import create_app
from spotctl_sandbox.api.config import ApiConfig
from spotctl_sandbox.common import tokens
from tests.api.conftest import SpawnedApi, launch_api, stop

pytestmark = [pytest.mark.stack]

schema = schemathesis.openapi.from_dict(create_app(ApiConfig.from_env()).openapi())
EXAMPLES = 10


@pytest.fixture(scope="module")
def fuzz_api(api_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[SpawnedApi]:
    api = asyncio.run(launch_api(api_env, tmp_path_factory.mktemp("schemathesis"),
                                 API_RATE_LIMIT_IP="1000000/minute", API_RATE_LIMIT_USER="1000000/minute",
                                 API_RPC_TIMEOUT_S="0.3", API_DEPENDENCY_TIMEOUT_S="1"))
    yield api
    stop(api.proc)


@pytest.fixture(scope="module")
def account(api_env: dict[str, str]) -> Iterator[tuple[Redis, str, str]]:
    """A user account (a row, so account routes answer 2xx) and a way to mint its tokens."""
    import psycopg

    with psycopg.connect(api_env["DATABASE_URL"], autocommit=True) as conn:
        row = conn.execute("INSERT INTO users (email, name, password_hash) VALUES (%s, 'fuzz', 'x') RETURNING id",
                           (f"fuzz-{uuid.uuid4().hex[:8]}@test.spotctl.dev",)).fetchone()
    assert row is not None
    redis = Redis.from_url(api_env["REDIS_URL"])
    yield redis, api_env["JWT_SECRET"], str(row[0])
    redis.close()


def bearer(account: tuple[Redis, str, str]) -> dict[str, str]:
    """A fresh token per case: logout (one of the operations) revokes the one it is sent with."""
    redis, secret, user_id = account
    token, claims = tokens.encode(secret, user_id, "fuzz", ttl_s=600)
    redis.set(tokens.session_key(claims.jti), user_id, ex=600)
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.usefixtures("seeded")
@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
def test_every_operation_holds_to_its_schema(case: Any, fuzz_api: SpawnedApi,
                                             account: tuple[Redis, str, str]) -> None:
    headers = None if case.headers and "Authorization" in case.headers else bearer(account)
    case.call_and_validate(base_url=fuzz_api.url, headers=headers, timeout=15)


def test_the_document_declares_bearer_auth_and_each_route_its_errors() -> None:
    document = create_app(ApiConfig.from_env()).openapi()
    scheme = document["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == ("http", "bearer", "JWT")
    assert document["components"]["schemas"]["ValidationErrorBody"]["properties"]["detail"]["type"] == "string"
    operations = [(path, method, op) for path, ops in document["paths"].items() for method, op in ops.items()]
    assert len(operations) >= 36
    for path, method, op in operations:
        codes = set(op["responses"])
        if path != "/health":
            assert {"422", "429", "503"} <= codes, (method, path)
        if op.get("security"):
            assert "401" in codes, (method, path)
        if "requestBody" in op:
            assert "413" in codes, (method, path)
    secured = {(p, m) for p, m, op in operations if {"bearerAuth": []} in op.get("security", [])}
    assert ("/api/releases", "post") in secured and ("/api/admin/audit", "get") in secured
    assert document["paths"]["/api/search"]["get"]["security"] == [{"bearerAuth": []}, {}]  # optional
