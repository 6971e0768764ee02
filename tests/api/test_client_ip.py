"""Which address the per-IP rate limit counts: the peer, or X-Real-IP when the peer is the gateway."""

from __future__ import annotations

import pytest

from spotctl_sandbox.api.middleware import client_ip


@pytest.mark.parametrize(("peer", "header", "expected"), [
    ("8.8.4.4", None, "8.8.4.4"),
    ("8.8.4.4", "10.1.1.1", "8.8.4.4"),  # a public client cannot pick its own address
    ("127.0.0.1", "198.51.100.7", "198.51.100.7"),  # local runtime gateway
    ("172.18.0.5", "198.51.100.7", "198.51.100.7"),  # compose network gateway
    ("127.0.0.1", None, "127.0.0.1"),
])
def test_client_ip(peer: str, header: str | None, expected: str) -> None:
    headers = [(b"x-real-ip", header.encode())] if header else []
    assert client_ip({"type": "http", "client": (peer, 5555), "headers": headers}) == expected
